/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * outbox.h - changes for Redis, queued in the outbox table (005) inside the
 * transaction of the change they announce (DESIGN §7); relay.h applies them.
 * Payloads (ids as JSON numbers, as billing writes them):
 *
 *   key    {"digest", "key_id", "consumer_id", "plan_id", "is_active", "suspended"}
 *   plan   {"id", "api_id" (0 = any), "rate_per_sec" (decimal text), "burst",
 *           "monthly_quota"}
 *   route  {"id", "api_id", "prefix", "flags" ("public,deprecated")}
 *
 * Each reads the row as the transaction sees it now, so call it after the
 * change. Each returns the number of rows queued (0 when the object does not
 * exist) or -EIO.
 */
#ifndef TG_API_OUTBOX_H
#define TG_API_OUTBOX_H

#include "dashboard-api/request.h"

#define OUTBOX_CHANNEL "tollgate_outbox" /* NOTIFYed by a trigger on every insert (006) */

int outbox_queue_key(struct request *req, const char *key_id);
int outbox_queue_plan(struct request *req, const char *plan_id);
/* every route of the API @api_id */
int outbox_queue_routes(struct request *req, const char *api_id);

/*
 * outbox_expire_keys() - revoke the keys whose rotation grace period is over
 * (revoked_at = expires_at), queue them with is_active false and audit it,
 * in one statement on @c. The count, or -EIO.
 */
int outbox_expire_keys(PGconn *c);

/* The payloads as SQL expressions over api_keys k JOIN consumers c, plans p, routes r. */
#define OUTBOX_KEY_PAYLOAD(active)                                                             \
	"jsonb_build_object('digest', k.digest, 'key_id', k.id, 'consumer_id', k.consumer_id,"  \
	" 'plan_id', k.plan_id, 'is_active', " active ", 'suspended', c.suspended)"
#define OUTBOX_KEY_ACTIVE                                                                          \
	"(k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now()))"
#define OUTBOX_PLAN_PAYLOAD                                                                    \
	"jsonb_build_object('id', p.id, 'api_id', coalesce(p.api_id, 0), 'rate_per_sec',"      \
	" trim_scale(p.rate_per_sec)::text, 'burst', p.burst, 'monthly_quota', p.monthly_quota)"
#define OUTBOX_ROUTE_PAYLOAD                                                                   \
	"jsonb_build_object('id', r.id, 'api_id', r.api_id, 'prefix', r.prefix, 'flags',"       \
	" concat_ws(',', CASE WHEN r.public THEN 'public' END,"                                 \
	" CASE WHEN r.deprecated THEN 'deprecated' END))"

#endif /* TG_API_OUTBOX_H */
