/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "billing/invoice.h"
#include "billing/pg.h"
#include "billing/reconcile.h"
#include "lib/log.h"
#include "lib/redisconn.h"

#define REDIS_TIMEOUT_MS 2000

/* Postgres and kernel counts per (consumer, api) of the consumers invoiced
 * for the period; NULL where a source has nothing */
static const char COUNTS_SQL[] =
	"WITH inv AS (SELECT id, consumer_id FROM invoices WHERE period = $1),"
	" pg AS (SELECT consumer_id, api_id, sum(requests) AS n FROM rollup_day"
	"  WHERE ts >= $2 AND ts < $3 AND verdict = 0"
	"  AND consumer_id IN (SELECT consumer_id FROM inv) GROUP BY 1, 2),"
	" gens AS (SELECT DISTINCT host_id, pin_generation, consumer_id, api_id"
	"  FROM counter_snapshots WHERE consumer_id IN (SELECT consumer_id FROM inv)"
	"  AND hour <= $3),"
	" k AS (SELECT g.consumer_id, g.api_id, sum(coalesce(ve.v, 0) - coalesce(vs.v, 0)) AS n"
	"  FROM gens g"
	"  LEFT JOIN LATERAL (SELECT (x.body->>'requests')::numeric AS v FROM counter_snapshots x"
	"   WHERE x.host_id = g.host_id AND x.pin_generation = g.pin_generation"
	"   AND x.consumer_id = g.consumer_id AND x.api_id = g.api_id AND x.hour <= $3"
	"   ORDER BY x.hour DESC LIMIT 1) ve ON true"
	"  LEFT JOIN LATERAL (SELECT (x.body->>'requests')::numeric AS v FROM counter_snapshots x"
	"   WHERE x.host_id = g.host_id AND x.pin_generation = g.pin_generation"
	"   AND x.consumer_id = g.consumer_id AND x.api_id = g.api_id AND x.hour <= $2"
	"   ORDER BY x.hour DESC LIMIT 1) vs ON true"
	"  GROUP BY 1, 2)"
	" SELECT coalesce(pg.consumer_id, k.consumer_id), coalesce(pg.api_id, k.api_id),"
	"  pg.n::text, k.n::text FROM pg FULL JOIN k"
	"  ON k.consumer_id = pg.consumer_id AND k.api_id = pg.api_id"
	" UNION ALL"
	" SELECT consumer_id, NULL, NULL, NULL FROM inv" /* consumers without any count */
	" ORDER BY 1, 2";

struct source {
	bool present;
	uint64_t n;
};

static struct source parse_count(PGresult *res, int row, int col)
{
	struct source s = { 0 };

	if (!PQgetisnull(res, row, col)) {
		s.present = true;
		s.n = strtoull(PQgetvalue(res, row, col), NULL, 10);
	}
	return s;
}

/* the sum of usage:{consumer}:{api}:{day} over the period's days */
static struct source redis_count(redisContext *rc, const struct invoice_period *p,
				 uint32_t consumer_id, uint32_t api_id)
{
	struct source s = { 0 };
	redisReply *reply;
	char cmd[8192];
	size_t len;

	if (!rc)
		return s;
	len = (size_t)snprintf(cmd, sizeof(cmd), "MGET");
	for (unsigned int d = 1; d <= p->days && len < sizeof(cmd) - 64; d++)
		len += (size_t)snprintf(cmd + len, sizeof(cmd) - len, " usage:%" PRIu32 ":%" PRIu32
				 ":%04d%02d%02u",
				 consumer_id, api_id, p->year, p->month, d);
	reply = redisCommand(rc, cmd);
	if (!reply || reply->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(reply);
		return s;
	}
	for (size_t i = 0; i < reply->elements; i++) {
		redisReply *e = reply->element[i];

		if (e->type == REDIS_REPLY_STRING) {
			s.present = true;
			s.n += strtoull(e->str, NULL, 10);
		}
	}
	freeReplyObject(reply);
	return s;
}

static bool agree(struct source a, struct source b, double tolerance_pct)
{
	uint64_t hi, lo;

	if (!a.present || !b.present)
		return true;
	hi = a.n > b.n ? a.n : b.n;
	lo = a.n > b.n ? b.n : a.n;
	return hi - lo <= 1 || (double)(hi - lo) <= (double)hi * tolerance_pct / 100.0;
}

static json_t *count_json(struct source s)
{
	return s.present ? json_integer((json_int_t)s.n) : json_null();
}

/* store one consumer's result and open or resolve its alert */
static int store(PGconn *c, uint32_t consumer_id, const char *period_date, json_t *doc,
		 bool mismatch)
{
	char cid[16], *text = json_dumps(doc, JSON_COMPACT);
	const char *params[] = { cid, period_date, text };
	int r;

	if (!text)
		return -ENOMEM;
	snprintf(cid, sizeof(cid), "%" PRIu32, consumer_id);
	r = pg_command(c, "store the reconciliation",
		       "UPDATE invoices SET reconciliation = $3::jsonb"
		       " WHERE consumer_id = $1 AND period = $2",
		       3, params);
	if (!r && mismatch)
		r = pg_command(c, "open a reconciliation alert",
			       "INSERT INTO alerts (kind, consumer_id, opened_at, details)"
			       " VALUES ('reconciliation', $1, now(), jsonb_build_object("
			       "'period', to_char($2::date, 'YYYY-MM')) || $3::jsonb)"
			       " ON CONFLICT (kind, coalesce(api_id, 0), coalesce(consumer_id, 0))"
			       " WHERE state = 'open' DO UPDATE SET details = EXCLUDED.details,"
			       " breached_windows = alerts.breached_windows + 1,"
			       " last_breach_at = now()",
			       3, params);
	else if (!r)
		r = pg_command(c, "resolve a reconciliation alert",
			       "UPDATE alerts SET state = 'resolved', resolved_at = now(),"
			       " resolution = $3::jsonb WHERE kind = 'reconciliation'"
			       " AND consumer_id = $1 AND state = 'open'"
			       " AND details->>'period' = to_char($2::date, 'YYYY-MM')",
			       3, params);
	free(text);
	return r;
}

int reconcile_period(PGconn *c, const struct config *cfg, const char *period, time_t now)
{
	double tolerance = cfg->billing.reconcile_tolerance;
	struct invoice_period p;
	redisContext *rc = NULL;
	json_t *doc = NULL, *apis = NULL;
	uint32_t current = 0;
	bool mismatch = false;
	int mismatches = 0, r;
	PGresult *res;
	char checked[32];
	struct tm tm;

	r = invoice_period_parse(period, &p);
	if (r) {
		log_error("--period: '%s' is not YYYY-MM", period);
		return r;
	}
	/* the kernel counts are kept per hour: a month still running would be
	 * compared at its last hour boundary against rollups that go on */
	if (now < p.end_time) {
		log_error("reconcile: %s has not ended yet; a month is reconciled once it is over",
			  period);
		return -EINVAL;
	}
	gmtime_r(&now, &tm);
	strftime(checked, sizeof(checked), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (cfg->redis.url[0]) {
		struct redis_addr addr;
		char err[256];

		if (redisconn_parse(cfg->redis.url, &addr, err, sizeof(err)))
			log_error("%s", err);
		else if (!(rc = redisconn_open(&addr, REDIS_TIMEOUT_MS)))
			log_warn("reconcile: Redis at %s is out of reach; its counts are left out",
				 cfg->redis.url);
	}
	{
		const char *params[] = { p.date, p.start, p.end };

		res = pg_exec(c, "read the counts", COUNTS_SQL, 3, params);
	}
	if (!res) {
		if (rc)
			redisFree(rc);
		return -EIO;
	}
	for (int i = 0; i <= PQntuples(res) && r == 0; i++) {
		uint32_t cid = i < PQntuples(res) ? (uint32_t)strtoul(PQgetvalue(res, i, 0), NULL, 10)
						  : 0;

		if (doc && cid != current) {
			json_object_set_new(doc, "status", json_string(mismatch ? "mismatch" : "ok"));
			r = store(c, current, p.date, doc, mismatch);
			mismatches += mismatch;
			json_decref(doc);
			doc = NULL;
		}
		if (r || i == PQntuples(res))
			break;
		if (!doc) {
			current = cid;
			mismatch = false;
			apis = json_array();
			doc = json_pack("{s:s, s:s, s:f, s:o}", "status", "ok", "checked_at", checked,
					"tolerance_pct", tolerance, "apis", apis);
			if (!doc || !apis) {
				r = -ENOMEM;
				break;
			}
		}
		if (PQgetisnull(res, i, 1))
			continue; /* the row that only says "this consumer was invoiced" */
		{
			uint32_t api = (uint32_t)strtoul(PQgetvalue(res, i, 1), NULL, 10);
			struct source pg = parse_count(res, i, 2), kernel = parse_count(res, i, 3);
			struct source redis = redis_count(rc, &p, cid, api);
			bool ok = agree(pg.present ? pg : (struct source){ true, 0 }, kernel, tolerance) &&
				  agree(pg.present ? pg : (struct source){ true, 0 }, redis, tolerance);
			char api_s[16];

			snprintf(api_s, sizeof(api_s), "%" PRIu32, api);
			json_array_append_new(apis, json_pack("{s:s, s:o, s:o, s:o, s:b}", "api_id",
							      api_s, "postgres", count_json(pg),
							      "redis", count_json(redis), "kernel",
							      count_json(kernel), "ok", ok));
			if (!ok) {
				mismatch = true;
				log_warn("reconcile %s: consumer %" PRIu32 " api %" PRIu32
					 ": postgres %" PRIu64 ", redis %s%" PRIu64 ", kernel %s%" PRIu64,
					 period, cid, api, pg.n, redis.present ? "" : "(none) ",
					 redis.n, kernel.present ? "" : "(none) ", kernel.n);
			}
		}
	}
	json_decref(doc);
	PQclear(res);
	if (rc)
		redisFree(rc);
	if (r)
		return r;
	log_info("reconciled %s: %d consumer(s) with a mismatch", period, mismatches);
	return mismatches;
}
