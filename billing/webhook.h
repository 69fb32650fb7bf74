/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * webhook.h - JSON webhooks for SLA alerts and deprecation notices (DESIGN §6
 * "SLA", "Deprecation"), through an outbox in Postgres so that a receiver
 * that is down at the moment loses nothing.
 *
 * Producers (billing/sla.c, billing/deprecation.c) insert a webhook_outbox
 * row (billing/sql/004_alerts.sql) in the same transaction as the alert or
 * notice it announces: kind 'alert' or 'notice', event ("alert.opened",
 * "alert.resolved", "deprecation.notice"), alert_id or notice_id, payload,
 * next_attempt_at = the producer's "now". Only when the URL of that kind is
 * configured at that moment (billing.alert_webhook_url,
 * billing.notify_webhook_url): with no URL nothing is queued.
 *
 * webhook_deliver() sends due rows, oldest first, to the URL configured for
 * their kind now. A 2xx answer is delivery; anything else (another status, a
 * timeout, a refused connection) is retried later with exponential backoff,
 * for ever: webhook_backoff() after the Nth failed attempt. Delivery is at
 * least once (a member that dies between the POST and recording it sends the
 * row again after WEBHOOK_LEASE seconds): receivers deduplicate on the
 * X-Tollgate-Delivery header, the row's id. Rows of one kind are not ordered
 * across retries; payloads carry the ids, states and times a receiver needs
 * to order them.
 *
 * Each request: POST, "Content-Type: application/json", "User-Agent:
 * tollgate-billing", "X-Tollgate-Delivery: <outbox id>", "X-Tollgate-Event:
 * <event>", the payload as body; http and https only, redirects not
 * followed, WEBHOOK_CONNECT_TIMEOUT_MS to connect and WEBHOOK_TIMEOUT_MS in
 * all. The answer's body is ignored.
 *
 * The program calls curl_global_init(CURL_GLOBAL_DEFAULT) once before it
 * starts threads (curl_global_cleanup() at exit); calls never raise signals.
 */
#ifndef TG_BILLING_WEBHOOK_H
#define TG_BILLING_WEBHOOK_H

#include <stddef.h>
#include <time.h>

#include <libpq-fe.h>

#include "lib/config.h"

#define WEBHOOK_CONNECT_TIMEOUT_MS 2000
#define WEBHOOK_TIMEOUT_MS 5000
#define WEBHOOK_BACKOFF_MIN 30	 /* seconds after the first failure ... */
#define WEBHOOK_BACKOFF_MAX 3600 /* ... doubling up to this */
#define WEBHOOK_LEASE 120	 /* seconds a claimed row is hidden from other members */
#define WEBHOOK_BATCH_MAX 100	 /* rows one webhook_deliver() call attempts at most */
#define WEBHOOK_BUDGET_MS 15000	 /* no new row is claimed after this long in one call */
#define WEBHOOK_ERROR_MAX 256	 /* a failure's one-line description, with its NUL */

/*
 * webhook_post() - POST the NUL-terminated JSON @body to @url once, as
 * described above (@delivery_id and @event may be NULL: no such header).
 * Returns 0 for a 2xx answer; -EPROTO for another status; -ETIMEDOUT;
 * -ECONNREFUSED (cannot connect); -EHOSTUNREACH (cannot resolve); -EINVAL (a
 * URL curl refuses, a scheme other than http/https); -ENOMEM; -EIO for other
 * transport failures. On failure @err (@err_len bytes, may be 0) holds one
 * line ("HTTP 500", "Failed to connect to ..."). Never logs.
 */
int webhook_post(const char *url, const char *body, const char *delivery_id, const char *event,
		 char *err, size_t err_len);

/*
 * webhook_backoff() - seconds to wait after the @attempts-th failed attempt
 * (1, 2, ...): WEBHOOK_BACKOFF_MIN * 2^(attempts - 1), at most
 * WEBHOOK_BACKOFF_MAX.
 */
unsigned int webhook_backoff(int attempts);

/*
 * webhook_deliver() - send the webhook_outbox rows due at @now (unix
 * seconds) whose kind has a URL in @cfg, at most WEBHOOK_BATCH_MAX of them
 * and none claimed after WEBHOOK_BUDGET_MS, so the caller is never held
 * long. After a failure the other rows of that kind wait for a later call
 * (a receiver that is down costs one timeout per call, not one per row).
 * Every attempt adds 1 to the row's attempts. A delivered row gets
 * delivered_at = @now, and so does what it announced (notices.delivered_at,
 * alerts.opened_delivered_at or resolved_delivered_at); a failed one gets
 * last_error and next_attempt_at = @now + webhook_backoff(attempts). Safe to run on several members
 * at once. Returns the number of rows delivered, or -EIO when Postgres fails
 * (logged); HTTP failures are logged as warnings and are not errors.
 */
int webhook_deliver(PGconn *c, const struct config *cfg, time_t now);

#endif /* TG_BILLING_WEBHOOK_H */
