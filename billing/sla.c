/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Why the figures and the comparisons with the targets are computed in SQL:
 * sla_uptime is a numeric percent, and "good * 100 < target * requests" in
 * numeric is exact where a double would put 99.9 on either side of itself.
 * Why one query for all the pending windows of an API: after an outage the
 * catch-up is one scan, not one round trip per window.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "billing/pg.h"
#include "billing/sla.h"
#include "lib/log.h"

enum sla_kind { KIND_UPTIME, KIND_LATENCY, KIND_COUNT };

static const char *const kind_names[KIND_COUNT] = { "sla_uptime", "sla_latency" };

enum window_verdict { VERDICT_NONE, VERDICT_HEALTHY, VERDICT_BREACH, VERDICT_NO_TARGET };

/* what one API needs while its windows are evaluated */
struct api_eval {
	char id[24];
	char name[128];
	const char *target_uptime; /* text of apis.sla_uptime, NULL = none (points into a result) */
	const char *target_p99_ms; /* text of apis.sla_p99_ms, NULL = none */
	char open_alert[KIND_COUNT][24]; /* id of the open alert of each kind, "" = none */
	const char *alert_url;
	const char *now;
	int64_t window;
	int changes;
};

/*
 * The columns of a window row (windows_sql) that the details need, as
 * parameters $3..$13 of every statement that embeds DETAILS_SQL.
 */
enum {
	COL_START,
	COL_REQUESTS,
	COL_FAILURES,
	COL_UNANSWERED,
	COL_UPTIME,
	COL_LATENCY_N,
	COL_P99_US,
	COL_UPTIME_BREACH,
	COL_LATENCY_BREACH,
};

#define DETAILS_SQL                                                                               \
	"jsonb_build_object('window_start', tg_rfc3339(to_timestamp($3::bigint)),"               \
	" 'window_end', tg_rfc3339(to_timestamp($3::bigint + $4::bigint)),"                       \
	" 'window_seconds', $4::bigint, 'requests', $5::bigint, 'failures', $6::bigint,"          \
	" 'unanswered', $7::bigint, 'uptime', $8::numeric, 'latency_requests', $9::bigint,"       \
	" 'p99_ms', round($10::numeric / 1000, 3), 'target_uptime', trim_scale($11::numeric),"    \
	" 'target_p99_ms', $12::integer, 'min_requests', $13::integer)"

#define N_DETAILS_PARAMS 13

static const char WINDOWS_SQL[] =
	"SELECT start, requests, requests - good, unanswered,"
	" CASE WHEN requests > 0 THEN round(good * 100.0 / requests, 4) END, latency_n, p99_us,"
	" coalesce(good * 100 < $5::numeric * requests, false),"
	" coalesce(p99_us > $6::bigint * 1000, false)"
	" FROM (SELECT start, requests, good, unanswered, tg_hist_percentile(hist, 0.99) AS p99_us,"
	"  (SELECT coalesce(sum(hist[2 * k]), 0)"
	"   FROM generate_series(1, coalesce(array_length(hist, 1), 0) / 2) k) AS latency_n"
	"  FROM (SELECT extract(epoch FROM w.s)::bigint AS start,"
	"   coalesce(sum(CASE WHEN r.status_class BETWEEN 1 AND 5"
	"    THEN r.requests - r.summarized - r.unanswered ELSE 0 END), 0)"
	"    + coalesce(sum(r.unanswered), 0) AS requests,"
	"   coalesce(sum(CASE WHEN r.status_class BETWEEN 1 AND 4"
	"    THEN r.requests - r.summarized - r.unanswered ELSE 0 END), 0) AS good,"
	"   coalesce(sum(r.unanswered), 0) AS unanswered,"
	"   tg_hist_sum(r.hist) AS hist"
	"   FROM generate_series(0, $3::int - 1) g"
	"   CROSS JOIN LATERAL (SELECT to_timestamp($2::bigint + g * $4::bigint) AS s) w"
	"   LEFT JOIN rollup_minute r ON r.api_id = $1::bigint AND r.verdict = 0"
	"    AND r.ts >= w.s AND r.ts < w.s + make_interval(secs => $4::int)"
	"   GROUP BY w.s) x) y"
	" ORDER BY start";

static int64_t floor_div(int64_t a, int64_t b)
{
	return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* billing.sla_window in whole minutes: the resolution of the minute rollups */
static int64_t window_seconds(const struct config *cfg)
{
	int64_t w = ((int64_t)cfg->billing.sla_window + 59) / 60 * 60;

	return w < 60 ? 60 : w;
}

/* @epoch (decimal text) as "2026-11-28T10:05:00Z", for log lines */
static const char *rfc3339(const char *epoch, char *buf, size_t len)
{
	time_t t = (time_t)strtoll(epoch, NULL, 10);
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "@%s", epoch);
	return buf;
}

static uint64_t col_u64(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? 0 : strtoull(PQgetvalue(res, row, col), NULL, 10);
}

static const char *col_or_null(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

/* Parameters $3..$13 (DETAILS_SQL) of window @row, into @p[2..12]. */
static void details_params(const struct api_eval *a, PGresult *res, int row, const char **p,
			   char *window, size_t window_len, char *min)
{
	snprintf(window, window_len, "%" PRId64, a->window);
	snprintf(min, 16, "%d", SLA_MIN_REQUESTS);
	p[2] = PQgetvalue(res, row, COL_START);
	p[3] = window;
	p[4] = PQgetvalue(res, row, COL_REQUESTS);
	p[5] = PQgetvalue(res, row, COL_FAILURES);
	p[6] = PQgetvalue(res, row, COL_UNANSWERED);
	p[7] = col_or_null(res, row, COL_UPTIME);
	p[8] = PQgetvalue(res, row, COL_LATENCY_N);
	p[9] = col_or_null(res, row, COL_P99_US);
	p[10] = a->target_uptime;
	p[11] = a->target_p99_ms;
	p[12] = min;
}

static enum window_verdict verdict_of(const struct api_eval *a, enum sla_kind kind,
				      PGresult *res, int row)
{
	if (kind == KIND_UPTIME) {
		if (!a->target_uptime)
			return VERDICT_NO_TARGET;
		if (col_u64(res, row, COL_REQUESTS) < SLA_MIN_REQUESTS)
			return VERDICT_NONE;
		return PQgetvalue(res, row, COL_UPTIME_BREACH)[0] == 't' ? VERDICT_BREACH
									  : VERDICT_HEALTHY;
	}
	if (!a->target_p99_ms)
		return VERDICT_NO_TARGET;
	if (col_u64(res, row, COL_LATENCY_N) < SLA_MIN_REQUESTS)
		return VERDICT_NONE;
	return PQgetvalue(res, row, COL_LATENCY_BREACH)[0] == 't' ? VERDICT_BREACH
								   : VERDICT_HEALTHY;
}

/* Queue the webhook announcing @event of alert @alert_id, when a URL is set. */
static int queue_webhook(PGconn *c, const struct api_eval *a, const char *alert_id,
			 const char *event)
{
	const char *p[] = { alert_id, event, a->now };

	if (!a->alert_url[0])
		return 0;
	return pg_command(
		c, "queue an alert webhook",
		"INSERT INTO webhook_outbox (kind, event, alert_id, payload, next_attempt_at)"
		" SELECT 'alert', $2, a.id, jsonb_build_object('type', $2::text, 'alert_id', a.id,"
		"  'kind', a.kind, 'state', a.state, 'api_id', a.api_id, 'api_name', p.name,"
		"  'opened_at', tg_rfc3339(a.opened_at), 'resolved_at', tg_rfc3339(a.resolved_at),"
		"  'breached_windows', a.breached_windows, 'details', a.details,"
		"  'resolution', a.resolution), to_timestamp($3::bigint)"
		" FROM alerts a JOIN apis p ON p.id = a.api_id WHERE a.id = $1::bigint",
		3, p);
}

static int open_alert(PGconn *c, struct api_eval *a, enum sla_kind kind, PGresult *res, int row)
{
	const char *p[N_DETAILS_PARAMS] = { a->id, kind_names[kind] };
	char window[24], min[16], start[32];
	PGresult *ins;
	int r;

	details_params(a, res, row, p, window, sizeof(window), min);
	ins = pg_exec(c, "open an SLA alert",
		      "INSERT INTO alerts (kind, api_id, opened_at, last_breach_at, details)"
		      " VALUES ($2, $1::bigint, to_timestamp($3::bigint),"
		      " to_timestamp($3::bigint + $4::bigint), " DETAILS_SQL ") RETURNING id",
		      N_DETAILS_PARAMS, p);
	if (!ins)
		return -EIO;
	snprintf(a->open_alert[kind], sizeof(a->open_alert[kind]), "%s", PQgetvalue(ins, 0, 0));
	PQclear(ins);
	r = queue_webhook(c, a, a->open_alert[kind], "alert.opened");
	if (r)
		return r;
	log_warn("sla: API %s (%s): %s breached in the window from %s (uptime %s %%, p99 %s us):"
		 " alert %s opened",
		 a->id, a->name, kind_names[kind],
		 rfc3339(PQgetvalue(res, row, COL_START), start, sizeof(start)),
		 PQgetisnull(res, row, COL_UPTIME) ? "-" : PQgetvalue(res, row, COL_UPTIME),
		 PQgetisnull(res, row, COL_P99_US) ? "-" : PQgetvalue(res, row, COL_P99_US),
		 a->open_alert[kind]);
	a->changes++;
	return 0;
}

static int extend_alert(PGconn *c, struct api_eval *a, enum sla_kind kind, PGresult *res, int row)
{
	char end[24];
	const char *p[] = { a->open_alert[kind], end };

	snprintf(end, sizeof(end), "%" PRId64,
		 (int64_t)strtoll(PQgetvalue(res, row, COL_START), NULL, 10) + a->window);
	return pg_command(c, "extend an SLA alert",
			  "UPDATE alerts SET breached_windows = breached_windows + 1,"
			  " last_breach_at = to_timestamp($2::bigint) WHERE id = $1::bigint",
			  2, p);
}

static int resolve_alert(PGconn *c, struct api_eval *a, enum sla_kind kind, PGresult *res,
			 int row, const char *reason)
{
	const char *p[N_DETAILS_PARAMS] = { a->open_alert[kind], reason };
	char window[24], min[16];
	int r;

	details_params(a, res, row, p, window, sizeof(window), min);
	r = pg_command(c, "resolve an SLA alert",
		       "UPDATE alerts SET state = 'resolved',"
		       " resolved_at = to_timestamp($3::bigint),"
		       " resolution = CASE WHEN $2::text IS NULL THEN " DETAILS_SQL
		       " ELSE " DETAILS_SQL " || jsonb_build_object('reason', $2::text) END"
		       " WHERE id = $1::bigint",
		       N_DETAILS_PARAMS, p);
	if (!r)
		r = queue_webhook(c, a, a->open_alert[kind], "alert.resolved");
	if (r)
		return r;
	log_info("sla: API %s (%s): %s alert %s resolved (%s)", a->id, a->name, kind_names[kind],
		 a->open_alert[kind], reason ? reason : "healthy window");
	a->open_alert[kind][0] = '\0';
	a->changes++;
	return 0;
}

static int apply_window(PGconn *c, struct api_eval *a, PGresult *res, int row)
{
	for (int kind = 0; kind < KIND_COUNT; kind++) {
		enum window_verdict v = verdict_of(a, kind, res, row);
		bool open = a->open_alert[kind][0] != '\0';
		int r = 0;

		if (v == VERDICT_BREACH && !open)
			r = open_alert(c, a, kind, res, row);
		else if (v == VERDICT_BREACH)
			r = extend_alert(c, a, kind, res, row);
		else if (v == VERDICT_HEALTHY && open)
			r = resolve_alert(c, a, kind, res, row, NULL);
		else if (v == VERDICT_NO_TARGET && open)
			r = resolve_alert(c, a, kind, res, row, "target removed");
		if (r)
			return r;
	}
	return 0;
}

static int load_open_alerts(PGconn *c, struct api_eval *a)
{
	const char *p[] = { a->id };
	PGresult *res = pg_exec(c, "read open SLA alerts",
				"SELECT id, kind FROM alerts WHERE api_id = $1::bigint"
				" AND consumer_id IS NULL AND state = 'open'"
				" AND kind IN ('sla_uptime', 'sla_latency')",
				1, p);

	if (!res)
		return -EIO;
	for (int i = 0; i < PQntuples(res); i++)
		for (int kind = 0; kind < KIND_COUNT; kind++)
			if (!strcmp(PQgetvalue(res, i, 1), kind_names[kind]))
				snprintf(a->open_alert[kind], sizeof(a->open_alert[kind]), "%s",
					 PQgetvalue(res, i, 0));
	PQclear(res);
	return 0;
}

/* The windows of one API, in the transaction the caller opened. */
static int evaluate_api_locked(PGconn *c, struct api_eval *a, time_t now)
{
	const char *p[6] = { a->id };
	char first_s[24], n_s[24], w_s[24], end_s[24];
	int64_t latest_end, first_end, n;
	PGresult *state, *windows;
	int r = 0;

	if (pg_command(c, "create sla_state",
		       "INSERT INTO sla_state (api_id) VALUES ($1::bigint)"
		       " ON CONFLICT DO NOTHING",
		       1, p))
		return -EIO;
	state = pg_exec(c, "read sla_state",
			"SELECT extract(epoch FROM s.last_window_end)::bigint, a.sla_uptime::text,"
			" a.sla_p99_ms::text, a.name"
			" FROM sla_state s JOIN apis a ON a.id = s.api_id"
			" WHERE s.api_id = $1::bigint FOR UPDATE OF s",
			1, p);
	if (!state)
		return -EIO;
	if (PQntuples(state) != 1) {
		PQclear(state);
		return 0; /* the API was deleted meanwhile */
	}
	a->target_uptime = col_or_null(state, 0, 1);
	a->target_p99_ms = col_or_null(state, 0, 2);
	snprintf(a->name, sizeof(a->name), "%s", PQgetvalue(state, 0, 3));

	latest_end = floor_div((int64_t)now - SLA_SETTLE_SECONDS, a->window) * a->window;
	if (PQgetisnull(state, 0, 0)) {
		first_end = latest_end;
	} else {
		int64_t last = strtoll(PQgetvalue(state, 0, 0), NULL, 10);

		/* the next aligned end after it (a changed sla_window realigns here) */
		first_end = floor_div(last, a->window) * a->window + a->window;
	}
	if (first_end > latest_end)
		goto out_clear; /* nothing new: evaluated already */
	n = (latest_end - first_end) / a->window + 1;
	if (n > SLA_MAX_CATCHUP) {
		log_warn("sla: API %s (%s): %" PRId64 " windows behind, evaluating the last %d",
			 a->id, a->name, n, SLA_MAX_CATCHUP);
		n = SLA_MAX_CATCHUP;
		first_end = latest_end - (n - 1) * a->window;
	}
	r = load_open_alerts(c, a);
	if (r)
		goto out_clear;

	snprintf(first_s, sizeof(first_s), "%" PRId64, first_end - a->window);
	snprintf(n_s, sizeof(n_s), "%" PRId64, n);
	snprintf(w_s, sizeof(w_s), "%" PRId64, a->window);
	p[1] = first_s;
	p[2] = n_s;
	p[3] = w_s;
	p[4] = a->target_uptime;
	p[5] = a->target_p99_ms;
	windows = pg_exec(c, "read SLA windows", WINDOWS_SQL, 6, p);
	if (!windows) {
		r = -EIO;
		goto out_clear;
	}
	for (int i = 0; i < PQntuples(windows) && !r; i++)
		r = apply_window(c, a, windows, i);
	PQclear(windows);
	if (r)
		goto out_clear;

	snprintf(end_s, sizeof(end_s), "%" PRId64, latest_end);
	p[1] = end_s;
	r = pg_command(c, "update sla_state",
		       "UPDATE sla_state SET last_window_end = to_timestamp($2::bigint),"
		       " updated_at = now() WHERE api_id = $1::bigint",
		       2, p);
	log_debug("sla: API %s (%s): %" PRId64 " window(s) evaluated up to %s", a->id, a->name, n,
		  end_s);
out_clear:
	PQclear(state);
	return r;
}

static int evaluate_api(PGconn *c, const struct config *cfg, const char *api_id, time_t now,
			const char *now_s, int *changes)
{
	struct api_eval a = {
		.alert_url = cfg->billing.alert_webhook_url,
		.now = now_s,
		.window = window_seconds(cfg),
	};
	int r;

	snprintf(a.id, sizeof(a.id), "%s", api_id);
	if (pg_command(c, "begin", "BEGIN", 0, NULL))
		return -EIO;
	r = evaluate_api_locked(c, &a, now);
	if (!r)
		r = pg_command(c, "commit", "COMMIT", 0, NULL);
	if (r) {
		pg_command(c, "rollback", "ROLLBACK", 0, NULL);
		return log_error_errno(r, "sla: API %s: evaluation failed, retried next time",
				       api_id);
	}
	*changes += a.changes;
	return 0;
}

int sla_evaluate(PGconn *c, const struct config *cfg, time_t now)
{
	char now_s[24];
	PGresult *apis;
	int changes = 0, r = 0;

	snprintf(now_s, sizeof(now_s), "%lld", (long long)now);
	apis = pg_exec(c, "list APIs with SLA targets",
		       "SELECT id FROM apis WHERE sla_uptime IS NOT NULL OR sla_p99_ms IS NOT NULL"
		       " OR id IN (SELECT api_id FROM alerts WHERE state = 'open'"
		       "  AND kind IN ('sla_uptime', 'sla_latency'))"
		       " ORDER BY id",
		       0, NULL);
	if (!apis)
		return -EIO;
	for (int i = 0; i < PQntuples(apis); i++) {
		if (evaluate_api(c, cfg, PQgetvalue(apis, i, 0), now, now_s, &changes))
			r = -EIO;
		if (pg_broken(c))
			break;
	}
	PQclear(apis);
	return r ? r : changes;
}
