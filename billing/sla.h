/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sla.h - SLA evaluation per API (DESIGN §6 "SLA"): uptime and p99 latency
 * on windows of billing.sla_window seconds, one alert per breach, resolved on
 * recovery, each change POSTed to billing.alert_webhook_url through the
 * webhook outbox (billing/webhook.h).
 *
 * Windows. [start, start + W) with W = billing.sla_window rounded up to a
 * whole number of minutes (minute rollups are the resolution), aligned on
 * multiples of W since the epoch. A window is evaluated once it is complete:
 * its end is at or before now - SLA_SETTLE_SECONDS, so its minute rows are
 * written. Minute rows belong to the window their minute starts in.
 *
 * Figures of a window, from rollup_minute rows of the API with verdict 0
 * (admitted; refused requests never count):
 *   requests   answered requests (status 1xx..5xx) + unanswered ones;
 *   failures   answered with 5xx + unanswered (DESIGN §6: unanswered count
 *              as failures);
 *   uptime     100 * (requests - failures) / requests, in percent;
 *   p99        the 0.99 nearest-rank quantile of the merged latency
 *              histograms (answered requests only; within the histogram's
 *              2 % error).
 * Summary events (requests whose detail was lost to a ring-buffer overflow)
 * carry no status and no latency: they are left out of both, neither
 * success nor failure.
 *
 * Verdicts, per API and kind ('sla_uptime' when apis.sla_uptime is set,
 * 'sla_latency' when apis.sla_p99_ms is set):
 *   breach   uptime < sla_uptime, or p99 > sla_p99_ms;
 *   healthy  otherwise;
 *   no verdict when the window has fewer than SLA_MIN_REQUESTS requests
 *            (uptime) or latency samples (p99): a quiet window neither opens
 *            nor resolves anything (no evidence either way).
 * A breach with no open alert of that kind for the API opens one (alerts
 * row, opened_at = the window's start) and queues an "alert.opened" webhook;
 * a breach with one open adds to its breached_windows, nothing more. A
 * healthy window resolves the open alert (resolved_at = the window's start)
 * and queues "alert.resolved". A target removed from an API resolves its
 * open alert of that kind ({"reason": "target removed"}).
 *
 * Idempotence. sla_state keeps per API the end of the last window evaluated;
 * a call evaluates, in order, the complete windows after it (at most
 * SLA_MAX_CATCHUP, the most recent ones, after an outage), so the same window
 * is never evaluated twice and calling again changes nothing. An API seen for
 * the first time starts with the latest complete window. Each API is one
 * transaction (alerts, outbox rows, sla_state together), serialised between
 * members by its sla_state row.
 *
 * Webhook payloads (JSON object): type ("alert.opened" | "alert.resolved"),
 * alert_id, kind, state, api_id, api_name, opened_at, resolved_at (RFC 3339
 * UTC or null), breached_windows, details (the opening window: window_start,
 * window_end, window_seconds, requests, failures, unanswered, uptime,
 * latency_requests, p99_ms, target_uptime, target_p99_ms, min_requests) and
 * resolution (the same for the healthy window, or null).
 */
#ifndef TG_BILLING_SLA_H
#define TG_BILLING_SLA_H

#include <time.h>

#include <libpq-fe.h>

#include "lib/config.h"

#define SLA_SETTLE_SECONDS 60 /* a window is evaluated this long after its end, at the earliest */
#define SLA_MIN_REQUESTS 20   /* per window and kind, for a verdict */
#define SLA_MAX_CATCHUP 288   /* windows per API and call (a day of 300 s windows) */

/*
 * sla_evaluate() - evaluate every API with an SLA target (or an open SLA
 * alert) on its complete windows not yet evaluated at @now (unix seconds).
 * Returns the number of alerts opened or resolved; -EIO when Postgres failed
 * for some API (logged; the other APIs are still evaluated, and the failed
 * one is retried whole by the next call).
 */
int sla_evaluate(PGconn *c, const struct config *cfg, time_t now);

#endif /* TG_BILLING_SLA_H */
