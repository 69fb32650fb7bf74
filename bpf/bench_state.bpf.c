/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * bench_state.bpf.c - state changes the per-packet benchmark makes between
 * its test runs, in place, as the data plane makes them (bench-xdp-cost).
 *
 * A kept-alive connection's flow stays where it is in tg_flows while its
 * responses go by; rewriting it from userspace would put a freshly
 * allocated element in its place every sample, which no connection sees.
 * Its tg_flows is the benchmark's (bpf_map__reuse_fd()).
 *
 * bench_floor() makes the lookups, the clock read, the lock and the copy
 * that an admitted request needs whatever tg_xdp does around them (DESIGN
 * §3's maps and token bucket), each alone or all together, on the
 * benchmark's maps and its kept-alive request's keys: what they cost on
 * this machine, against which tg_xdp's figures read.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "tollgate_abi.h"
#include "bench_floor.h"

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1); /* set to the reused map's before load */
	__type(key, struct tg_flow_key);
	__type(value, struct tg_flow);
} tg_flows SEC(".maps");

/* tollgate.bpf.c's, reused as tg_flows is (their sizes set before load) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, struct tg_bucket_key);
	__type(value, struct tg_bucket);
} tg_buckets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, struct tg_counter_key);
	__type(value, struct tg_counters);
} tg_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct tg_route_key);
	__type(value, struct tg_route);
} tg_routes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_floor_cfg);
} bench_floor_cfg SEC(".maps");

struct bench_floor_buf {
	__u8 bytes[TG_SCAN_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_floor_buf);
} bench_floor_buf SEC(".maps");

/* The flow of *fk had its requests answered (what tg_skmsg does as each
 * response ends: head moves up to tail), and its next request starts a new
 * sequence range. Returns 0, or 1 when there is no such flow. */
SEC("syscall")
int bench_flow_answered(struct tg_flow_key *fk)
{
	struct tg_flow_key key = *fk;
	struct tg_flow *f = bpf_map_lookup_elem(&tg_flows, &key);

	if (!f)
		return 1;
	f->head = f->tail;
	f->next_seq = 0;
	return 0;
}

/* bench_flow_chunked()'s argument */
struct bench_chunked {
	struct tg_flow_key fk;
	__u32 seq;
	__u32 chunked;
};

/* The flow of c->fk had its requests answered and is sure that a request
 * starts at c->seq; with c->chunked, that tg_xdp follows a chunked body
 * whose next size line starts there instead (TG_FLOW_CHUNKED). Returns 0,
 * or 1 when there is no such flow. */
SEC("syscall")
int bench_flow_chunked(struct bench_chunked *c)
{
	struct tg_flow_key key = c->fk;
	struct tg_flow *f = bpf_map_lookup_elem(&tg_flows, &key);
	__u32 keep = ~(TG_FLOW_UNSURE | TG_FLOW_BODY_OPEN | TG_FLOW_CHUNKED | TG_FLOW_CHUNK_FREE |
		       TG_FLOW_CHUNK_SEEN);

	if (!f)
		return 1;
	f->head = f->tail;
	f->next_seq = c->seq;
	f->chunk_end = c->seq;
	f->chunk_state = TG_CHUNK_LINE;
	f->flags = (f->flags & keep) | TG_FLOW_SEQ |
		   (c->chunked ? TG_FLOW_CHUNKED | TG_FLOW_CHUNK_SEEN : 0);
	return 0;
}

/* The steps of bench_floor_cfg.what, in tg_xdp's order, on its keys (copied
 * to the stack, as tg_xdp's are there or in its scratch). XDP_PASS, or
 * XDP_ABORTED where an entry is missing (the bench then says so). */
SEC("xdp")
int bench_floor(struct xdp_md *ctx)
{
	struct bench_floor_cfg *c;
	struct bench_floor_buf *buf;
	struct tg_counters *ct;
	struct tg_bucket *b;
	__u32 zero = 0, what, len;
	__u64 now = 0;

	c = bpf_map_lookup_elem(&bench_floor_cfg, &zero);
	buf = bpf_map_lookup_elem(&bench_floor_buf, &zero);
	if (!c || !buf)
		return XDP_ABORTED;
	what = c->what;
	if (what & BENCH_FLOOR_COPY) {
		len = c->copy_len;
		if (len > TG_SCAN_MAX)
			len = TG_SCAN_MAX;
		if (!len || bpf_xdp_load_bytes(ctx, c->copy_off, buf->bytes, len))
			return XDP_ABORTED;
	}
	if (what & BENCH_FLOOR_CLOCK)
		now = bpf_ktime_get_ns();
	if (what & BENCH_FLOOR_FLOW) {
		struct tg_flow_key fk = c->fk;

		if (!bpf_map_lookup_elem(&tg_flows, &fk))
			return XDP_ABORTED;
	}
	if (what & BENCH_FLOOR_ROUTE) {
		if (!bpf_map_lookup_elem(&tg_routes, &c->rk))
			return XDP_ABORTED;
	}
	if (what & (BENCH_FLOOR_BUCKET | BENCH_FLOOR_LOCK)) {
		struct tg_bucket_key bk = c->bk;

		b = bpf_map_lookup_elem(&tg_buckets, &bk);
		if (!b)
			return XDP_ABORTED;
		if (what & BENCH_FLOOR_LOCK) {
			/* the clock read under it, as tg_bucket_take's refill
			 * reads it; adds 0 (c->zero is), which the compiler
			 * cannot know */
			bpf_spin_lock(&b->lock);
			b->consumed_total += now & c->zero;
			bpf_spin_unlock(&b->lock);
		}
	}
	if (what & BENCH_FLOOR_COUNTERS) {
		struct tg_counter_key ck = c->ck;

		ct = bpf_map_lookup_elem(&tg_counters, &ck);
		if (!ct)
			return XDP_ABORTED;
		__sync_fetch_and_add(&ct->bytes_in, c->zero);
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
