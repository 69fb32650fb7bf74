// SPDX-License-Identifier: BSD-2-Clause
/*
 * analytics.c - the dashboard's analytics reads (see analytics.h).
 *
 * Why histograms are merged here and not in SQL: tg_hist_sum() is PL/pgSQL
 * that rebuilds an array per row, fine for billing's few windows, slow for a
 * series of 1500 buckets; Postgres sums the counters and concatenates the
 * bucket's histogram texts, and histogram_add_pg_array() merges them.
 * Why percentiles are computed here: tg_hist_percentile() takes the rank as
 * ceil(q * total) in binary floating point, which for some q is one above
 * the nearest rank (0.07 x 100 is 7.000000000000001); histogram_percentile()
 * takes q as the decimal it was written as. For 0.5 and 0.99 both agree on
 * every total up to 10^5 at least, so these p99s are billing/sla.c's.
 * Why SQL is assembled from fragments: a filter that is absent must not be
 * in the statement ("consumer_id = $5 OR $5 = 0" can keep the planner off
 * the index); only constant fragments chosen here are spliced, every value
 * is a parameter (DESIGN §8).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "billing/invoice.h"
#include "billing/pg.h"
#include "billing/sla.h"
#include "dashboard-api/analytics.h"
#include "lib/decimal.h"
#include "lib/event.h"
#include "lib/histogram.h"
#include "lib/money.h"
#include "lib/pricing.h"

#define MINUTE 60
#define HOUR 3600
#define DAY 86400
#define TIME_MAX_SEC 253402300799LL /* 9999-12-31T23:59:59Z */

/* ---- small helpers ------------------------------------------------------ */

static int64_t floor_to(int64_t t, int64_t step)
{
	return t / step * step; /* t >= 0 */
}

static int64_t ceil_to(int64_t t, int64_t step)
{
	return (t + step - 1) / step * step;
}

static time_t now_or_clock(time_t now)
{
	return now ? now : time(NULL);
}

static void rfc3339(int64_t t, char buf[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, 32, "1970-01-01T00:00:00Z");
}

static json_t *time_json(int64_t t)
{
	char buf[32];

	rfc3339(t, buf);
	return json_string(buf);
}

static json_t *id_json(uint64_t id)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRIu64, id);
	return json_string(buf);
}

static json_t *count_json(uint64_t n)
{
	return json_integer(n > INT64_MAX ? INT64_MAX : (json_int_t)n);
}

/* a value from Postgres (text) or null */
static json_t *text_or_null(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? json_null() : json_string(PQgetvalue(res, row, col));
}

static uint64_t col_u64(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? 0 : strtoull(PQgetvalue(res, row, col), NULL, 10);
}

static int64_t col_i64(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/*
 * Set @key of @obj to @value, taking the reference; -ENOMEM when @value is
 * NULL (a failed constructor) or the set fails, so calls chain with ||.
 */
static int set_new(json_t *obj, const char *key, json_t *value)
{
	if (!value)
		return -ENOMEM;
	return json_object_set_new(obj, key, value) ? -ENOMEM : 0;
}

static int append_new(json_t *array, json_t *value)
{
	if (!value)
		return -ENOMEM;
	return json_array_append_new(array, value) ? -ENOMEM : 0;
}

/* microseconds as ms with 3 decimals, null when there was no sample */
static json_t *ms_json(bool present, uint64_t us)
{
	return present ? json_real((double)us / 1000.0) : json_null();
}

/* @num / @den (den > 0) rounded half up to 4 decimals, as Postgres rounds numeric */
static double ratio4(unsigned __int128 num, uint64_t den)
{
	unsigned __int128 e4 = (num * 20000 + den) / (2 * (unsigned __int128)den);

	return (double)(uint64_t)e4 / 10000.0;
}

/* text into the parameter buffer of a statement */
static const char *fmt_i64(char buf[24], int64_t v)
{
	snprintf(buf, 24, "%" PRId64, v);
	return buf;
}

static bool time_ok(time_t t)
{
	return t >= 0 && (long long)t <= TIME_MAX_SEC;
}

static int check_times(const struct analytics_query *q)
{
	if (!time_ok(q->from) || !time_ok(q->to) || q->from >= q->to)
		return -EINVAL;
	return 0;
}

static int64_t granularity_step(enum analytics_granularity g)
{
	switch (g) {
	case ANALYTICS_MINUTE:
		return MINUTE;
	case ANALYTICS_HOUR:
		return HOUR;
	case ANALYTICS_DAY:
		return DAY;
	}
	return 0;
}

int analytics_granularity_parse(const char *s, enum analytics_granularity *ret)
{
	static const enum analytics_granularity all[] = { ANALYTICS_MINUTE, ANALYTICS_HOUR,
							  ANALYTICS_DAY };

	for (size_t i = 0; s && i < sizeof(all) / sizeof(all[0]); i++) {
		if (!strcmp(s, analytics_granularity_name(all[i]))) {
			*ret = all[i];
			return 0;
		}
	}
	return -EDOM;
}

const char *analytics_granularity_name(enum analytics_granularity g)
{
	switch (g) {
	case ANALYTICS_MINUTE:
		return "minute";
	case ANALYTICS_HOUR:
		return "hour";
	case ANALYTICS_DAY:
		return "day";
	}
	return NULL;
}

/*
 * The filters of a read by consumer and API. Both always reference their
 * parameter (an unreferenced one has no type and fails the statement); when
 * absent, as a constant comparison the planner folds away.
 */
static const char *consumer_filter(const struct analytics_query *q, const char *present,
				   const char *absent)
{
	return q->consumer_id ? present : absent;
}

/*
 * Split the histogram texts of a bucket, "{i,c,...}{i,c,...}" as
 * string_agg(hist::text, '') writes them, and add each to @h. @text is
 * libpq's buffer (writable): each literal is cut out in place and restored.
 */
static int add_hist_texts(struct histogram *h, char *text)
{
	while (*text) {
		char *end = strchr(text, '}'), saved;
		int r;

		if (!end)
			return -EINVAL;
		saved = end[1];
		end[1] = '\0';
		r = histogram_add_pg_array(h, text);
		end[1] = saved;
		if (r)
			return r;
		text = end + 1;
	}
	return 0;
}

/* ---- series: usage points and SLA windows ------------------------------ */

/* the figures of one bucket (analytics.h "Figures") */
struct figures {
	uint64_t requests, refused, errors_4xx, errors_5xx, unanswered;
	uint64_t answered, good; /* admitted, status 1..5 and 1..4, summaries excluded */
	uint64_t bytes_in, bytes_out;
	struct histogram *hist; /* answered admitted requests' latencies */
};

/* called for every bucket of the range, in order, empty ones included */
typedef int (*bucket_fn)(void *ctx, int64_t start, const struct figures *f);

struct series {
	const char *table;
	bool totals; /* read rollup_minute_total instead of table */
	int64_t start, end, step; /* [start, end), aligned on step */
};

/*
 * The rows of a series: columns 0 bucket start, 1..9 the counters of
 * struct figures in order, 10 the histogram texts. Parameters: $1 start,
 * $2 end (unix seconds), $3 step, $4 consumer, $5 API.
 */
static const char SERIES_SQL[] =
	"SELECT extract(epoch FROM ts)::bigint / $3::bigint * $3::bigint,"
	" sum(requests),"
	" coalesce(sum(requests) FILTER (WHERE verdict <> 0), 0),"
	" coalesce(sum(requests - summarized - unanswered)"
	"  FILTER (WHERE verdict = 0 AND status_class = 4), 0),"
	" coalesce(sum(requests - summarized - unanswered)"
	"  FILTER (WHERE verdict = 0 AND status_class = 5), 0),"
	" coalesce(sum(unanswered) FILTER (WHERE verdict = 0), 0),"
	" coalesce(sum(requests - summarized - unanswered)"
	"  FILTER (WHERE verdict = 0 AND status_class BETWEEN 1 AND 5), 0),"
	" coalesce(sum(requests - summarized - unanswered)"
	"  FILTER (WHERE verdict = 0 AND status_class BETWEEN 1 AND 4), 0),"
	" sum(bytes_in), sum(bytes_out),"
	" string_agg(hist::text, '') FILTER (WHERE verdict = 0 AND cardinality(hist) > 0)"
	" FROM %s WHERE ts >= to_timestamp($1::bigint) AND ts < to_timestamp($2::bigint)"
	" AND %s AND %s GROUP BY 1 ORDER BY 1";

/*
 * The same columns from the minute totals (billing/sql/008_minute_totals.sql)
 * of one consumer ($4, $5 = 0) or one API ($4 = 0, $5): one row a minute
 * instead of one per (API or consumer, plan, status class, verdict).
 * TOTALS_SQL groups them into buckets of $3 seconds; TOTALS_MINUTE_SQL, for
 * $3 = 60, passes the rows through as they are.
 */
#define TOTALS_FROM                                                                               \
	" FROM rollup_minute_total WHERE ts >= to_timestamp($1::bigint)"                           \
	" AND ts < to_timestamp($2::bigint) AND consumer_id = $4::bigint AND api_id = $5::bigint"
static const char TOTALS_SQL[] =
	"SELECT extract(epoch FROM ts)::bigint / $3::bigint * $3::bigint,"
	" sum(requests), sum(refused), sum(errors_4xx), sum(errors_5xx), sum(unanswered),"
	" sum(answered), sum(good), sum(bytes_in), sum(bytes_out),"
	" string_agg(hist::text, '') FILTER (WHERE cardinality(hist) > 0)" TOTALS_FROM
	" GROUP BY 1 ORDER BY 1";
static const char TOTALS_MINUTE_SQL[] =
	"SELECT extract(epoch FROM ts)::bigint, requests, refused, errors_4xx, errors_5xx,"
	" unanswered, answered, good, bytes_in, bytes_out,"
	" CASE WHEN cardinality(hist) > 0 THEN hist::text END" TOTALS_FROM
	" AND $3::bigint = 60 ORDER BY ts";

/*
 * Where a series of @step-second buckets over @q's range reads, or an error
 * of analytics.h: the coarsest tier whose period divides @step, the range
 * rounded out to @step.
 */
static int series_plan(const struct analytics_query *q, int64_t step, struct series *ret)
{
	struct series s;
	time_t now;
	int64_t first_minute_day;
	unsigned int days;
	int r;

	r = check_times(q);
	if (r)
		return r;
	if (step <= 0 || step % MINUTE || step > 366LL * DAY)
		return -EDOM;
	s.step = step;
	s.start = floor_to(q->from, step);
	s.end = ceil_to(q->to, step);
	if ((s.end - s.start) / step > ANALYTICS_MAX_POINTS)
		return -E2BIG;
	s.table = step % DAY == 0 ? "rollup_day" : step % HOUR == 0 ? "rollup_hour" : "rollup_minute";
	/* one consumer or one API: their minute totals */
	s.totals = !strcmp(s.table, "rollup_minute") && !q->consumer_id != !q->api_id;
	if (step % HOUR) {
		/* billing drops a minute partition (a UTC day) once the day is
		 * more than minute_retention days old (usage_drop_expired()) */
		now = now_or_clock(q->now);
		days = q->minute_retention_days ? q->minute_retention_days
						: ANALYTICS_MINUTE_RETENTION_DEFAULT;
		first_minute_day = floor_to((int64_t)now, DAY) - (int64_t)days * DAY;
		if (s.start < first_minute_day)
			return -ERANGE;
	}
	*ret = s;
	return 0;
}

static int series_run(PGconn *c, const struct analytics_query *q, const struct series *s,
		      bucket_fn fn, void *ctx)
{
	char sql[sizeof(SERIES_SQL) + 128], p_start[24], p_end[24], p_step[24], p_cid[24],
		p_api[24];
	const char *params[] = { fmt_i64(p_start, s->start), fmt_i64(p_end, s->end),
				 fmt_i64(p_step, s->step), fmt_i64(p_cid, q->consumer_id),
				 fmt_i64(p_api, q->api_id) };
	struct histogram *hist;
	PGresult *res;
	int row = 0, rows, r = 0;
	bool dirty = false;

	snprintf(sql, sizeof(sql), SERIES_SQL, s->table,
		 consumer_filter(q, "consumer_id = $4::bigint", "$4::bigint = 0"),
		 q->api_id ? "api_id = $5::bigint" : "$5::bigint = 0");
	hist = calloc(1, sizeof(*hist));
	if (!hist)
		return -ENOMEM;
	res = pg_exec(c, "read a usage series",
		      !s->totals ? sql : s->step == MINUTE ? TOTALS_MINUTE_SQL : TOTALS_SQL, 5, params);
	if (!res) {
		free(hist);
		return -EIO;
	}
	rows = PQntuples(res);
	for (int64_t t = s->start; t < s->end && !r; t += s->step) {
		struct figures f = { .hist = hist };

		if (dirty) {
			memset(hist, 0, sizeof(*hist));
			dirty = false;
		}
		while (row < rows && col_i64(res, row, 0) < t)
			row++; /* cannot happen: rows are inside the range, by bucket */
		if (row < rows && col_i64(res, row, 0) == t) {
			f.requests = col_u64(res, row, 1);
			f.refused = col_u64(res, row, 2);
			f.errors_4xx = col_u64(res, row, 3);
			f.errors_5xx = col_u64(res, row, 4);
			f.unanswered = col_u64(res, row, 5);
			f.answered = col_u64(res, row, 6);
			f.good = col_u64(res, row, 7);
			f.bytes_in = col_u64(res, row, 8);
			f.bytes_out = col_u64(res, row, 9);
			if (!PQgetisnull(res, row, 10)) {
				dirty = true;
				r = add_hist_texts(hist, PQgetvalue(res, row, 10));
			}
			row++;
		}
		if (!r)
			r = fn(ctx, t, &f);
	}
	PQclear(res);
	free(hist);
	return r;
}

/* the @q-quantile of @h into @ret_us; false when @h is empty */
static bool percentile(const struct histogram *h, double q, uint32_t *ret_us)
{
	return histogram_percentile(h, q, ret_us) == 0;
}

/* p50 and p99 of @h in one pass; false when @h is empty */
static bool p50_p99(const struct histogram *h, uint32_t *p50, uint32_t *p99)
{
	static const double q[] = { 0.5, 0.99 };
	uint32_t v[2];

	if (histogram_percentiles(h, q, 2, v))
		return false;
	*p50 = v[0];
	*p99 = v[1];
	return true;
}

/* A growing text buffer; failure is sticky and checked once. */
struct text {
	char *p;
	size_t len, cap;
	bool failed;
};

static void text_put(struct text *t, const char *s, size_t n)
{
	if (t->failed)
		return;
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 4096;
		char *p;

		while (cap < t->len + n + 1)
			cap *= 2;
		p = realloc(t->p, cap);
		if (!p) {
			t->failed = true;
			return;
		}
		t->p = p;
		t->cap = cap;
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

static void text_str(struct text *t, const char *s)
{
	text_put(t, s, strlen(s));
}

static void text_u64(struct text *t, uint64_t v)
{
	char buf[DECIMAL_U64_MAX];

	text_put(t, buf, (size_t)(decimal_u64(buf, v) - buf));
}

/* a count as count_json() prints it */
static void text_count(struct text *t, uint64_t n)
{
	text_u64(t, n > INT64_MAX ? INT64_MAX : n);
}

/*
 * Microseconds as ms_json() prints them: the real us / 1000 with
 * JSON_REAL_PRECISION(15) is its exact decimal (at most 10 digits), without
 * trailing zeros, and ".0" when whole; null when there was no sample.
 */
static void text_ms(struct text *t, bool present, uint64_t us)
{
	unsigned int ms_frac = (unsigned int)(us % 1000);
	char frac[4] = { '.', (char)('0' + ms_frac / 100), (char)('0' + ms_frac / 10 % 10),
			 (char)('0' + ms_frac % 10) };
	size_t n = 4;

	if (!present) {
		text_put(t, "null", 4);
		return;
	}
	text_u64(t, us / 1000);
	while (n > 2 && frac[n - 1] == '0')
		n--;
	text_put(t, frac, n);
}

static int usage_point(void *ctx, int64_t start, const struct figures *f)
{
	struct text *t = ctx;
	uint32_t p50 = 0, p99 = 0;
	bool has = p50_p99(f->hist, &p50, &p99);
	char ts[32];

	rfc3339(start, ts);
	text_str(t, t->len > 1 ? ",{\"ts\":\"" : "{\"ts\":\"");
	text_str(t, ts);
	text_str(t, "\",\"requests\":");
	text_count(t, f->requests);
	text_str(t, ",\"refused\":");
	text_count(t, f->refused);
	text_str(t, ",\"errors_4xx\":");
	text_count(t, f->errors_4xx);
	text_str(t, ",\"errors_5xx\":");
	text_count(t, f->errors_5xx);
	text_str(t, ",\"unanswered\":");
	text_count(t, f->unanswered);
	text_str(t, ",\"p50_ms\":");
	text_ms(t, has, p50);
	text_str(t, ",\"p99_ms\":");
	text_ms(t, has, p99);
	text_str(t, ",\"bytes_in\":");
	text_count(t, f->bytes_in);
	text_str(t, ",\"bytes_out\":");
	text_count(t, f->bytes_out);
	text_put(t, "}", 1);
	return t->failed ? -ENOMEM : 0;
}

int analytics_usage_text(PGconn *c, const struct analytics_query *q, char **ret,
			 size_t *ret_len)
{
	int64_t step = granularity_step(q->granularity);
	struct text t = { 0 };
	struct series s;
	int r;

	if (!step)
		return check_times(q) ? -EINVAL : -EDOM;
	r = series_plan(q, step, &s);
	if (r)
		return r;
	text_put(&t, "[", 1);
	r = t.failed ? -ENOMEM : series_run(c, q, &s, usage_point, &t);
	if (!r)
		text_put(&t, "]", 1);
	if (!r && t.failed)
		r = -ENOMEM;
	if (r) {
		free(t.p);
		return r;
	}
	*ret = t.p;
	*ret_len = t.len;
	return 0;
}

int analytics_usage(PGconn *c, const struct analytics_query *q, json_t **ret)
{
	json_t *points;
	size_t len;
	char *text;
	int r = analytics_usage_text(c, q, &text, &len);

	if (r)
		return r;
	points = json_loadb(text, len, 0, NULL);
	free(text);
	if (!points)
		return -ENOMEM;
	*ret = points;
	return 0;
}

/* ---- dimensions: top endpoints and geo ---------------------------------- */

/*
 * Day rows for the whole UTC days of the range, hour rows for the hours at
 * its edges: [h0, d0) and [d1, h1) hourly, [d0, d1) daily. The fewest rows,
 * and days past the hour rows' 13 months still count.
 */
struct dims_range {
	int64_t h0, d0, d1, h1;
};

static int dims_plan(const struct analytics_query *q, struct dims_range *ret)
{
	struct dims_range d;
	int r = check_times(q);

	if (r)
		return r;
	d.h0 = floor_to(q->from, HOUR);
	d.h1 = ceil_to(q->to, HOUR);
	d.d0 = ceil_to(d.h0, DAY);
	d.d1 = floor_to(d.h1, DAY);
	if (d.d0 >= d.d1)
		d.d0 = d.d1 = d.h1; /* no whole day: all of it hourly */
	*ret = d;
	return 0;
}

/* the rows of the range with @cols, "%1$s" the filters ($5, $6) */
#define DIMS_ROWS_SQL(cols)                                                                       \
	"SELECT " cols " FROM rollup_day WHERE ts >= to_timestamp($2::bigint)"                     \
	" AND ts < to_timestamp($3::bigint) %1$s"                                                  \
	" UNION ALL SELECT " cols " FROM rollup_hour WHERE ts >= to_timestamp($1::bigint)"         \
	" AND ts < to_timestamp($2::bigint) %1$s"                                                  \
	" UNION ALL SELECT " cols " FROM rollup_hour WHERE ts >= to_timestamp($3::bigint)"         \
	" AND ts < to_timestamp($4::bigint) %1$s"

#define ENDPOINTS_SQL                                                                             \
	"WITH r AS (" DIMS_ROWS_SQL("method, endpoint, status_class, verdict, requests,"         \
				    " summarized, unanswered, hist") ")"                          \
	" SELECT method, endpoint, sum(requests),"                                                 \
	" coalesce(sum(requests) FILTER (WHERE verdict <> 0), 0),"                                 \
	" coalesce(sum(requests - summarized - unanswered)"                                        \
	"  FILTER (WHERE verdict = 0 AND status_class = 4), 0),"                                   \
	" coalesce(sum(requests - summarized - unanswered)"                                        \
	"  FILTER (WHERE verdict = 0 AND status_class = 5), 0),"                                   \
	" coalesce(sum(unanswered) FILTER (WHERE verdict = 0), 0),"                                \
	" coalesce(sum(requests - summarized - unanswered)"                                        \
	"  FILTER (WHERE verdict = 0 AND status_class BETWEEN 1 AND 5), 0),"                       \
	" string_agg(hist::text, '') FILTER (WHERE verdict = 0 AND cardinality(hist) > 0)"         \
	" FROM r WHERE endpoint <> '' GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT $7::integer"

#define GEO_SQL                                                                                   \
	"WITH r AS (" DIMS_ROWS_SQL("country, requests") ")"                                       \
	" SELECT country, sum(requests) FROM r GROUP BY 1 ORDER BY 2 DESC, 1"

/* top endpoints (@limit > 0, $7) or geo (@limit 0) for @q over @d */
static PGresult *dims_exec(PGconn *c, const struct analytics_query *q, const struct dims_range *d,
			   unsigned int limit)
{
	char filters[128], sql[4096], v[7][24];
	const char *params[] = { fmt_i64(v[0], d->h0), fmt_i64(v[1], d->d0),
				 fmt_i64(v[2], d->d1), fmt_i64(v[3], d->h1),
				 fmt_i64(v[4], q->consumer_id), fmt_i64(v[5], q->api_id),
				 fmt_i64(v[6], limit) };

	snprintf(filters, sizeof(filters), "AND %s AND %s",
		 consumer_filter(q, "consumer_id = $5::bigint", "$5::bigint = 0"),
		 q->api_id ? "api_id = $6::bigint" : "$6::bigint = 0");
	snprintf(sql, sizeof(sql), limit ? ENDPOINTS_SQL : GEO_SQL, filters);
	return pg_exec(c, limit ? "read top endpoints" : "read usage by country", sql,
		       limit ? 7 : 6, params);
}

static int endpoint_json(PGresult *res, int row, struct histogram *hist, json_t **ret)
{
	const char *method = event_method_name((unsigned int)col_u64(res, row, 0));
	uint64_t errors_4xx = col_u64(res, row, 4), errors_5xx = col_u64(res, row, 5),
		 unanswered = col_u64(res, row, 6), answered = col_u64(res, row, 7);
	uint64_t outcomes = answered + unanswered;
	uint32_t p50 = 0, p99 = 0;
	json_t *e;
	bool has;
	int r;

	memset(hist, 0, sizeof(*hist));
	if (!PQgetisnull(res, row, 8)) {
		r = add_hist_texts(hist, PQgetvalue(res, row, 8));
		if (r)
			return r;
	}
	has = p50_p99(hist, &p50, &p99);
	e = json_object();
	if (!e)
		return -ENOMEM;
	r = set_new(e, "method", json_string(method ? method : "")) ||
			    set_new(e, "endpoint", json_string(PQgetvalue(res, row, 1))) ||
			    set_new(e, "requests", count_json(col_u64(res, row, 2))) ||
			    set_new(e, "refused", count_json(col_u64(res, row, 3))) ||
			    set_new(e, "errors_4xx", count_json(errors_4xx)) ||
			    set_new(e, "errors_5xx", count_json(errors_5xx)) ||
			    set_new(e, "unanswered", count_json(unanswered)) ||
			    set_new(e, "error_rate",
				    json_real(outcomes ? ratio4(errors_4xx + errors_5xx + unanswered,
								outcomes)
						       : 0.0)) ||
			    set_new(e, "p50_ms", ms_json(has, p50)) ||
			    set_new(e, "p99_ms", ms_json(has, p99))
		    ? -ENOMEM
		    : 0;
	if (r) {
		json_decref(e);
		return r;
	}
	*ret = e;
	return 0;
}

int analytics_top_endpoints(PGconn *c, const struct analytics_query *q, json_t **ret)
{
	unsigned int limit = q->limit ? q->limit : ANALYTICS_DEFAULT_LIMIT;
	struct histogram *hist;
	struct dims_range d;
	json_t *list;
	PGresult *res;
	int r;

	r = dims_plan(q, &d);
	if (r)
		return r;
	if (limit > ANALYTICS_MAX_LIMIT)
		return -EDOM;
	res = dims_exec(c, q, &d, limit);
	if (!res)
		return -EIO;
	hist = malloc(sizeof(*hist));
	list = json_array();
	r = hist && list ? 0 : -ENOMEM;
	for (int i = 0; i < PQntuples(res) && !r; i++) {
		json_t *e;

		r = endpoint_json(res, i, hist, &e);
		if (!r)
			r = append_new(list, e);
	}
	PQclear(res);
	free(hist);
	if (r) {
		json_decref(list);
		return r;
	}
	*ret = list;
	return 0;
}

int analytics_geo(PGconn *c, const struct analytics_query *q, json_t **ret)
{
	struct dims_range d;
	json_t *list;
	PGresult *res;
	int r;

	r = dims_plan(q, &d);
	if (r)
		return r;
	res = dims_exec(c, q, &d, 0);
	if (!res)
		return -EIO;
	list = json_array();
	r = list ? 0 : -ENOMEM;
	for (int i = 0; i < PQntuples(res) && !r; i++)
		r = append_new(list, json_pack("{s:s, s:o}", "country", PQgetvalue(res, i, 0),
					       "requests", count_json(col_u64(res, i, 1))));
	PQclear(res);
	if (r) {
		json_decref(list);
		return r;
	}
	*ret = list;
	return 0;
}

/* ---- realtime ----------------------------------------------------------- */

static int consumer_exists(PGconn *c, uint32_t consumer_id)
{
	char id[24];
	const char *params[] = { fmt_i64(id, consumer_id) };
	PGresult *res = pg_exec(c, "look up the consumer",
				"SELECT 1 FROM consumers WHERE id = $1::bigint", 1, params);
	int r;

	if (!res)
		return -EIO;
	r = PQntuples(res) ? 0 : -ENOENT;
	PQclear(res);
	return r;
}

struct api_count {
	uint32_t api_id; /* 0: requests no route claimed */
	const char *name;
	uint64_t requests;
};

static int by_requests_desc(const void *a, const void *b)
{
	const struct api_count *x = a, *y = b;

	if (x->requests != y->requests)
		return x->requests > y->requests ? -1 : 1;
	return x->api_id < y->api_id ? -1 : x->api_id > y->api_id;
}

/* MGET the day counters of @n APIs (@counts[i].api_id) of @consumer_id */
static int redis_counts(redisContext *rc, uint32_t consumer_id, const char *day,
			struct api_count *counts, size_t n)
{
	const char **argv = calloc(n + 1, sizeof(*argv));
	char *names = malloc(n * 48);
	redisReply *reply;
	int r = 0;

	if (!argv || !names) {
		free(argv);
		free(names);
		return -ENOMEM;
	}
	argv[0] = "MGET";
	for (size_t i = 0; i < n; i++) {
		snprintf(names + i * 48, 48, "usage:%" PRIu32 ":%" PRIu32 ":%s", consumer_id,
			 counts[i].api_id, day);
		argv[i + 1] = names + i * 48;
	}
	reply = rc->err ? NULL : redisCommandArgv(rc, (int)n + 1, argv, NULL);
	if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != n)
		r = -EIO;
	for (size_t i = 0; !r && i < n; i++) {
		redisReply *e = reply->element[i];

		if (e->type == REDIS_REPLY_STRING)
			counts[i].requests = strtoull(e->str, NULL, 10);
	}
	freeReplyObject(reply);
	free(argv);
	free(names);
	return r;
}

static int realtime_json(uint32_t consumer_id, const char *day_iso, time_t now,
			 struct api_count *counts, size_t n, json_t **ret)
{
	json_t *doc = json_object(), *apis = json_array();
	uint64_t total = 0;
	int r = doc && apis ? 0 : -ENOMEM;

	qsort(counts, n, sizeof(*counts), by_requests_desc);
	for (size_t i = 0; i < n && !r && counts[i].requests; i++) {
		total += counts[i].requests;
		r = append_new(apis, json_pack("{s:o, s:o, s:o}", "api_id",
					       counts[i].api_id ? id_json(counts[i].api_id)
								: json_null(),
					       "name",
					       counts[i].name ? json_string(counts[i].name)
							      : json_null(),
					       "requests", count_json(counts[i].requests)));
	}
	if (!r)
		r = set_new(doc, "consumer_id", id_json(consumer_id)) ||
				    set_new(doc, "day", json_string(day_iso)) ||
				    set_new(doc, "as_of", time_json(now)) ||
				    set_new(doc, "requests", count_json(total)) ||
				    set_new(doc, "apis", json_incref(apis))
			    ? -ENOMEM
			    : 0;
	json_decref(apis);
	if (r) {
		json_decref(doc);
		return r;
	}
	*ret = doc;
	return 0;
}

int analytics_realtime(redisContext *rc, PGconn *c, uint32_t consumer_id, time_t now,
		       json_t **ret)
{
	char day[16], day_iso[16];
	struct api_count *counts;
	time_t t = now_or_clock(now);
	PGresult *res;
	struct tm tm;
	size_t n;
	int r;

	r = consumer_exists(c, consumer_id);
	if (r)
		return r;
	if (!rc)
		return -EIO;
	res = pg_exec(c, "read the catalog", "SELECT id, name FROM apis ORDER BY id", 0, NULL);
	if (!res)
		return -EIO;
	gmtime_r(&t, &tm);
	strftime(day, sizeof(day), "%Y%m%d", &tm);
	strftime(day_iso, sizeof(day_iso), "%Y-%m-%d", &tm);
	n = (size_t)PQntuples(res) + 1;
	counts = calloc(n, sizeof(*counts));
	if (!counts) {
		PQclear(res);
		return -ENOMEM;
	}
	/* counts[0] is api 0; its name stays NULL */
	for (size_t i = 1; i < n; i++) {
		counts[i].api_id = (uint32_t)col_u64(res, (int)i - 1, 0);
		counts[i].name = PQgetvalue(res, (int)i - 1, 1);
	}
	r = redis_counts(rc, consumer_id, day, counts, n);
	if (!r)
		r = realtime_json(consumer_id, day_iso, t, counts, n, ret);
	free(counts);
	PQclear(res);
	return r;
}

/* ---- SLA ---------------------------------------------------------------- */

struct sla_eval {
	json_t *windows;
	int64_t window;
	bool has_uptime, has_p99;
	int64_t target_uptime_e4; /* apis.sla_uptime in 1/10000 of a percent */
	uint64_t target_p99_us;
	uint64_t requests, failures;
	struct histogram *total; /* all windows' latencies */
};

/* "99.9000" (numeric(7, 4)) as 999000 */
static int64_t parse_e4(const char *s)
{
	int64_t whole = 0, frac = 0;
	int digits = 0;

	for (; *s >= '0' && *s <= '9'; s++)
		whole = whole * 10 + (*s - '0');
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9' && digits < 4; s++, digits++)
			frac = frac * 10 + (*s - '0');
	for (; digits < 4; digits++)
		frac *= 10;
	return whole * 10000 + frac;
}

/* 100 x good / requests in percent, 4 decimals; as billing/sla.c rounds */
static json_t *uptime_json(uint64_t good, uint64_t requests)
{
	return requests ? json_real(ratio4((unsigned __int128)good * 100, requests)) : json_null();
}

static int sla_window(void *ctx, int64_t start, const struct figures *f)
{
	struct sla_eval *e = ctx;
	uint64_t requests = f->answered + f->unanswered, good = f->good;
	uint64_t latency_n = f->hist->total;
	uint32_t p99 = 0;
	bool has_p99 = percentile(f->hist, 0.99, &p99);
	json_t *w, *uptime_met = json_null(), *latency_met = json_null();
	int r;

	/* billing/sla.c: breach when good * 100 < target * requests, exactly */
	if (e->has_uptime && requests >= SLA_MIN_REQUESTS)
		uptime_met = json_boolean(!((unsigned __int128)good * 100 * 10000 <
					    (unsigned __int128)e->target_uptime_e4 * requests));
	if (e->has_p99 && latency_n >= SLA_MIN_REQUESTS)
		latency_met = json_boolean(!(p99 > e->target_p99_us));
	e->requests += requests;
	e->failures += requests - good;
	histogram_merge(e->total, f->hist);
	w = json_object();
	if (!w) {
		json_decref(uptime_met);
		json_decref(latency_met);
		return -ENOMEM;
	}
	r = set_new(w, "window_start", time_json(start)) ||
			    set_new(w, "window_end", time_json(start + e->window)) ||
			    set_new(w, "requests", count_json(requests)) ||
			    set_new(w, "failures", count_json(requests - good)) ||
			    set_new(w, "unanswered", count_json(f->unanswered)) ||
			    set_new(w, "uptime", uptime_json(good, requests)) ||
			    set_new(w, "latency_requests", count_json(latency_n)) ||
			    set_new(w, "p99_ms", ms_json(has_p99, p99)) ||
			    set_new(w, "uptime_met", uptime_met) ||
			    set_new(w, "latency_met", latency_met)
		    ? -ENOMEM
		    : 0;
	if (r) {
		json_decref(w);
		return r;
	}
	return append_new(e->windows, w);
}

/* the SLA alerts of the API meeting [start, end), as JSON */
static int sla_breaches(PGconn *c, uint32_t api_id, int64_t start, int64_t end, json_t **ret)
{
	char v[3][24];
	const char *params[] = { fmt_i64(v[0], api_id), fmt_i64(v[1], start), fmt_i64(v[2], end) };
	PGresult *res;
	json_t *list;
	int r;

	res = pg_exec(c, "read SLA alerts",
		      "SELECT id, kind, state, tg_rfc3339(opened_at), tg_rfc3339(resolved_at),"
		      " breached_windows, tg_rfc3339(last_breach_at), details::text,"
		      " resolution::text FROM alerts WHERE api_id = $1::bigint"
		      " AND kind IN ('sla_uptime', 'sla_latency')"
		      " AND opened_at < to_timestamp($3::bigint)"
		      " AND (resolved_at IS NULL OR resolved_at > to_timestamp($2::bigint))"
		      " ORDER BY opened_at, id",
		      3, params);
	if (!res)
		return -EIO;
	list = json_array();
	r = list ? 0 : -ENOMEM;
	for (int i = 0; i < PQntuples(res) && !r; i++) {
		json_t *details = json_loads(PQgetvalue(res, i, 7), 0, NULL);
		json_t *resolution = PQgetisnull(res, i, 8)
					     ? json_null()
					     : json_loads(PQgetvalue(res, i, 8), 0, NULL);

		r = append_new(list, json_pack("{s:o, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "id",
					       json_string(PQgetvalue(res, i, 0)), "kind",
					       PQgetvalue(res, i, 1), "state",
					       PQgetvalue(res, i, 2), "opened_at",
					       text_or_null(res, i, 3), "resolved_at",
					       text_or_null(res, i, 4), "breached_windows",
					       count_json(col_u64(res, i, 5)), "last_breach_at",
					       text_or_null(res, i, 6), "details",
					       details ? details : json_object(), "resolution",
					       resolution ? resolution : json_null()));
	}
	PQclear(res);
	if (r) {
		json_decref(list);
		return r;
	}
	*ret = list;
	return 0;
}

int analytics_api_sla(PGconn *c, const struct analytics_query *q, json_t **ret)
{
	struct analytics_query api_q = *q;
	struct sla_eval e = { 0 };
	char id[24];
	const char *params[] = { fmt_i64(id, q->api_id) };
	json_t *doc = NULL, *breaches = NULL;
	uint32_t p99 = 0;
	struct series s;
	PGresult *res;
	int64_t step;
	int r;

	step = q->window_seconds ? (int64_t)q->window_seconds : granularity_step(q->granularity);
	if (!step)
		return check_times(q) ? -EINVAL : -EDOM;
	api_q.consumer_id = 0; /* the API's figures, every consumer's requests */
	r = series_plan(&api_q, step, &s);
	if (r)
		return r;
	if (!q->api_id)
		return -ENOENT;
	res = pg_exec(c, "read the API's SLA targets",
		      "SELECT sla_uptime::text, sla_p99_ms FROM apis WHERE id = $1::bigint", 1,
		      params);
	if (!res)
		return -EIO;
	if (!PQntuples(res)) {
		PQclear(res);
		return -ENOENT;
	}
	e.window = step;
	e.has_uptime = !PQgetisnull(res, 0, 0);
	e.has_p99 = !PQgetisnull(res, 0, 1);
	e.target_uptime_e4 = e.has_uptime ? parse_e4(PQgetvalue(res, 0, 0)) : 0;
	e.target_p99_us = e.has_p99 ? col_u64(res, 0, 1) * 1000 : 0;
	doc = json_object();
	e.windows = json_array();
	e.total = calloc(1, sizeof(*e.total));
	r = doc && e.windows && e.total ? 0 : -ENOMEM;
	if (!r)
		r = set_new(doc, "api_id", id_json(q->api_id)) ||
				    set_new(doc, "from", time_json(s.start)) ||
				    set_new(doc, "to", time_json(s.end)) ||
				    set_new(doc, "window_seconds", json_integer(step)) ||
				    set_new(doc, "target_uptime",
					    e.has_uptime ? json_real((double)e.target_uptime_e4 /
								     10000.0)
							 : json_null()) ||
				    set_new(doc, "target_p99_ms",
					    e.has_p99 ? count_json(col_u64(res, 0, 1)) : json_null()) ||
				    set_new(doc, "min_requests", json_integer(SLA_MIN_REQUESTS))
			    ? -ENOMEM
			    : 0;
	PQclear(res);
	if (!r)
		r = series_run(c, &api_q, &s, sla_window, &e);
	if (!r)
		r = sla_breaches(c, q->api_id, s.start, s.end, &breaches);
	if (!r) {
		bool has_p99 = percentile(e.total, 0.99, &p99);

		r = set_new(doc, "requests", count_json(e.requests)) ||
				    set_new(doc, "failures", count_json(e.failures)) ||
				    set_new(doc, "uptime",
					    uptime_json(e.requests - e.failures, e.requests)) ||
				    set_new(doc, "p99_ms", ms_json(has_p99, p99)) ||
				    set_new(doc, "windows", json_incref(e.windows)) ||
				    set_new(doc, "breaches", breaches)
			    ? -ENOMEM
			    : 0;
		breaches = NULL;
	}
	json_decref(e.windows);
	free(e.total);
	if (r) {
		json_decref(doc);
		return r;
	}
	*ret = doc;
	return 0;
}

/* ---- deprecation -------------------------------------------------------- */

int analytics_api_deprecation(PGconn *c, uint32_t api_id, time_t now, json_t **ret)
{
	int64_t until = (int64_t)now_or_clock(now), since = until - ANALYTICS_DEPRECATION_DAYS * DAY;
	char v[3][24];
	const char *params[] = { fmt_i64(v[0], api_id), fmt_i64(v[1], since), fmt_i64(v[2], until) };
	json_t *doc = NULL, *consumers = NULL;
	PGresult *api, *res;
	int r;

	api = pg_exec(c, "read the API",
		      "SELECT name, version, tg_rfc3339(deprecated_at), tg_rfc3339(sunset_at)"
		      " FROM apis WHERE id = $1::bigint",
		      1, params);
	if (!api)
		return -EIO;
	if (!PQntuples(api)) {
		PQclear(api);
		return -ENOENT;
	}
	/* billing/deprecation.c counts the same rows: admitted, summaries
	 * included, hour rows starting in [now - 7 days, now), known consumers;
	 * the latest minute is looked for in that consumer's latest hour only */
	res = pg_exec(c, "read the API's recent consumers",
		      "SELECT h.consumer_id, k.name, k.email, h.requests,"
		      " tg_rfc3339(coalesce(m.last, h.last)), tg_rfc3339(n.notified)"
		      " FROM (SELECT consumer_id, sum(requests) AS requests, max(ts) AS last"
		      "  FROM rollup_hour WHERE api_id = $1::bigint AND verdict = 0"
		      "  AND ts >= to_timestamp($2::bigint) AND ts < to_timestamp($3::bigint)"
		      "  GROUP BY 1 HAVING sum(requests) > 0) h"
		      " JOIN consumers k ON k.id = h.consumer_id"
		      " LEFT JOIN LATERAL (SELECT max(ts) AS last FROM rollup_minute"
		      "  WHERE consumer_id = h.consumer_id AND api_id = $1::bigint AND verdict = 0"
		      "  AND requests > 0 AND ts >= h.last AND ts < h.last + interval '1 hour'"
		      "  AND ts < to_timestamp($3::bigint)) m ON true"
		      " LEFT JOIN LATERAL (SELECT max(created_at) AS notified FROM notices"
		      "  WHERE consumer_id = h.consumer_id AND api_id = $1::bigint) n ON true"
		      " ORDER BY h.requests DESC, h.consumer_id",
		      3, params);
	if (!res) {
		PQclear(api);
		return -EIO;
	}
	doc = json_object();
	consumers = json_array();
	r = doc && consumers ? 0 : -ENOMEM;
	for (int i = 0; i < PQntuples(res) && !r; i++)
		r = append_new(consumers,
			       json_pack("{s:s, s:s, s:s, s:o, s:o, s:o}", "consumer_id",
					 PQgetvalue(res, i, 0), "name", PQgetvalue(res, i, 1),
					 "email", PQgetvalue(res, i, 2), "requests",
					 count_json(col_u64(res, i, 3)), "last_seen_at",
					 text_or_null(res, i, 4), "notified_at",
					 text_or_null(res, i, 5)));
	if (!r)
		r = set_new(doc, "api_id", id_json(api_id)) ||
				    set_new(doc, "name", json_string(PQgetvalue(api, 0, 0))) ||
				    set_new(doc, "version", json_string(PQgetvalue(api, 0, 1))) ||
				    set_new(doc, "deprecated_at", text_or_null(api, 0, 2)) ||
				    set_new(doc, "sunset_at", text_or_null(api, 0, 3)) ||
				    set_new(doc, "since", time_json(since)) ||
				    set_new(doc, "until", time_json(until)) ||
				    set_new(doc, "consumers", json_incref(consumers))
			    ? -ENOMEM
			    : 0;
	json_decref(consumers);
	PQclear(res);
	PQclear(api);
	if (r) {
		json_decref(doc);
		return r;
	}
	*ret = doc;
	return 0;
}

/* ---- upcoming invoice --------------------------------------------------- */

static int money_minor_json(int64_t minor, unsigned int digits, json_t **ret)
{
	char buf[MONEY_STR_MAX];

	if (money_format_minor(minor, digits, buf, sizeof(buf)) < 0)
		return -ERANGE;
	*ret = json_string(buf);
	return *ret ? 0 : -ENOMEM;
}

static int line_json(const struct invoice_line *l, unsigned int digits, json_t **ret)
{
	char price[MONEY_STR_MAX];
	json_t *amount;

	if (money_format_price(l->unit_price, price, sizeof(price)) < 0 ||
	    money_minor_json(l->amount_minor, digits, &amount))
		return -ERANGE;
	*ret = json_pack("{s:o, s:s, s:i, s:s, s:I, s:s, s:o, s:I}", "plan_id", id_json(l->plan_id),
			 "kind", pricing_line_kind_name(l->kind), "tier", (int)l->tier,
			 "description", l->description, "quantity", (json_int_t)l->quantity,
			 "unit_price", price, "amount", amount, "amount_minor",
			 (json_int_t)l->amount_minor);
	return *ret ? 0 : -ENOMEM;
}

static int upcoming_json(const struct invoice_preview *u, uint32_t consumer_id,
			 const char *period, int64_t start, int64_t end, time_t now, json_t **ret)
{
	unsigned int digits = u->currency.minor_digits;
	json_t *doc = json_object(), *lines = json_array(), *total_s = NULL;
	int64_t total = u->total_minor;
	int r = doc && lines ? 0 : -ENOMEM;

	for (size_t i = 0; i < u->n_lines && !r; i++) {
		json_t *l;

		r = line_json(&u->lines[i], digits, &l);
		if (!r)
			r = append_new(lines, l);
	}
	if (!r)
		r = money_minor_json(total, digits, &total_s);
	if (!r)
		r = set_new(doc, "id", json_null()) ||
				    set_new(doc, "consumer_id", id_json(consumer_id)) ||
				    set_new(doc, "period", json_string(period)) ||
				    set_new(doc, "period_start", time_json(start)) ||
				    set_new(doc, "period_end", time_json(end)) ||
				    set_new(doc, "currency", json_string(u->currency.code)) ||
				    set_new(doc, "status", json_string("upcoming")) ||
				    set_new(doc, "reconciliation", json_null()) ||
				    set_new(doc, "as_of", time_json(now)) ||
				    set_new(doc, "lines", json_incref(lines)) ||
				    set_new(doc, "total", json_incref(total_s)) ||
				    set_new(doc, "total_minor", json_integer(total))
			    ? -ENOMEM
			    : 0;
	json_decref(lines);
	json_decref(total_s);
	if (r) {
		json_decref(doc);
		return r;
	}
	*ret = doc;
	return 0;
}

int analytics_upcoming_invoice(PGconn *c, uint32_t consumer_id, time_t now, json_t **ret)
{
	time_t t = now_or_clock(now);
	struct invoice_preview *u;
	struct invoice_period p;
	char period[16];
	struct tm tm;
	int r;

	r = consumer_exists(c, consumer_id);
	if (r)
		return r;
	gmtime_r(&t, &tm);
	strftime(period, sizeof(period), "%Y-%m", &tm);
	if (invoice_period_parse(period, &p))
		return -EINVAL;
	u = malloc(sizeof(*u));
	if (!u)
		return -ENOMEM;
	/* the very lines `tollgate-billing invoice` would write now */
	r = invoice_preview(c, consumer_id, period, u);
	if (!r)
		r = u->priced ? upcoming_json(u, consumer_id, period, p.end_time - (time_t)p.days * 86400,
					      p.end_time, t, ret)
			      : -ENODATA; /* billing writes no invoice without a plan to price */
	free(u);
	return r;
}
