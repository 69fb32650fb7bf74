/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * noop_msg.bpf.c - what metering responses with sk_msg costs before any
 * program of ours runs: a sock_ops program that puts each connection
 * accepted on one port (noop_msg_port[0], host order) into a sockhash, as
 * tg_sockops does for API ports, and an sk_msg program on that sockhash
 * that passes every message, as tg_skmsg does when it has nothing to do.
 * bench-peers' "noop_msg" contender runs them beside the no-op XDP program
 * (noop.bpf.o): its ratios to "noop" are what the kernel's sk_msg path
 * alone takes from the API server (DESIGN §3 puts tg_skmsg there).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} noop_msg_port SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} noop_sockhash SEC(".maps");

SEC("sockops")
int noop_sockops(struct bpf_sock_ops *skops)
{
	__u32 zero = 0, *port;
	__u64 cookie;

	if (skops->op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return 1;
	port = bpf_map_lookup_elem(&noop_msg_port, &zero);
	if (!port || skops->local_port != *port)
		return 1;
	cookie = bpf_get_socket_cookie(skops);
	bpf_sock_hash_update(skops, &noop_sockhash, &cookie, BPF_ANY);
	return 1;
}

SEC("sk_msg")
int noop_skmsg(struct sk_msg_md *msg)
{
	return SK_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
