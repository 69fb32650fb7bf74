/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * deprecation.h - notices to consumers still calling a deprecated API
 * (DESIGN §6 "Deprecation"), at most one per consumer, API and week.
 *
 * A consumer gets a notice for an API when the API's deprecated_at is at or
 * before now and the consumer made at least billing.deprecation_threshold
 * admitted requests (verdict 0, summary counts included) to it in the last
 * DEPRECATION_LOOKBACK_DAYS days: the hour rollups whose hour starts in
 * [now - 7 days, now). Hour rows, not minute rows: they are kept 13 months
 * whatever billing.minute_retention is, and a week of them is 60 times fewer
 * rows. Consumers unknown to the catalog get none (nobody to tell). APIs past
 * their sunset_at still count: their callers need the notice most.
 *
 * A notice is a notices row (consumer_id, api_id, week = the Monday, UTC, of
 * now's ISO week, requests, created_at = now), inserted with ON CONFLICT DO
 * NOTHING on (consumer_id, api_id, week): calling again in the same week
 * changes nothing, and the next week brings one new notice while the calls
 * go on. With billing.notify_webhook_url set, the same transaction queues a
 * "deprecation.notice" webhook (billing/webhook.h) whose JSON payload is:
 * type, notice_id, consumer_id, consumer_name, consumer_email, api_id,
 * api_name, api_version, deprecated_at, sunset_at (RFC 3339 UTC or null),
 * week ("YYYY-MM-DD"), requests_last_7_days. notices.delivered_at is set
 * when it is delivered. Notices made while no URL is set are not sent later.
 */
#ifndef TG_BILLING_DEPRECATION_H
#define TG_BILLING_DEPRECATION_H

#include <time.h>

#include <libpq-fe.h>

#include "lib/config.h"

#define DEPRECATION_LOOKBACK_DAYS 7

/*
 * deprecation_notify() - make the notices due at @now (unix seconds), each
 * with its webhook, in one statement (all or nothing; safe to run on several
 * members at once). Returns the number of notices made, or -EIO (logged).
 */
int deprecation_notify(PGconn *c, const struct config *cfg, time_t now);

#endif /* TG_BILLING_DEPRECATION_H */
