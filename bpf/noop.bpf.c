/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* noop.bpf.c - an XDP program that passes every packet: the baseline that
 * benchmarks subtract from tg_xdp's cost (DESIGN §10). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("xdp")
int tg_noop(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
