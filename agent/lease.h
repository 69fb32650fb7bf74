/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * lease.h - global rate limits (ratelimit.scope = global, DESIGN §3, §4).
 *
 * In global scope the kernel never refills a bucket: it admits while
 * granted_total - consumed_total > 0. Every ratelimit.lease_interval_ms the
 * agent looks at each (consumer, plan) bucket and, when what is left falls
 * under three quarters of its lease size, takes what is missing from the
 * cluster-wide bucket rl:{consumer}:{plan} in Redis (the Lua token bucket
 * in lease.c: capacity = burst, refill = rate_per_sec) and adds what it got
 * to granted_total through tg_bucket_op; the requests of one tick go to
 * Redis as one pipeline. The lease size follows the consumer's recent rate
 * on this host (four intervals' worth), between ratelimit.lease_min and
 * lease_max. The request path never waits on Redis: a consumer new to this
 * host is refused until its first lease, at most one interval later. On
 * shutdown the tokens leased and not used go back to the Redis bucket.
 */
#ifndef TG_AGENT_LEASE_H
#define TG_AGENT_LEASE_H

#include <stdint.h>

#include "agent/bpfload.h"
#include "lib/config.h"

struct lease_stats {
	uint64_t round_trips; /* EVALSHA calls */
	uint64_t granted;     /* tokens leased */
	uint64_t returned;    /* tokens given back at shutdown */
	uint64_t failures;
};

struct lease;

/* lease_new() - for cfg's redis.url and [ratelimit]; connects lazily. */
int lease_new(const struct config *cfg, struct bpfload *bl, struct lease **ret, char *err,
	      size_t err_len);

/* lease_tick() - lease what the buckets need; call often, it keeps its own
 * interval. Returns 0 or -errno when Redis is out of reach. */
int lease_tick(struct lease *l, uint64_t now_ms);

/* lease_return() - give the unused leased tokens back to Redis (shutdown,
 * once enforcement has ended). Returns the tokens given back, or -errno
 * when Redis could not take them (Redis refills them over time). */
long long lease_return(struct lease *l);

const struct lease_stats *lease_stats(const struct lease *l);

void lease_free(struct lease *l);

#endif /* TG_AGENT_LEASE_H */
