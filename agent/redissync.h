/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * redissync.h - keys, plans and routes from Redis into the kernel maps
 * (DESIGN §4, §8): a full sync (SCAN apikey:*, plan:*, route:*) at start,
 * every REDISSYNC_FULL_EVERY seconds and whenever the connection comes
 * back, and incremental updates from the channels tollgate:keys (message =
 * digest), tollgate:plans and tollgate:routes.
 *
 * Redis hashes: apikey:{digest} {key_id, consumer_id, plan_id, is_active,
 * suspended}; plan:{id} {api_id, rate_per_sec, burst, monthly_quota};
 * route:{id} {api_id, prefix, flags ("public", "deprecated", comma separated,
 * or the TG_ROUTE_* bits as a number)}. Plans and routes of the config file
 * stay; Redis adds to them and wins on the same id.
 *
 * While Redis is down, enforcement goes on from the maps as they are, and
 * the agent reconnects with backoff (1 s doubling to 30 s). A full sync that
 * finds no apikey:* at all while the map holds keys keeps them (a Redis that
 * restarted empty is a cache to rebuild, not a revocation of every key)
 * and leaves plans and routes as they are too, looking again every
 * REDISSYNC_EMPTY_RETRY seconds;
 * keys are revoked one by one (is_active 0) or deleted with their PUBLISH.
 */
#ifndef TG_AGENT_REDISSYNC_H
#define TG_AGENT_REDISSYNC_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "agent/bpfload.h"
#include "lib/config.h"
#include "lib/event.h"
#include "lib/keydigest.h"

#define REDISSYNC_FULL_EVERY 300
#define REDISSYNC_EMPTY_RETRY 5

struct redissync_stats {
	bool up;
	uint64_t full_syncs;
	uint64_t failures;	   /* connections or syncs that failed */
	uint64_t messages;	   /* pub/sub updates applied */
	uint64_t keys;		   /* in tg_keys after the last full sync */
	uint64_t empty_kept;	   /* full syncs that found no key and kept the maps */
	uint64_t usage_sent;	   /* INCRBY commands sent */
	uint64_t usage_dropped;	   /* counts dropped: the table was full while Redis was down */
	uint64_t quota_exhausted;  /* buckets flagged quota_exhausted now */
	uint64_t misses_found;	   /* unknown digests that Redis knew */
	uint64_t misses_negative;  /* negative entries installed */
	uint64_t misses_skipped;   /* beyond REDISSYNC_MISSES_PER_TICK */
	bool empty_kept_now;	   /* the last one did */
};

struct redissync;

/*
 * redissync_new() - parse redis.url ("redis://HOST[:PORT][/DB]") and keep
 * what the syncs need (not owned). Connects nothing yet. -EINVAL with the
 * reason in err for a bad URL.
 */
int redissync_new(const struct config *cfg, struct bpfload *bl, const struct key_secrets *secrets,
		  struct redissync **ret, char *err, size_t err_len);

/* redissync_tick() - connect when due (backoff) and run a full sync when due.
 * Returns 0, or -errno when Redis is (still) out of reach. */
int redissync_tick(struct redissync *rs, time_t now);

/* redissync_fd() - the subscriber connection's socket, -1 while down. */
int redissync_fd(const struct redissync *rs);

/* redissync_readable() - apply the pub/sub messages waiting on redissync_fd(). */
void redissync_readable(struct redissync *rs);

/*
 * redissync_note() - count an event into the real-time counters (DESIGN §4):
 * usage:{consumer}:{api}:{YYYYMMDD} (UTC day of the request) grows by the
 * count of every admitted event, and lastused:{key_id} holds the Unix time
 * of the key's latest request, stamped at most once a minute. Counts are
 * kept in memory and sent by redissync_tick() (pipelined INCRBY, 40-day
 * TTL); while Redis is down they accumulate. A usage_event * as void *, to
 * serve as a drain observer.
 */
void redissync_note(void *rs, const struct usage_event *ev);

/*
 * Monthly quotas (DESIGN §4): every REDISSYNC_QUOTA_EVERY seconds, for each
 * (consumer, plan) in tg_buckets whose plan has a monthly_quota, the month's
 * usage is summed from the usage:{consumer}:{api}:{day} counters of the
 * plan's API (every API for a plan of any); at or over the quota the bucket
 * gets TG_BUCKET_QUOTA_EXHAUSTED and a Retry-After up to the next month,
 * below it loses the flag, set and cleared in the kernel by tg_bucket_op
 * so that none of the kernel's own updates to the bucket is lost.
 */
#define REDISSYNC_QUOTA_EVERY 5

/*
 * The miss path: digests the kernel did not find (tg_misses) are looked up
 * at the next tick, at most REDISSYNC_MISSES_PER_TICK of them. Found: the key
 * is installed. Not found: a negative entry (TG_KEY_NEGATIVE) keeps the
 * kernel from asking again for REDISSYNC_NEGATIVE_TTL seconds; a PUBLISH of
 * the digest replaces it at once.
 */
#define REDISSYNC_MISSES_PER_TICK 100
#define REDISSYNC_NEGATIVE_TTL 10

/* redissync_resync() - run a full sync at the next tick (SIGHUP). */
void redissync_resync(struct redissync *rs);

const struct redissync_stats *redissync_stats(const struct redissync *rs);

void redissync_free(struct redissync *rs);

#endif /* TG_AGENT_REDISSYNC_H */
