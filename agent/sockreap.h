/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sockreap.h - free the server sockets of refused connections whose client
 * went silent.
 *
 * tg_xdp answers a refused request itself and frees the server's socket with
 * a RST it makes of the client's next segment (DESIGN §3). A client that
 * sends nothing more (gone, or one that ignores the answer) would leave that
 * socket open, accepted by the API server and idle, until the server's own
 * timeouts: one held socket (or thread) per refusal. Once a second the agent
 * walks tg_rejects, and for an entry still not reset SOCKREAP_AFTER_NS after
 * its answer it destroys the server's socket (SOCK_DESTROY through
 * inet_diag, as `ss -K` does: the server's reads fail with ECONNABORTED) and
 * marks the entry reset, so that XDP answers the client's later segments in
 * the server's place. Only a socket found by the connection's exact tuple in
 * the agent's network namespace, and not a listener, is destroyed.
 */
#ifndef TG_AGENT_SOCKREAP_H
#define TG_AGENT_SOCKREAP_H

#include <stdint.h>

/* the client's retransmissions of a lost answer's request are over by then */
#define SOCKREAP_AFTER_NS (10ULL * 1000000000ULL)
/* at most this many sockets a tick: a flood of silent clients is freed over
 * a few ticks rather than in one long stall of the agent's loop */
#define SOCKREAP_MAX_TICK 4096

struct sockreap;

struct sockreap_stats {
	uint64_t destroyed; /* server sockets destroyed */
	uint64_t gone;	    /* entries whose socket was gone already */
	uint64_t failures;  /* SOCK_DESTROY refused (other than gone) */
};

/* sockreap_open() - a NETLINK_SOCK_DIAG socket for tg_rejects' map @rejects_fd
 * (entries live @ttl_ns after their answer). 0 or -errno. */
int sockreap_open(int rejects_fd, uint64_t ttl_ns, struct sockreap **ret);

/* sockreap_tick() - one walk (see above) at CLOCK_MONOTONIC @now_ns. Returns
 * the number of sockets destroyed, or -errno where the walk failed. */
int sockreap_tick(struct sockreap *r, uint64_t now_ns);

const struct sockreap_stats *sockreap_stats(const struct sockreap *r);

void sockreap_free(struct sockreap *r);

#endif
