/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * bench_state.bpf.c - state changes the per-packet benchmark makes between
 * its test runs, in place, as the data plane makes them (bench-xdp-cost).
 *
 * A kept-alive connection's flow stays where it is in tg_flows while its
 * responses go by; rewriting it from userspace would put a freshly
 * allocated element in its place every sample, which no connection sees.
 * Its tg_flows is the benchmark's (bpf_map__reuse_fd()).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "tollgate_abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1); /* set to the reused map's before load */
	__type(key, struct tg_flow_key);
	__type(value, struct tg_flow);
} tg_flows SEC(".maps");

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

char LICENSE[] SEC("license") = "Dual BSD/GPL";
