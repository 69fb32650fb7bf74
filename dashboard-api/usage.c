/* SPDX-License-Identifier: BSD-2-Clause */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dashboard-api/analytics.h"
#include "dashboard-api/db.h"
#include "dashboard-api/usage.h"
#include "lib/log.h"

/* which query parameters a route reads */
#define Q_RANGE 1u
#define Q_GRANULARITY 2u
#define Q_API 4u
#define Q_LIMIT 8u
#define Q_WINDOW 16u

#define WINDOW_MAX (31 * 86400)
#define YEAR_MAX 9999

/* the query of a route, as asked (for the reply) and as analytics.h takes it */
struct usage_query {
	struct analytics_query q;
	char from[32], to[32]; /* RFC 3339 UTC of q.from and q.to */
};

static int digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/*
 * RFC 3339 full date-time into unix seconds: the fraction is dropped, or
 * rounds up with @round_up (an exclusive end keeps its last partial second).
 * A space stands for the offset's '+' (an unencoded '+' in a query string).
 */
static int parse_rfc3339(const char *s, bool round_up, time_t *ret)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	struct tm tm = { 0 };
	int y, mo, d, h, mi, sec, off = 0;
	bool frac = false;
	const char *p;
	time_t t;

	if (strlen(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
	    s[13] != ':' || s[16] != ':')
		return -EINVAL;
	y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
	h = digits(s + 11, 2), mi = digits(s + 14, 2), sec = digits(s + 17, 2);
	if (y < 1970 || y > YEAR_MAX || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59)
		return -EINVAL;
	if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return -EINVAL;
	p = s + 19;
	if (*p == '.') {
		int n = 0;

		for (p++; isdigit((unsigned char)*p); p++) {
			n++;
			frac |= *p != '0';
		}
		if (n < 1 || n > 9)
			return -EINVAL;
	}
	if ((*p == 'Z' || *p == 'z') && !p[1]) {
		off = 0;
	} else if ((*p == '+' || *p == ' ' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
		int oh = digits(p + 1, 2), om = digits(p + 4, 2);

		if (oh < 0 || oh > 23 || om < 0 || om > 59)
			return -EINVAL;
		off = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
	} else {
		return -EINVAL;
	}
	tm.tm_year = y - 1900, tm.tm_mon = mo - 1, tm.tm_mday = d;
	tm.tm_hour = h, tm.tm_min = mi, tm.tm_sec = sec;
	t = timegm(&tm) - off + (round_up && frac);
	if (t < 0)
		return -EINVAL;
	*ret = t;
	return 0;
}

static void format_rfc3339(time_t t, char out[32])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* a decimal in [@min, @max] without sign or leading zero */
static int parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *ret)
{
	unsigned long v = 0;

	if (!*s || strlen(s) > 10 || (s[0] == '0' && s[1]))
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

/* 0 when @sql finds the row of @id; -ENOENT, -EIO */
static int row_exists(struct request *req, const char *what, const char *sql, const char *id)
{
	const char *params[] = { id };
	PGresult *res;
	int r = db_query(req, what, sql, 1, params, &res);

	if (r)
		return r;
	r = PQntuples(res) ? 0 : -ENOENT;
	PQclear(res);
	return r;
}

static int consumer_exists(struct request *req, const char *id)
{
	return row_exists(req, "consumer exists", "SELECT 1 FROM consumers WHERE id = $1", id);
}

static int api_exists(struct request *req, const char *id)
{
	return row_exists(req, "api exists", "SELECT 1 FROM apis WHERE id = $1", id);
}

/* the query string's parameters named in @want into @uq; 400 naming the bad one */
static int read_query(struct request *req, struct reply *rep, unsigned int want,
		      struct usage_query *uq)
{
	struct analytics_query *q = &uq->q;
	const char *from = NULL, *to = NULL, *s;
	unsigned long v;
	int r;

	memset(uq, 0, sizeof(*uq));
	q->granularity = ANALYTICS_HOUR;
	q->minute_retention_days = req->ctx->cfg->billing.minute_retention;
	if (want & Q_RANGE) {
		time_t now = time(NULL);

		from = request_query(req, "from");
		to = request_query(req, "to");
		if (from && parse_rfc3339(from, false, &q->from))
			return reply_error(rep, 400, "invalid_request", "from",
					   "from: must be an RFC 3339 time such as "
					   "\"2026-11-28T10:05:00Z\", 1970 to %d",
					   YEAR_MAX);
		if (to && parse_rfc3339(to, true, &q->to))
			return reply_error(rep, 400, "invalid_request", "to",
					   "to: must be an RFC 3339 time such as "
					   "\"2026-11-28T10:05:00Z\", 1970 to %d",
					   YEAR_MAX);
		if (!to)
			q->to = now;
		if (!from)
			q->from = q->to > USAGE_DEFAULT_RANGE ? q->to - USAGE_DEFAULT_RANGE : 0;
		if (q->from >= q->to)
			return reply_error(rep, 400, "invalid_request", "from",
					   "from: must be before to%s",
					   to ? "" : " (to defaults to now)");
		format_rfc3339(q->from, uq->from);
		format_rfc3339(q->to, uq->to);
	}
	if ((want & Q_GRANULARITY) && (s = request_query(req, "granularity")) &&
	    analytics_granularity_parse(s, &q->granularity))
		return reply_error(rep, 400, "invalid_request", "granularity",
				   "granularity: must be minute, hour or day");
	if ((want & Q_LIMIT) && (s = request_query(req, "limit"))) {
		if (parse_uint(s, 1, ANALYTICS_MAX_LIMIT, &v))
			return reply_error(rep, 400, "invalid_request", "limit",
					   "limit: must be an integer from 1 to %d",
					   ANALYTICS_MAX_LIMIT);
		q->limit = (unsigned int)v;
	}
	if ((want & Q_WINDOW) && (s = request_query(req, "window"))) {
		if (parse_uint(s, 60, WINDOW_MAX, &v) || v % 60)
			return reply_error(rep, 400, "invalid_request", "window",
					   "window: must be seconds, a multiple of 60 from 60 to "
					   "%d",
					   WINDOW_MAX);
		q->window_seconds = (unsigned int)v;
	}
	if ((want & Q_API) && (s = request_query(req, "api_id"))) {
		if (parse_uint(s, 1, UINT32_MAX, &v))
			return reply_error(rep, 400, "invalid_request", "api_id",
					   "api_id: must be an API id, a decimal number");
		r = api_exists(req, s);
		if (r == -ENOENT)
			return reply_error(rep, 404, "not_found", "api_id", "no such API: %s", s);
		if (r)
			return r;
		q->api_id = (uint32_t)v;
	}
	return 0;
}

/* the reply of an analytics.h error (see there); @domain_param names what -EDOM is about */
static int analytics_error(struct request *req, struct reply *rep, int r, const char *noun,
			   const char *domain_param)
{
	unsigned int days = req->ctx->cfg->billing.minute_retention;

	switch (r) {
	case -EINVAL:
		return reply_error(rep, 400, "invalid_request", "from",
				   "from: must be before to, both from 1970 to %d", YEAR_MAX);
	case -EDOM:
		return reply_error(rep, 400, "invalid_request", domain_param, "%s: out of range",
				   domain_param);
	case -E2BIG:
		return reply_error(rep, 400, "invalid_request", "from",
				   "the range holds more than %d points at this granularity: use "
				   "a shorter range or a coarser granularity",
				   ANALYTICS_MAX_POINTS);
	case -ERANGE:
		return reply_error(rep, 400, "invalid_request", "granularity",
				   "minute data is kept %u days; use hour",
				   days ? days : ANALYTICS_MINUTE_RETENTION_DEFAULT);
	case -ENOENT:
		return reply_error(rep, 404, "not_found", NULL, "no such %s", noun);
	case -ENODATA:
		return reply_error(rep, 404, "not_found", NULL,
				   "nothing to invoice in the current period yet");
	default:
		log_error_errno(r, "%s %s: analytics failed", req->method, req->path);
		return r;
	}
}

/* {"object": "list", "data": @data, "has_more": false, from, to} */
static int reply_list(struct reply *rep, const struct usage_query *uq, json_t *data)
{
	return reply_json(rep, 200,
			  json_pack("{s:s, s:o, s:b, s:s, s:s}", "object", "list", "data", data,
				    "has_more", 0, "from", uq->from, "to", uq->to));
}

/*
 * A usage series: reply_list()'s envelope and the granularity, around
 * @points, the text of the array from analytics_usage_text() (freed here).
 */
static int reply_series(struct reply *rep, const struct usage_query *uq, char *points,
			     size_t len)
{
	const char *granularity = analytics_granularity_name(uq->q.granularity);
	size_t cap = len + strlen(uq->from) + strlen(uq->to) + strlen(granularity) + 128;
	char *body = malloc(cap);
	int n;

	if (!body) {
		free(points);
		return -ENOMEM;
	}
	/* from, to and granularity are ours: RFC 3339 UTC and a fixed name */
	n = snprintf(body, cap,
		     "{\"object\":\"list\",\"data\":%s,\"has_more\":false,\"from\":\"%s\","
		     "\"to\":\"%s\",\"granularity\":\"%s\"}",
		     points, uq->from, uq->to, granularity);
	free(points);
	if (n < 0 || (size_t)n >= cap) {
		free(body);
		return -ENOMEM;
	}
	return reply_take(rep, 200, body, (size_t)n);
}

/* @value with "object": @kind */
static int reply_object(struct reply *rep, json_t *value, const char *kind)
{
	if (json_object_set_new(value, "object", json_string(kind))) {
		json_decref(value);
		return -ENOMEM;
	}
	return reply_json(rep, 200, value);
}

enum consumer_read { READ_SERIES, READ_ENDPOINTS, READ_GEO };

static int consumer_read(struct request *req, struct reply *rep, enum consumer_read what)
{
	static const unsigned int want[] = {
		[READ_SERIES] = Q_RANGE | Q_GRANULARITY | Q_API,
		[READ_ENDPOINTS] = Q_RANGE | Q_LIMIT | Q_API,
		[READ_GEO] = Q_RANGE | Q_API,
	};
	struct usage_query uq;
	json_t *data = NULL;
	size_t len;
	char *text;
	int r;

	r = consumer_exists(req, req->id_text[0]);
	if (r == -ENOENT)
		return reply_error(rep, 404, "not_found", NULL, "no such consumer");
	if (r || (r = read_query(req, rep, want[what], &uq)))
		return r;
	uq.q.consumer_id = (uint32_t)req->ids[0];
	switch (what) {
	case READ_SERIES:
		r = analytics_usage_text(req->pg, &uq.q, &text, &len);
		if (!r)
			return reply_series(rep, &uq, text, len);
		break;
	case READ_ENDPOINTS:
		r = analytics_top_endpoints(req->pg, &uq.q, &data);
		break;
	case READ_GEO:
		r = analytics_geo(req->pg, &uq.q, &data);
		break;
	}
	if (r)
		return analytics_error(req, rep, r, "consumer",
				       what == READ_ENDPOINTS ? "limit" : "granularity");
	return reply_list(rep, &uq, data);
}

int usage_consumer_series(struct request *req, struct reply *rep)
{
	return consumer_read(req, rep, READ_SERIES);
}

int usage_consumer_endpoints(struct request *req, struct reply *rep)
{
	return consumer_read(req, rep, READ_ENDPOINTS);
}

int usage_consumer_geo(struct request *req, struct reply *rep)
{
	return consumer_read(req, rep, READ_GEO);
}

/* --- realtime: this worker thread's Redis connection -------------------------- */

static pthread_key_t redis_key;
static pthread_once_t redis_once = PTHREAD_ONCE_INIT;

static void redis_free(void *rc)
{
	redisFree(rc);
}

static void redis_key_init(void)
{
	pthread_key_create(&redis_key, redis_free);
}

/*
 * this thread's Redis context, (re)opened when needed; NULL when Redis is out
 * of reach. @ret_fresh: whether it was opened now (a kept one may have lost
 * its server since, which only its next command tells).
 */
static redisContext *thread_redis(const struct api_ctx *ctx, bool *ret_fresh)
{
	redisContext *rc;

	pthread_once(&redis_once, redis_key_init);
	*ret_fresh = false;
	rc = pthread_getspecific(redis_key);
	if (rc && !rc->err)
		return rc;
	if (rc) {
		redisFree(rc);
		pthread_setspecific(redis_key, NULL);
	}
	*ret_fresh = true;
	rc = redisconn_open(&ctx->redis, USAGE_REDIS_TIMEOUT_MS);
	if (rc)
		pthread_setspecific(redis_key, rc);
	return rc;
}

/* drop this thread's context: hiredis leaves it unusable after an I/O error */
static void thread_redis_drop(void)
{
	redisContext *rc;

	pthread_once(&redis_once, redis_key_init);
	rc = pthread_getspecific(redis_key);
	if (rc) {
		redisFree(rc);
		pthread_setspecific(redis_key, NULL);
	}
}

int usage_consumer_realtime(struct request *req, struct reply *rep)
{
	json_t *out = NULL;
	int r = -EIO;

	/* a kept connection that fails is tried once more on a fresh one */
	for (int attempt = 0; attempt < 2; attempt++) {
		bool fresh = true;
		redisContext *rc = req->ctx->redis_enabled ? thread_redis(req->ctx, &fresh) : NULL;

		r = analytics_realtime(rc, req->pg, (uint32_t)req->ids[0], 0, &out);
		/* -EIO: Redis down or answering an error, unless Postgres broke */
		if (r != -EIO || (rc && !rc->err && PQstatus(req->pg) != CONNECTION_OK))
			break;
		thread_redis_drop();
		if (fresh) {
			reply_error(rep, 503, "internal", NULL, "realtime counters unavailable");
			rep->retry_after = 1;
			return 0;
		}
	}
	if (r)
		return analytics_error(req, rep, r, "consumer", "granularity");
	return reply_object(rep, out, "realtime_usage");
}

/* --- per API ------------------------------------------------------------------------ */

int usage_api_series(struct request *req, struct reply *rep)
{
	struct usage_query uq;
	size_t len;
	char *text;
	int r;

	r = api_exists(req, req->id_text[0]);
	if (r == -ENOENT)
		return reply_error(rep, 404, "not_found", NULL, "no such API");
	if (r || (r = read_query(req, rep, Q_RANGE | Q_GRANULARITY, &uq)))
		return r;
	uq.q.api_id = (uint32_t)req->ids[0];
	r = analytics_usage_text(req->pg, &uq.q, &text, &len);
	if (r)
		return analytics_error(req, rep, r, "API", "granularity");
	return reply_series(rep, &uq, text, len);
}

int usage_api_sla(struct request *req, struct reply *rep)
{
	struct usage_query uq;
	json_t *out = NULL;
	int r;

	if ((r = read_query(req, rep, Q_RANGE | Q_GRANULARITY | Q_WINDOW, &uq)))
		return r;
	uq.q.api_id = (uint32_t)req->ids[0];
	r = analytics_api_sla(req->pg, &uq.q, &out);
	if (r)
		return analytics_error(req, rep, r, "API", "window");
	return reply_object(rep, out, "api_sla");
}

int usage_api_deprecation(struct request *req, struct reply *rep)
{
	json_t *out = NULL;
	int r = analytics_api_deprecation(req->pg, (uint32_t)req->ids[0], 0, &out);

	if (r)
		return analytics_error(req, rep, r, "API", "granularity");
	return reply_object(rep, out, "api_deprecation");
}

int usage_upcoming_invoice(struct request *req, struct reply *rep)
{
	json_t *out = NULL;
	int r;

	r = analytics_upcoming_invoice(req->pg, (uint32_t)req->ids[0], 0, &out);
	if (r)
		return analytics_error(req, rep, r, "consumer", "granularity");
	return reply_object(rep, out, "invoice");
}
