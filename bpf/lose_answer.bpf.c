/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* lose_answer.bpf.c - a test's lossy link: on the client's veth, an XDP
 * program that drops the first in-kernel answer it sees (an IPv4 TCP
 * segment with FIN whose payload starts "HTTP/1.1 4") and passes every
 * other packet, as the no-op program does (test-gateway, a lost 429). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

__u32 lost; /* answers dropped: one at most */

SEC("xdp")
int tg_lose_answer(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct tcphdr *th;
	char *payload;

	if (lost || (void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(0x0800) ||
	    ip->protocol != 6 || ip->ihl != 5)
		return XDP_PASS;
	th = (void *)(ip + 1);
	if ((void *)(th + 1) > data_end || !th->fin)
		return XDP_PASS;
	payload = (char *)th + th->doff * 4;
	if ((void *)(payload + 10) > data_end)
		return XDP_PASS;
#pragma unroll
	for (int i = 0; i < 10; i++)
		if (payload[i] != "HTTP/1.1 4"[i])
			return XDP_PASS;
	lost = 1;
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
