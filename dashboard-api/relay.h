/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * relay.h - the outbox relay and the Redis rebuild (DESIGN §7, §8).
 *
 * The relay is a thread of tollgate-api. It applies the unapplied outbox
 * rows (outbox.h) to Redis in id order - HSET of the fields the payload
 * has, so billing's partial 'key' rows ({digest, suspended, ...}) change only
 * what they name - PUBLISHes the digest or id on tollgate:keys,
 * tollgate:plans or tollgate:routes, and sets applied_at. A row Redis could
 * not take is retried with backoff (RELAY_BACKOFF_MIN_MS doubling to
 * RELAY_BACKOFF_MAX_MS) until Redis is back; nothing is skipped. It wakes on
 * the NOTIFY that every outbox insert sends (006) and polls every second.
 * One relay pass at a time per database (an advisory lock held for the
 * pass), so several tollgate-api instances keep the order, and a rebuild
 * waits for the pass in progress and holds the relays off while it runs. The same thread revokes
 * keys whose rotation grace period is over and expires old Idempotency-Key
 * records.
 *
 * relay_sync_redis() rebuilds apikey:*, plan:* and route:* from Postgres
 * (`tollgate-api sync-redis`): every hash is rewritten whole, hashes
 * Postgres does not know are deleted, every name is PUBLISHed, and the
 * outbox rows the snapshot already covers are marked applied.
 */
#ifndef TG_API_RELAY_H
#define TG_API_RELAY_H

#include "dashboard-api/request.h"

#define RELAY_BACKOFF_MIN_MS 250
#define RELAY_BACKOFF_MAX_MS 5000
#define RELAY_BATCH 200
#define RELAY_LOCK_KEY 7746501 /* advisory lock: "the outbox relay" */

struct relay;

/* relay_start() - start the relay thread (@ctx must outlive it). 0 or -errno. */
int relay_start(struct api_ctx *ctx, struct relay **ret);

/* relay_stop() - stop it and wait for it. NULL is fine. */
void relay_stop(struct relay *r);

/* relay_sync_redis() - the rebuild described above. 0 or -errno (logged). */
int relay_sync_redis(struct api_ctx *ctx);

#endif /* TG_API_RELAY_H */
