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

char LICENSE[] SEC("license") = "Dual BSD/GPL";
