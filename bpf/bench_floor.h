/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * bench_floor.h - what bench_state.bpf.c's bench_floor() does, as
 * bench-xdp-cost tells it: the steps an admitted request needs whatever
 * tg_xdp does around them, and the keys it looks up.
 */
#ifndef TG_BENCH_FLOOR_H
#define TG_BENCH_FLOOR_H

/* bench_floor()'s steps (bench_floor_cfg.what) */
#define BENCH_FLOOR_COPY (1U << 0)     /* bpf_xdp_load_bytes() of the request */
#define BENCH_FLOOR_CLOCK (1U << 1)    /* bpf_ktime_get_ns() */
#define BENCH_FLOOR_FLOW (1U << 2)     /* the tg_flows lookup */
#define BENCH_FLOOR_ROUTE (1U << 3)    /* the tg_routes lookup */
#define BENCH_FLOOR_BUCKET (1U << 4)   /* the tg_buckets lookup */
#define BENCH_FLOOR_LOCK (1U << 5)     /* its bpf_spin_lock taken and released */
#define BENCH_FLOOR_COUNTERS (1U << 6) /* the tg_counters lookup, an atomic add */

struct bench_floor_cfg {
	struct tg_flow_key fk;
	struct tg_bucket_key bk;
	struct tg_counter_key ck;
	struct tg_route_key rk;
	__u32 what;
	__u32 copy_off; /* the request's offset in the frame */
	__u32 copy_len;
	__u32 zero; /* added under the lock and to the counters: changes nothing */
};

#endif /* TG_BENCH_FLOOR_H */
