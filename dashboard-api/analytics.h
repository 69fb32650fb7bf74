/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * analytics.h - the read-only analytics of the dashboard REST API (DESIGN §7):
 * usage series, top endpoints, geo, realtime counters, per-API SLA figures,
 * consumers still on a deprecated API, and the upcoming invoice. Pure
 * functions of a Postgres (and, for realtime, a Redis) connection: the HTTP
 * routes parse the request, call one of these, and send the JSON back.
 *
 * Sources. Everything but realtime reads the rollups (billing/sql/002), never
 * raw events, choosing the tier by the step asked for: minute rows for
 * minute steps (kept billing.minute_retention days), hour rows for hours
 * (13 months), day rows for days (for ever). Top endpoints and geo need the
 * endpoint and country dimensions, which minute rows lack: they read day rows
 * for the whole UTC days of the range and hour rows for the hours at either
 * edge. Realtime reads the agents' Redis day counters.
 *
 * Figures. A rollup row counts every request: refused ones (verdict != 0),
 * and among admitted ones (verdict 0) those answered (status class 1..5),
 * unanswered, and summarized (detail lost to a ring-buffer overflow: no
 * status, no latency). Here:
 *   requests     every request, refused included, summaries included;
 *   refused      verdict != 0;
 *   errors_4xx   admitted and answered 4xx (errors_5xx likewise), summaries
 *                excluded;
 *   unanswered   admitted, never answered;
 *   p50_ms, p99_ms  nearest-rank quantiles of the merged latency histograms
 *                of answered admitted requests (lib/histogram.h: within 2 %),
 *                in ms with 3 decimals (the µs value / 1000); null when the
 *                bucket has no latency sample;
 *   bytes_in, bytes_out  request and response bytes.
 *
 * Conventions. Times in and out are UTC: unix seconds in, RFC 3339 strings
 * ("2026-11-28T10:05:00Z") out. Ids are decimal strings in JSON (DESIGN §5).
 * Counts are JSON integers. Ratios and ms are JSON reals: dump the result
 * with JSON_REAL_PRECISION(15) (or lower), as jansson's default 17 digits
 * print 0.1 ms as 0.10000000000000001.
 *
 * Every function returns 0 with a new JSON reference in *ret (the caller
 * json_decref()s it), or -errno with *ret untouched. Errors, and what a
 * route makes of them:
 *   -EINVAL  from/to: from >= to, or a time before 1970 or after 9999 (400,
 *            param "from" or "to");
 *   -EDOM    granularity or window: unknown granularity, a window that is
 *            not a whole number of minutes, a limit above its maximum (400,
 *            param "granularity", "window" or "limit");
 *   -E2BIG   the range holds more than ANALYTICS_MAX_POINTS buckets at this
 *            granularity (400, "from": "use a shorter range or a coarser
 *            granularity");
 *   -ERANGE  minute granularity reaching back past the minute retention
 *            (400, "granularity": "minute data is kept N days; use hour");
 *   -ENOENT  the API or consumer does not exist (404);
 *   -ENODATA the upcoming invoice: nothing to invoice this period (404);
 *   -EIO     Postgres (logged by billing/pg.c) or Redis failed (500; realtime:
 *            503, see analytics_realtime());
 *   -ENOMEM.
 */
#ifndef TG_DASHBOARD_ANALYTICS_H
#define TG_DASHBOARD_ANALYTICS_H

#include <stdint.h>
#include <time.h>

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <libpq-fe.h>

#define ANALYTICS_MAX_POINTS 1500	   /* buckets of one series or SLA range */
#define ANALYTICS_MAX_LIMIT 100		   /* top endpoints */
#define ANALYTICS_DEFAULT_LIMIT 10	   /* top endpoints, limit 0 */
#define ANALYTICS_MINUTE_RETENTION_DEFAULT 14 /* days; billing.minute_retention's default */
#define ANALYTICS_DEPRECATION_DAYS 7	   /* billing/deprecation.h's lookback */

enum analytics_granularity {
	ANALYTICS_MINUTE,
	ANALYTICS_HOUR,
	ANALYTICS_DAY,
};

/*
 * analytics_granularity_parse() - "minute", "hour", "day" (exact, lower
 * case) into @ret. 0, or -EDOM with @ret untouched.
 */
int analytics_granularity_parse(const char *s, enum analytics_granularity *ret);

/* analytics_granularity_name() - "minute", "hour", "day"; NULL if unknown. */
const char *analytics_granularity_name(enum analytics_granularity g);

/*
 * What a usage, endpoints, geo or SLA read is about; the route fills it from
 * the path and the query string. Zero-initialise it ("= { ... }"): every
 * field has a meaning at 0.
 */
struct analytics_query {
	uint32_t consumer_id; /* 0 = every consumer (the per-API reads) */
	uint32_t api_id;      /* 0 = every API */
	time_t from, to;      /* [from, to), unix seconds, UTC */
	enum analytics_granularity granularity;
	unsigned int window_seconds;	    /* analytics_api_sla(): 0 = the granularity's step */
	unsigned int limit;		    /* analytics_top_endpoints(): 0 = the default */
	time_t now;			    /* 0 = time(NULL); the minute retention counts from it */
	unsigned int minute_retention_days; /* billing.minute_retention; 0 = the default */
};

/*
 * analytics_usage() - the series of @q->consumer_id (0: all consumers) on
 * @q->api_id (0: all APIs), one point per @q->granularity step:
 *
 *   [{"ts": "2026-11-28T10:05:00Z", "requests": 12, "refused": 1,
 *     "errors_4xx": 2, "errors_5xx": 0, "unanswered": 0, "p50_ms": 12.288,
 *     "p99_ms": 81.92, "bytes_in": 4096, "bytes_out": 65536}, ...]
 *
 * from is rounded down and to up to the step (a rollup row covers its whole
 * minute, hour or UTC day); every step in between has a point, zeros (and
 * null percentiles) where nothing happened, so charts have no gaps; ts is the
 * step's start. Minute steps need from within the minute retention (-ERANGE);
 * more than ANALYTICS_MAX_POINTS points is -E2BIG.
 */
int analytics_usage(PGconn *c, const struct analytics_query *q, json_t **ret);

/*
 * analytics_usage_text() - the same series as the JSON text of its array
 * (compact, the numbers as analytics_usage()'s values print with
 * JSON_REAL_PRECISION(15)), in *@ret (malloc'd, NUL-terminated, *@ret_len
 * bytes). What the HTTP reads send: a day of minutes is 1,440 points, and a
 * json_t per value cost more than the query. The same errors.
 */
int analytics_usage_text(PGconn *c, const struct analytics_query *q, char **ret,
			 size_t *ret_len);

/*
 * analytics_top_endpoints() - the @q->limit (1..ANALYTICS_MAX_LIMIT, 0 =
 * ANALYTICS_DEFAULT_LIMIT) busiest (method, endpoint) pairs of
 * @q->consumer_id (0: all) on @q->api_id (0: all), by requests, then method
 * and endpoint; requests without an endpoint are left out:
 *
 *   [{"method": "GET", "endpoint": "/v1/orders/{id}", "requests": 900,
 *     "refused": 10, "errors_4xx": 30, "errors_5xx": 9, "unanswered": 1,
 *     "error_rate": 0.0449, "p50_ms": 12.288, "p99_ms": 81.92}, ...]
 *
 * error_rate = (errors_4xx + errors_5xx + unanswered) / (answered +
 * unanswered admitted requests), 4 decimals, 0 when there were none. from and
 * to are rounded out to whole hours. method is "" when the request had none
 * the agent knew.
 */
int analytics_top_endpoints(PGconn *c, const struct analytics_query *q, json_t **ret);

/*
 * analytics_geo() - requests of @q->consumer_id (0: all) on @q->api_id (0:
 * all) by client country, busiest first: [{"country": "US", "requests":
 * 900}, ...]; "--" is unknown. from and to are rounded out to whole hours.
 */
int analytics_geo(PGconn *c, const struct analytics_query *q, json_t **ret);

/*
 * analytics_realtime() - today's (@now's UTC day; 0 = time(NULL)) admitted
 * requests of @consumer_id per API, from the agents' Redis counters
 * usage:{consumer}:{api}:{YYYYMMDD} (DESIGN §8), for every API of the
 * catalog in one MGET:
 *
 *   {"consumer_id": "7", "day": "2026-11-28", "as_of": "...Z",
 *    "requests": 1234,
 *    "apis": [{"api_id": "1", "name": "orders", "requests": 1200}, ...]}
 *
 * Only APIs with a count are listed, busiest first; requests no route
 * claimed (api 0) appear as {"api_id": null, "name": null}. The counters are
 * flushed by the agents every few seconds, ahead of the rollups.
 * Returns -ENOENT for an unknown consumer, -EIO when Redis is down or
 * answers an error (@rc NULL counts as down): the route answers 503
 * {"error": {"type": "internal", "message": "realtime counters unavailable"}}
 * and should reopen its Redis context, which hiredis leaves unusable after
 * an I/O error.
 */
int analytics_realtime(redisContext *rc, PGconn *c, uint32_t consumer_id, time_t now,
		       json_t **ret);

/*
 * analytics_api_sla() - SLA figures of API @q->api_id over [from, to) on
 * windows of @q->window_seconds (0 = the granularity's step; a multiple of
 * 60, aligned on multiples of itself since the epoch as billing's windows
 * are), and the SLA alerts of the API that overlap the range:
 *
 *   {"api_id": "1", "from": ..., "to": ..., "window_seconds": 300,
 *    "target_uptime": 99.9, "target_p99_ms": 250, "min_requests": 20,
 *    "requests": N, "failures": N, "uptime": 99.95, "p99_ms": 81.92,
 *    "windows": [{"window_start", "window_end", "requests", "failures",
 *                 "unanswered", "uptime", "latency_requests", "p99_ms",
 *                 "uptime_met", "latency_met"}, ...],
 *    "breaches": [{"id", "kind", "state", "opened_at", "resolved_at",
 *                  "breached_windows", "last_breach_at", "details",
 *                  "resolution"}, ...]}
 *
 * The figures are billing/sla.h's, from admitted requests only: requests =
 * answered + unanswered (summaries left out), failures = 5xx + unanswered,
 * uptime = 100 x (requests - failures) / requests in percent (4 decimals,
 * null without requests), p99 of the answered ones. *_met: whether the
 * window met its target, null without a target or with fewer than
 * min_requests requests (latency samples). Targets null when unset.
 * Windows of whole days read day rows, of whole hours hour rows, others
 * minute rows (-ERANGE before the minute retention). Breaches: alerts of
 * kind sla_uptime or sla_latency with [opened_at, resolved_at) meeting
 * [from, to), oldest first. -ENOENT for an unknown API.
 */
int analytics_api_sla(PGconn *c, const struct analytics_query *q, json_t **ret);

/*
 * analytics_api_deprecation() - the consumers that made admitted requests
 * (summaries included) to API @api_id in the ANALYTICS_DEPRECATION_DAYS
 * days before @now (0 = time(NULL)), as billing's deprecation notices count
 * them (the hour rows starting in [now - 7 days, now)), busiest first:
 *
 *   {"api_id": "1", "name": "orders", "version": "1",
 *    "deprecated_at": "...Z" | null, "sunset_at": "...Z" | null,
 *    "since": "...Z", "until": "...Z",
 *    "consumers": [{"consumer_id": "7", "name": "Ada", "email": "...",
 *                   "requests": 1234, "last_seen_at": "...Z",
 *                   "notified_at": "...Z" | null}, ...]}
 *
 * last_seen_at is the start of the latest minute with such a request when
 * minute rows still hold it, else the latest hour's start; notified_at the
 * latest deprecation notice sent to the consumer for this API. Listed for
 * any API, deprecated or not. -ENOENT for an unknown API.
 */
int analytics_api_deprecation(PGconn *c, uint32_t api_id, time_t now, json_t **ret);

/*
 * analytics_upcoming_invoice() - the invoice of @consumer_id for the
 * calendar month (UTC) holding @now (0 = time(NULL)), priced on the usage so
 * far exactly as `tollgate-billing invoice` would price it now (billing's
 * billable rule, plans and lib/pricing.h; adjustments of earlier months it
 * would charge included):
 *
 *   {"id": null, "consumer_id": "7", "period": "2026-11",
 *    "period_start": "2026-11-01T00:00:00Z", "period_end": "2026-12-01T00:00:00Z",
 *    "currency": "USD", "status": "upcoming", "reconciliation": null,
 *    "as_of": "...Z",
 *    "lines": [{"plan_id": "10", "kind": "tier", "tier": 1, "description":
 *               "Seed: tier 2, units 1001-10000 at 0.001 USD",
 *               "quantity": 9000, "unit_price": "0.001", "amount": "9.00",
 *               "amount_minor": 900}, ...],
 *    "total": "10.17", "total_minor": 1017}
 *
 * unit_price is the trimmed decimal (money_format_price()), amount and
 * total carry the currency's minor digits. -ENOENT for an unknown consumer;
 * -ENODATA when billing would write no invoice (no usage, no key in the
 * period and no adjustment to charge).
 */
int analytics_upcoming_invoice(PGconn *c, uint32_t consumer_id, time_t now, json_t **ret);

#endif /* TG_DASHBOARD_ANALYTICS_H */
