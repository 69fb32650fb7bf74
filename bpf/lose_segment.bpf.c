/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* lose_segment.bpf.c - a test's lossy link the other way: on the client's
 * veth, a tc egress program that loses every IPv4 TCP segment whose
 * payload starts "LOSE", and every segment without payload from local port
 * SILENT_PORT sent where its last data ended, and passes every other packet.
 * So those bytes never reach the host (test-gateway: body bytes lost ahead
 * of a refused request), and a client on SILENT_PORT goes silent after its
 * request: its handshake and its data arrive, its ACKs and FIN after them
 * do not. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define TC_ACT_OK 0
/* consumed as sent: TCP takes it for gone out, as on a lossy link (a drop,
 * TC_ACT_SHOT, fails the send, and TCP sends nothing behind it) */
#define TC_ACT_STOLEN 4
#define SILENT_PORT 61001

__u32 silent_from; /* where the last data sent from SILENT_PORT ended */

SEC("tc")
int tg_lose_segment(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct tcphdr *th;
	char first[4];

	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(0x0800) ||
	    ip->protocol != 6 || ip->ihl != 5)
		return TC_ACT_OK;
	th = (void *)(ip + 1);
	if ((void *)(th + 1) > data_end)
		return TC_ACT_OK;
	if (th->source == bpf_htons(SILENT_PORT) && !th->syn) {
		__u32 len = bpf_ntohs(ip->tot_len) - sizeof(*ip) - th->doff * 4;
		__u32 seq = bpf_ntohl(th->seq);

		if (len && len < 0x10000) {
			silent_from = seq + len;
			return TC_ACT_OK;
		}
		if (silent_from && seq == silent_from)
			return TC_ACT_STOLEN;
	}
	/* a sent segment's payload is in pages, past data_end: copied */
	if (bpf_skb_load_bytes(skb, sizeof(*eth) + sizeof(*ip) + th->doff * 4, first, 4))
		return TC_ACT_OK;
	return first[0] == 'L' && first[1] == 'O' && first[2] == 'S' && first[3] == 'E' ?
		       TC_ACT_STOLEN :
		       TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
