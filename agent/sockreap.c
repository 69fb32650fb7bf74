/* SPDX-License-Identifier: BSD-2-Clause */
/* sockreap.c - free the server sockets of refused connections whose client
 * went silent (see sockreap.h). */
#include "agent/sockreap.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <bpf/bpf.h>

#include "agent/mapwalk.h"
#include "bpf/tollgate_abi.h"

struct sockreap {
	int nl;
	int rejects_fd;
	uint64_t ttl_ns;
	uint32_t seq;
	struct sockreap_stats stats;
	struct tg_flow_key *due; /* this tick's entries to free */
	size_t n_due;
	uint64_t now_ns;
};

int sockreap_open(int rejects_fd, uint64_t ttl_ns, struct sockreap **ret)
{
	struct sockreap *r = calloc(1, sizeof(*r));
	struct timeval tv = { .tv_sec = 1 };

	if (!r)
		return -ENOMEM;
	r->due = calloc(SOCKREAP_MAX_TICK, sizeof(*r->due));
	r->nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (!r->due || r->nl < 0) {
		int err = r->due ? -errno : -ENOMEM;

		sockreap_free(r);
		return err;
	}
	/* the kernel answers at once; never wait long on it */
	setsockopt(r->nl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	r->rejects_fd = rejects_fd;
	r->ttl_ns = ttl_ns;
	*ret = r;
	return 0;
}

void sockreap_free(struct sockreap *r)
{
	if (!r)
		return;
	if (r->nl >= 0)
		close(r->nl);
	free(r->due);
	free(r);
}

const struct sockreap_stats *sockreap_stats(const struct sockreap *r)
{
	return &r->stats;
}

static bool v4mapped(const __u8 *a)
{
	static const __u8 prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return memcmp(a, prefix, sizeof(prefix)) == 0;
}

/* The request for the server's socket of flow @fk: seen from the server,
 * src is its own address and dst the client's. */
static void diag_req(const struct tg_flow_key *fk, struct inet_diag_req_v2 *req)
{
	memset(req, 0, sizeof(*req));
	req->sdiag_protocol = IPPROTO_TCP;
	req->idiag_states = ~0U;
	req->id.idiag_sport = fk->server_port;
	req->id.idiag_dport = fk->client_port;
	if (v4mapped(fk->server_addr) && v4mapped(fk->client_addr)) {
		/* also finds a dual-stack socket's IPv4 connection */
		req->sdiag_family = AF_INET;
		memcpy(&req->id.idiag_src[0], fk->server_addr + 12, 4);
		memcpy(&req->id.idiag_dst[0], fk->client_addr + 12, 4);
	} else {
		req->sdiag_family = AF_INET6;
		memcpy(req->id.idiag_src, fk->server_addr, 16);
		memcpy(req->id.idiag_dst, fk->client_addr, 16);
	}
	req->id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	req->id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
}

/* Send @req as @type and read the answer: for SOCK_DIAG_BY_FAMILY the
 * socket's inet_diag_msg into @ret_msg; for SOCK_DESTROY the ack. 0 or
 * -errno (-ENOENT: no such socket). */
static int diag_call(struct sockreap *r, __u16 type, const struct inet_diag_req_v2 *req,
		     struct inet_diag_msg *ret_msg)
{
	struct {
		struct nlmsghdr nh;
		struct inet_diag_req_v2 req;
	} msg = {
		.nh = {
			.nlmsg_len = sizeof(msg),
			.nlmsg_type = type,
			.nlmsg_flags = NLM_F_REQUEST | (type == SOCK_DESTROY ? NLM_F_ACK : 0),
			.nlmsg_seq = ++r->seq,
		},
		.req = *req,
	};
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	union {
		struct nlmsghdr nh;
		char bytes[8192];
	} buf;
	ssize_t n;

	if (sendto(r->nl, &msg, sizeof(msg), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	for (;;) {
		n = recv(r->nl, &buf, sizeof(buf), 0);
		if (n < 0)
			return -errno;
		for (struct nlmsghdr *nh = &buf.nh; NLMSG_OK(nh, (size_t)n); nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_seq != r->seq)
				continue; /* a late answer to an earlier call */
			if (nh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(nh);

				return e->error;
			}
			if (nh->nlmsg_type == SOCK_DIAG_BY_FAMILY && ret_msg &&
			    nh->nlmsg_len >= NLMSG_LENGTH(sizeof(*ret_msg))) {
				memcpy(ret_msg, NLMSG_DATA(nh), sizeof(*ret_msg));
				return 0;
			}
		}
	}
}

/* Destroy the server's socket of @fk: looked up first, so that only that
 * connection's socket goes (a lookup by tuple falls back to the listener),
 * then destroyed by its cookie. 0, -ENOENT (gone) or -errno. */
static int destroy_server_socket(struct sockreap *r, const struct tg_flow_key *fk)
{
	struct inet_diag_req_v2 req;
	struct inet_diag_msg found;
	int err;

	diag_req(fk, &req);
	err = diag_call(r, SOCK_DIAG_BY_FAMILY, &req, &found);
	if (err)
		return err;
	if (found.idiag_state == TCP_LISTEN || found.id.idiag_dport != fk->client_port)
		return -ENOENT;
	req.id.idiag_cookie[0] = found.id.idiag_cookie[0];
	req.id.idiag_cookie[1] = found.id.idiag_cookie[1];
	return diag_call(r, SOCK_DESTROY, &req, NULL);
}

static int collect_due(void *ctx, const void *key, const void *value)
{
	struct sockreap *r = ctx;
	const struct tg_reject *rj = value;
	uint64_t answered = rj->expires_ns - r->ttl_ns;

	/* (an entry answered "later" than now was not written by XDP) */
	if (rj->flags & TG_REJECT_RESET || rj->expires_ns <= r->now_ns ||
	    answered > r->now_ns || r->now_ns - answered < SOCKREAP_AFTER_NS)
		return 0;
	memcpy(&r->due[r->n_due++], key, sizeof(*r->due));
	return r->n_due == SOCKREAP_MAX_TICK; /* the rest next tick */
}

/* Mark @fk's entry reset, unless XDP changed it since the walk read it. */
static void mark_reset(struct sockreap *r, const struct tg_flow_key *fk)
{
	struct tg_reject rj;

	if (bpf_map_lookup_elem(r->rejects_fd, fk, &rj) || (rj.flags & TG_REJECT_RESET))
		return;
	rj.flags |= TG_REJECT_RESET;
	bpf_map_update_elem(r->rejects_fd, fk, &rj, BPF_EXIST);
}

int sockreap_tick(struct sockreap *r, uint64_t now_ns)
{
	int err, destroyed = 0;

	r->now_ns = now_ns;
	r->n_due = 0;
	err = mapwalk(r->rejects_fd, sizeof(struct tg_flow_key), sizeof(struct tg_reject), 0,
		      collect_due, r);
	if (err < 0)
		return err;
	for (size_t i = 0; i < r->n_due; i++) {
		err = destroy_server_socket(r, &r->due[i]);
		if (!err) {
			r->stats.destroyed++;
			destroyed++;
		} else if (err == -ENOENT) {
			r->stats.gone++;
		} else {
			r->stats.failures++;
			continue; /* tried again next tick */
		}
		mark_reset(r, &r->due[i]);
	}
	return destroyed;
}
