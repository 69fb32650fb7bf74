/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Why one transaction for a whole run: an invoice run is idempotent (the
 * same rollups give the same lines), so all-or-nothing is the simplest
 * correct unit, and runs of several members are serialised by an advisory
 * lock. Invoices that would not change are not written at all, so re-running
 * changes nothing, not even updated_at.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "billing/invoice.h"
#include "billing/pg.h"
#include "billing/reconcile.h"
#include "lib/log.h"
#include "lib/pricing.h"

#define INVOICE_LOCK_ID "7310258410662392"
#define MAX_LINES INVOICE_MAX_LINES

struct plan_entry {
	struct pricing_plan plan;
	bool ok; /* parsed; a plan that does not parse is reported once */
};

struct plans {
	struct plan_entry *v;
	size_t n;
};

struct adjustment {
	int64_t id;
	uint32_t plan_id;
	uint64_t units;
	int64_t amount_minor;
	__int128 unit_price;
	unsigned int tier;
	char period[8]; /* of the source invoice, "YYYY-MM" */
};

struct existing {
	int64_t id;
	char status[16];
	char *fingerprint; /* the stored lines, as fingerprint() writes them */
	int64_t total_minor;
	bool reconciled; /* reconcile_period() found the sources agree */
	bool mismatch;	 /* it found they disagree */
};

struct consumer_usage {
	uint32_t consumer_id;
	uint32_t plan_ids[16];
	uint64_t units[16];
	unsigned int n;
};

static const struct plan_entry *plan_get(const struct plans *p, uint32_t id)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->v[i].plan.plan_id == id)
			return p->v[i].ok ? &p->v[i] : NULL;
	return NULL;
}

static int load_plans(PGconn *c, struct plans *ret)
{
	PGresult *res = pg_exec(
		c, "read plans",
		"SELECT id, json_build_object('id', id::text, 'name', name, 'currency', currency,"
		" 'tiers_mode', tiers_mode, 'tiers', tiers, 'period_fee', trim_scale(period_fee)::text,"
		" 'bill_server_errors', bill_server_errors)::text FROM plans ORDER BY id",
		0, NULL);
	struct plans p = { 0 };

	if (!res)
		return -EIO;
	p.n = (size_t)PQntuples(res);
	p.v = calloc(p.n ? p.n : 1, sizeof(*p.v));
	if (!p.v) {
		PQclear(res);
		return -ENOMEM;
	}
	for (size_t i = 0; i < p.n; i++) {
		char err[PRICING_ERR_MAX];

		p.v[i].plan.plan_id = (uint32_t)strtoul(PQgetvalue(res, (int)i, 0), NULL, 10);
		if (pricing_plan_from_json(PQgetvalue(res, (int)i, 1), &p.v[i].plan, err,
					   sizeof(err))) {
			log_error("plan %s cannot be priced: %s", PQgetvalue(res, (int)i, 0), err);
			continue;
		}
		p.v[i].ok = true;
	}
	PQclear(res);
	*ret = p;
	return 0;
}

/* a line as it is compared with the stored one: kind|plan|tier|qty|price|amount */
static int fingerprint_line(char **fp, size_t *len, const struct invoice_line *l)
{
	char price[64], line[256];
	int n;

	if (money_format(l->unit_price, 12, price, sizeof(price)) < 0)
		return -ERANGE;
	n = snprintf(line, sizeof(line), "%s%s|%" PRIu32 "|%u|%" PRIu64 "|%s|%" PRId64,
		     *len ? ";" : "", pricing_line_kind_name(l->kind), l->plan_id, l->tier,
		     l->quantity, price, l->amount_minor);
	char *p = realloc(*fp, *len + (size_t)n + 1);

	if (!p)
		return -ENOMEM;
	memcpy(p + *len, line, (size_t)n + 1);
	*fp = p;
	*len += (size_t)n;
	return 0;
}

struct run {
	PGconn *c;
	const char *period;  /* "YYYY-MM" */
	char period_date[24]; /* "YYYY-MM-01" */
	char start[48], end[48];
	bool finalize;
	uint32_t only_consumer; /* 0: every consumer */
	bool preview;		/* read only: no locks, nothing written */
	struct plans plans;
	struct invoice_preview *result; /* preview: where its one consumer's lines go */
	PGresult *existing;    /* this period's invoices, by consumer_id (prefetched) */
	PGresult *adjustments; /* adjustments it may charge, by consumer_id */
	int written, finalized, adjusted, skipped;
};

int invoice_period_parse(const char *period, struct invoice_period *ret)
{
	struct invoice_period p = { 0 };
	int pos = 0, ny, nm;
	struct tm tm = { 0 };

	if (strlen(period) != 7 || sscanf(period, "%4d-%2d%n", &p.year, &p.month, &pos) != 2 ||
	    period[pos] || period[4] != '-' || p.year < 2000 || p.month < 1 || p.month > 12)
		return -EINVAL;
	ny = p.month == 12 ? p.year + 1 : p.year;
	nm = p.month == 12 ? 1 : p.month + 1;
	snprintf(p.date, sizeof(p.date), "%04d-%02d-01", p.year, p.month);
	snprintf(p.start, sizeof(p.start), "%04d-%02d-01 00:00:00+00", p.year, p.month);
	snprintf(p.end, sizeof(p.end), "%04d-%02d-01 00:00:00+00", ny, nm);
	tm.tm_year = ny - 1900;
	tm.tm_mon = nm - 1;
	tm.tm_mday = 1;
	p.end_time = timegm(&tm);
	tm.tm_year = p.year - 1900;
	tm.tm_mon = p.month - 1;
	p.days = (unsigned int)((p.end_time - timegm(&tm)) / 86400);
	*ret = p;
	return 0;
}

static int period_bounds(struct run *run, const struct config *cfg)
{
	struct invoice_period p;

	if (invoice_period_parse(run->period, &p)) {
		log_error("--period: '%s' is not YYYY-MM", run->period);
		return -EINVAL;
	}
	snprintf(run->period_date, sizeof(run->period_date), "%s", p.date);
	snprintf(run->start, sizeof(run->start), "%s", p.start);
	snprintf(run->end, sizeof(run->end), "%s", p.end);
	run->finalize = time(NULL) >= p.end_time + (time_t)cfg->billing.grace_period;
	return 0;
}

/* Billable units per (consumer, plan) in the period (DESIGN §6 "Billable"),
 * and every plan a consumer held a key on then, with 0 units. */
static PGresult *query_usage(struct run *run)
{
	char cid[16];
	const char *params[] = { run->start, run->end, cid };

	snprintf(cid, sizeof(cid), "%" PRIu32, run->only_consumer);
	return pg_exec(run->c, "read billable usage",
		       "WITH u AS ("
		       " SELECT r.consumer_id, r.plan_id, sum(CASE"
		       "  WHEN r.status_class BETWEEN 1 AND 4 THEN r.requests"
		       "  WHEN r.status_class = 5 AND p.bill_server_errors THEN r.requests"
		       "  ELSE r.summarized END) AS units"
		       " FROM rollup_day r JOIN plans p ON p.id = r.plan_id"
		       " WHERE r.ts >= $1 AND r.ts < $2 AND r.verdict = 0"
		       " AND ($3::bigint = 0 OR r.consumer_id = $3::bigint)"
		       " GROUP BY 1, 2"
		       " UNION ALL"
		       " SELECT DISTINCT k.consumer_id, k.plan_id, 0 FROM api_keys k"
		       " WHERE k.created_at < $2 AND (k.revoked_at IS NULL OR k.revoked_at >= $1)"
		       " AND ($3::bigint = 0 OR k.consumer_id = $3::bigint))"
		       " SELECT u.consumer_id, u.plan_id, sum(u.units)::text FROM u"
		       " JOIN consumers c ON c.id = u.consumer_id"
		       " GROUP BY 1, 2 ORDER BY 1, 2",
		       3, params);
}

/*
 * One query each for what a run needs to know per consumer, instead of one
 * per consumer: this period's invoices (locked) with their lines as
 * fingerprints, and the adjustments of earlier months not yet charged or
 * charged on one of this period's drafts. Both ordered by consumer_id.
 */
#define EXISTING_SQL                                                                               \
	"SELECT i.consumer_id, i.id, i.status, i.total_minor, coalesce((SELECT"                    \
	" string_agg(l.kind || '|' || l.plan_id || '|' || l.tier || '|' || l.quantity"            \
	" || '|' || l.unit_price || '|' || l.amount_minor, ';' ORDER BY l.line_no)"               \
	" FROM invoice_lines l WHERE l.invoice_id = i.id), ''),"                                   \
	" coalesce(i.reconciliation->>'status', '')"                                               \
	" FROM invoices i WHERE i.period = $1 AND ($2::bigint = 0 OR i.consumer_id = $2::bigint)"  \
	" ORDER BY i.consumer_id"

static int prefetch(struct run *run)
{
	char cid[16];
	const char *params[] = { run->period_date, cid };

	snprintf(cid, sizeof(cid), "%" PRIu32, run->only_consumer);
	/* a preview reads without locking: it must not wait for a running invoice run */
	run->existing = pg_exec(run->c, "read this period's invoices",
				run->preview ? EXISTING_SQL : EXISTING_SQL " FOR UPDATE", 2, params);
	if (!run->existing)
		return -EIO;
	run->adjustments = pg_exec(
		run->c, "read adjustments",
		"SELECT s.consumer_id, a.id, a.plan_id, a.units::text, a.amount_minor,"
		" a.unit_price::text, a.tier, to_char(s.period, 'YYYY-MM'),"
		" coalesce(a.charged_invoice_id, 0) FROM invoice_adjustments a"
		" JOIN invoices s ON s.id = a.source_invoice_id"
		" WHERE s.period < $1 AND ($2::bigint = 0 OR s.consumer_id = $2::bigint)"
		" AND (a.charged_invoice_id IS NULL OR a.charged_invoice_id IN"
		" (SELECT id FROM invoices WHERE period = $1)) ORDER BY s.consumer_id, a.id",
		2, params);
	return run->adjustments ? 0 : -EIO;
}

/* the first row of @res (ordered by its column 0) for @consumer_id, or -1 */
static int find_row(PGresult *res, uint32_t consumer_id)
{
	int lo = 0, hi = PQntuples(res);

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;

		if (strtoul(PQgetvalue(res, mid, 0), NULL, 10) < consumer_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < PQntuples(res) && strtoul(PQgetvalue(res, lo, 0), NULL, 10) == consumer_id
		       ? lo
		       : -1;
}

static int load_existing(struct run *run, uint32_t consumer_id, struct existing *ret)
{
	int i = find_row(run->existing, consumer_id);

	memset(ret, 0, sizeof(*ret));
	if (i < 0)
		return 0;
	ret->id = strtoll(PQgetvalue(run->existing, i, 1), NULL, 10);
	snprintf(ret->status, sizeof(ret->status), "%s", PQgetvalue(run->existing, i, 2));
	ret->total_minor = strtoll(PQgetvalue(run->existing, i, 3), NULL, 10);
	ret->fingerprint = strdup(PQgetvalue(run->existing, i, 4));
	ret->reconciled = !strcmp(PQgetvalue(run->existing, i, 5), "ok");
	ret->mismatch = !strcmp(PQgetvalue(run->existing, i, 5), "mismatch");
	return ret->fingerprint ? 0 : -ENOMEM;
}

/* Late units of a finalized invoice: what the rollups hold beyond what it and
 * its earlier adjustments charged becomes a new adjustment. */
static int carry_late_units(struct run *run, const struct consumer_usage *u,
			    const struct existing *inv)
{
	for (unsigned int i = 0; i < u->n; i++) {
		const struct plan_entry *pe = plan_get(&run->plans, u->plan_ids[i]);
		char iid[24], pid[16], units[24], amount[24], price[64], tier[8];
		const char *params[] = { iid, pid, units, amount, price, tier };
		struct invoice_line line;
		uint64_t charged;
		PGresult *res;

		if (!pe)
			continue;
		snprintf(iid, sizeof(iid), "%" PRId64, inv->id);
		snprintf(pid, sizeof(pid), "%" PRIu32, u->plan_ids[i]);
		res = pg_exec(run->c, "read charged units",
			      "SELECT (coalesce((SELECT quantity FROM invoice_usage WHERE"
			      " invoice_id = $1 AND plan_id = $2), 0) + coalesce((SELECT sum(units)"
			      " FROM invoice_adjustments WHERE source_invoice_id = $1 AND"
			      " plan_id = $2), 0))::text",
			      2, params);
		if (!res)
			return -EIO;
		charged = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
		if (u->units[i] <= charged)
			continue;
		if (pricing_adjustment(&pe->plan, charged, u->units[i] - charged, run->period,
				       &line))
			return -ERANGE;
		snprintf(units, sizeof(units), "%" PRIu64, line.quantity);
		snprintf(amount, sizeof(amount), "%" PRId64, line.amount_minor);
		money_format(line.unit_price, 12, price, sizeof(price));
		snprintf(tier, sizeof(tier), "%u", line.tier);
		if (pg_command(run->c, "record an adjustment",
			       "INSERT INTO invoice_adjustments (source_invoice_id, plan_id, units,"
			       " amount_minor, unit_price, tier) VALUES ($1, $2, $3, $4, $5, $6)",
			       6, params))
			return -EIO;
		log_info("consumer %" PRIu32 ": %" PRIu64 " late units of %s on plan %" PRIu32
			 " for the next invoice",
			 u->consumer_id, line.quantity, run->period, u->plan_ids[i]);
		run->adjusted++;
	}
	return 0;
}

/* adjustments not yet charged, or charged on this (draft) invoice */
static int load_adjustments(struct run *run, uint32_t consumer_id, int64_t invoice_id,
			    struct adjustment *adj, size_t max, size_t *ret_n)
{
	PGresult *res = run->adjustments;
	size_t n = 0;
	int i = find_row(res, consumer_id);

	for (; i >= 0 && i < PQntuples(res) && n < max &&
	       strtoul(PQgetvalue(res, i, 0), NULL, 10) == consumer_id;
	     i++) {
		int64_t charged = strtoll(PQgetvalue(res, i, 8), NULL, 10);
		struct adjustment *a = &adj[n];

		if (charged && charged != invoice_id)
			continue;
		a->id = strtoll(PQgetvalue(res, i, 1), NULL, 10);
		a->plan_id = (uint32_t)strtoul(PQgetvalue(res, i, 2), NULL, 10);
		a->units = strtoull(PQgetvalue(res, i, 3), NULL, 10);
		a->amount_minor = strtoll(PQgetvalue(res, i, 4), NULL, 10);
		if (money_parse(PQgetvalue(res, i, 5), &a->unit_price))
			a->unit_price = 0;
		a->tier = (unsigned int)strtoul(PQgetvalue(res, i, 6), NULL, 10);
		snprintf(a->period, sizeof(a->period), "%s", PQgetvalue(res, i, 7));
		n++;
	}
	*ret_n = n;
	return 0;
}

/* a Postgres array literal "{a,b,c}" built value by value, for unnest() */
struct pg_array {
	char *text;
	size_t len, cap;
};

static int array_add(struct pg_array *a, const char *value, bool quote)
{
	size_t need = a->len + 2 * strlen(value) + 6; /* , "" and 2 spare */

	if (need > a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 256;
		char *t;

		while (cap < need)
			cap *= 2;
		t = realloc(a->text, cap);
		if (!t)
			return -ENOMEM;
		a->text = t;
		a->cap = cap;
	}
	char sep = a->len ? ',' : '{';

	a->text[a->len++] = sep;
	if (quote)
		a->text[a->len++] = '"';
	for (const char *p = value; *p; p++) {
		if (quote && (*p == '"' || *p == '\\'))
			a->text[a->len++] = '\\';
		a->text[a->len++] = *p;
	}
	if (quote)
		a->text[a->len++] = '"';
	a->text[a->len] = '\0';
	return 0;
}

/* the literal, closed in the two bytes array_add() always leaves free */
static const char *array_text(struct pg_array *a)
{
	if (!a->len)
		return "{}";
	a->text[a->len] = '}';
	a->text[a->len + 1] = '\0';
	return a->text;
}

/* every line of one invoice in one statement */
static int insert_lines(struct run *run, const char *iid, const struct invoice_line *lines,
			size_t n)
{
	struct pg_array no = { 0 }, pid = { 0 }, kind = { 0 }, tier = { 0 }, desc = { 0 },
			qty = { 0 }, price = { 0 }, amount = { 0 };
	int r = 0;

	if (!n)
		return 0;
	for (size_t i = 0; i < n && !r; i++) {
		const struct invoice_line *l = &lines[i];
		char v[8][64];

		snprintf(v[0], sizeof(v[0]), "%zu", i + 1);
		snprintf(v[1], sizeof(v[1]), "%" PRIu32, l->plan_id);
		snprintf(v[2], sizeof(v[2]), "%u", l->tier);
		snprintf(v[3], sizeof(v[3]), "%" PRIu64, l->quantity);
		if (money_format(l->unit_price, 12, v[4], sizeof(v[4])) < 0)
			r = -ERANGE;
		snprintf(v[5], sizeof(v[5]), "%" PRId64, l->amount_minor);
		if (!r)
			r = array_add(&no, v[0], false) || array_add(&pid, v[1], false) ||
					    array_add(&kind, pricing_line_kind_name(l->kind), true) ||
					    array_add(&tier, v[2], false) ||
					    array_add(&desc, l->description, true) ||
					    array_add(&qty, v[3], false) || array_add(&price, v[4], false) ||
					    array_add(&amount, v[5], false)
				    ? -ENOMEM
				    : 0;
	}
	if (!r) {
		const char *p[] = { iid,
				    array_text(&no),
				    array_text(&pid),
				    array_text(&kind),
				    array_text(&tier),
				    array_text(&desc),
				    array_text(&qty),
				    array_text(&price),
				    array_text(&amount) };

		r = pg_command(run->c, "write the lines",
			       "INSERT INTO invoice_lines (invoice_id, line_no, plan_id, kind, tier,"
			       " description, quantity, unit_price, amount_minor)"
			       " SELECT $1, * FROM unnest($2::int[], $3::bigint[], $4::text[],"
			       " $5::int[], $6::text[], $7::numeric[], $8::numeric[], $9::bigint[])",
			       9, p);
	}
	free(no.text);
	free(pid.text);
	free(kind.text);
	free(tier.text);
	free(desc.text);
	free(qty.text);
	free(price.text);
	free(amount.text);
	return r;
}

static int insert_usage(struct run *run, const char *iid, const struct consumer_usage *u)
{
	struct pg_array pid = { 0 }, qty = { 0 };
	int r = 0;

	for (unsigned int i = 0; i < u->n && !r; i++) {
		char a[24], b[24];

		snprintf(a, sizeof(a), "%" PRIu32, u->plan_ids[i]);
		snprintf(b, sizeof(b), "%" PRIu64, u->units[i]);
		r = array_add(&pid, a, false) || array_add(&qty, b, false) ? -ENOMEM : 0;
	}
	if (!r && u->n) {
		const char *p[] = { iid, array_text(&pid), array_text(&qty) };

		r = pg_command(run->c, "write invoiced usage",
			       "INSERT INTO invoice_usage (invoice_id, plan_id, quantity)"
			       " SELECT $1, * FROM unnest($2::bigint[], $3::numeric[])",
			       3, p);
	}
	free(pid.text);
	free(qty.text);
	return r;
}

static int write_invoice(struct run *run, uint32_t consumer_id, const struct existing *inv,
			 const char *currency, const struct invoice_line *lines, size_t n_lines,
			 int64_t total, const struct consumer_usage *u, const struct adjustment *adj,
			 size_t n_adj, const char *status)
{
	char cid[16], total_s[24], iid[24];
	const char *params[] = { cid, run->period_date, run->start, run->end, currency, total_s,
				 status };
	PGresult *res;
	int64_t id;
	int r;

	snprintf(cid, sizeof(cid), "%" PRIu32, consumer_id);
	snprintf(total_s, sizeof(total_s), "%" PRId64, total);
	res = pg_exec(run->c, "write the invoice",
		      "INSERT INTO invoices (consumer_id, period, period_start, period_end,"
		      " currency, total_minor, status, finalized_at) VALUES ($1, $2, $3, $4, $5,"
		      " $6, $7, CASE WHEN $7 = 'finalized' THEN now() END)"
		      " ON CONFLICT (consumer_id, period) DO UPDATE SET currency = $5,"
		      " total_minor = $6, status = $7, updated_at = now(),"
		      " finalized_at = CASE WHEN $7 = 'finalized' THEN now() END RETURNING id",
		      7, params);
	if (!res)
		return -EIO;
	id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	snprintf(iid, sizeof(iid), "%" PRId64, id);
	{
		const char *p[] = { iid };

		if (inv->id &&
		    (pg_command(run->c, "replace lines",
				"DELETE FROM invoice_lines WHERE invoice_id = $1", 1, p) ||
		     pg_command(run->c, "replace usage",
				"DELETE FROM invoice_usage WHERE invoice_id = $1", 1, p) ||
		     pg_command(run->c, "release adjustments",
				"UPDATE invoice_adjustments SET charged_invoice_id = NULL"
				" WHERE charged_invoice_id = $1",
				1, p)))
			return -EIO;
	}
	r = insert_lines(run, iid, lines, n_lines);
	if (!r)
		r = insert_usage(run, iid, u);
	if (r)
		return r;
	for (size_t i = 0; i < n_adj; i++) {
		char aid[24];
		const char *p[] = { iid, aid };

		snprintf(aid, sizeof(aid), "%" PRId64, adj[i].id);
		if (pg_command(run->c, "charge an adjustment",
			       "UPDATE invoice_adjustments SET charged_invoice_id = $1 WHERE id = $2",
			       2, p))
			return -EIO;
	}
	return 0;
}

/*
 * The lines of @u's invoice as they stand: each plan's billable units priced
 * with lib/pricing (one currency per invoice: a plan in another is left out,
 * as is a plan that cannot be priced), then the adjustments it charges
 * (returned in @adj for write_invoice()). @ret->priced is false when no plan
 * could be priced: there is no invoice to write.
 */
static int price_consumer(struct run *run, const struct consumer_usage *u, int64_t invoice_id,
			  struct invoice_preview *ret, struct adjustment *adj, size_t max_adj,
			  size_t *ret_n_adj)
{
	struct invoice_preview *p = ret;
	size_t n_adj = 0;
	int r;

	memset(p, 0, sizeof(*p));
	for (unsigned int i = 0; i < u->n; i++) {
		const struct plan_entry *pe = plan_get(&run->plans, u->plan_ids[i]);
		size_t n;

		if (!pe) {
			if (!run->preview)
				log_error("consumer %" PRIu32 ": plan %" PRIu32 " cannot be priced; "
					  "its %" PRIu64 " units are left out of the %s invoice",
					  u->consumer_id, u->plan_ids[i], u->units[i], run->period);
			continue;
		}
		if (p->priced && strcmp(p->currency.code, pe->plan.currency.code)) {
			if (!run->preview)
				log_error("consumer %" PRIu32 ": plans in %s and %s; one invoice "
					  "holds one currency, plan %" PRIu32 " is left out",
					  u->consumer_id, p->currency.code, pe->plan.currency.code,
					  u->plan_ids[i]);
			continue;
		}
		p->currency = pe->plan.currency;
		p->priced = true;
		if (MAX_LINES - p->n_lines < PRICING_MAX_LINES)
			return -ENOSPC;
		r = pricing_price(&pe->plan, u->units[i], p->lines + p->n_lines,
				  MAX_LINES - p->n_lines, &n);
		if (r)
			return r;
		p->n_lines += n;
	}
	r = load_adjustments(run, u->consumer_id, invoice_id, adj, max_adj, &n_adj);
	if (r)
		return r;
	for (size_t i = 0; i < n_adj && p->n_lines < MAX_LINES; i++) {
		struct invoice_line *l = &p->lines[p->n_lines++];

		memset(l, 0, sizeof(*l));
		l->plan_id = adj[i].plan_id;
		l->kind = INVOICE_LINE_ADJUSTMENT;
		l->tier = adj[i].tier;
		l->quantity = adj[i].units;
		l->unit_price = adj[i].unit_price;
		l->amount_minor = adj[i].amount_minor;
		snprintf(l->description, sizeof(l->description), "adjustment %s", adj[i].period);
	}
	*ret_n_adj = n_adj;
	return pricing_total(p->lines, p->n_lines, &p->total_minor);
}

static int invoice_consumer(struct run *run, const struct consumer_usage *u)
{
	struct invoice_preview *p = malloc(sizeof(*p));
	struct adjustment adj[MAX_LINES / 2];
	struct existing inv = { 0 };
	char *fp = NULL;
	size_t n_adj = 0, fp_len = 0;
	const char *status;
	int r;

	if (!p)
		return -ENOMEM;
	r = load_existing(run, u->consumer_id, &inv);
	if (r)
		goto out;
	if (run->preview) {
		r = price_consumer(run, u, inv.id, run->result, adj, sizeof(adj) / sizeof(adj[0]),
				   &n_adj);
		goto out;
	}
	if (inv.id && strcmp(inv.status, "draft")) {
		r = carry_late_units(run, u, &inv);
		goto out;
	}
	r = price_consumer(run, u, inv.id, p, adj, sizeof(adj) / sizeof(adj[0]), &n_adj);
	if (r || !p->priced)
		goto out; /* nothing this consumer can be invoiced for */
	for (size_t i = 0; i < p->n_lines && !r; i++)
		r = fingerprint_line(&fp, &fp_len, &p->lines[i]);
	if (r)
		goto out;
	/* only a reconciled invoice is finalized; a mismatch holds it back
	 * (DESIGN §6), so does not having been reconciled yet */
	status = run->finalize && inv.reconciled ? "finalized" : "draft";
	if (run->finalize && inv.mismatch)
		log_warn("consumer %" PRIu32 ": the %s invoice stays a draft: its reconciliation "
			 "found a mismatch",
			 u->consumer_id, run->period);
	if (inv.id && !strcmp(inv.fingerprint, fp ? fp : "") && p->total_minor == inv.total_minor &&
	    !strcmp(status, inv.status)) {
		run->skipped++;
		goto out;
	}
	r = write_invoice(run, u->consumer_id, &inv, p->currency.code, p->lines, p->n_lines,
			  p->total_minor, u, adj, n_adj, status);
	if (!r) {
		char amount[32];

		money_format_minor(p->total_minor, p->currency.minor_digits, amount, sizeof(amount));
		log_debug("consumer %" PRIu32 ": %s invoice %s %s", u->consumer_id, status, amount,
			  p->currency.code);
		run->written++;
		if (!strcmp(status, "finalized"))
			run->finalized++;
	}
out:
	free(fp);
	free(inv.fingerprint);
	free(p);
	return r;
}

/* Price (and unless previewing, write) every consumer of the period's usage. */
static int run_consumers(struct run *run)
{
	struct consumer_usage u = { 0 };
	PGresult *res;
	int r;

	r = load_plans(run->c, &run->plans);
	if (!r)
		r = prefetch(run);
	if (r)
		return r;
	res = query_usage(run);
	if (!res)
		return -EIO;
	for (int i = 0; !r && i <= PQntuples(res); i++) {
		uint32_t cid = i < PQntuples(res) ? (uint32_t)strtoul(PQgetvalue(res, i, 0), NULL, 10)
						  : 0;

		if (u.n && cid != u.consumer_id) {
			r = invoice_consumer(run, &u);
			u.n = 0;
		}
		if (r || i == PQntuples(res))
			break;
		u.consumer_id = cid;
		if (u.n == sizeof(u.plan_ids) / sizeof(u.plan_ids[0])) {
			log_error("consumer %" PRIu32 ": more than %zu plans; the rest are left out",
				  cid, sizeof(u.plan_ids) / sizeof(u.plan_ids[0]));
			continue;
		}
		u.plan_ids[u.n] = (uint32_t)strtoul(PQgetvalue(res, i, 1), NULL, 10);
		u.units[u.n] = strtoull(PQgetvalue(res, i, 2), NULL, 10);
		u.n++;
	}
	PQclear(res);
	return r;
}

static void run_free(struct run *run)
{
	PQclear(run->existing);
	PQclear(run->adjustments);
	free(run->plans.v);
}

int invoice_run(PGconn *c, const struct config *cfg, const char *period)
{
	struct run run = { .c = c, .period = period };
	int r;

	r = period_bounds(&run, cfg);
	if (r)
		return r;
	if (pg_command(c, "begin", "BEGIN", 0, NULL))
		return -EIO;
	r = pg_command(c, "take the invoice lock", "SELECT pg_advisory_xact_lock(" INVOICE_LOCK_ID ")",
		       0, NULL);
	if (!r)
		r = run_consumers(&run);
	run_free(&run);
	if (!r)
		r = pg_command(c, "commit", "COMMIT", 0, NULL);
	if (r) {
		PQclear(PQexec(c, "ROLLBACK"));
		log_error("invoice run for %s failed; nothing was written", period);
		return r < 0 ? r : -EIO;
	}
	log_info("invoices for %s: %d written (%d finalized), %d unchanged, %d late-unit "
		 "adjustments",
		 period, run.written, run.finalized, run.skipped, run.adjusted);
	return run.written;
}

int invoice_preview(PGconn *c, uint32_t consumer_id, const char *period,
		    struct invoice_preview *ret)
{
	struct run run = { .c = c, .period = period, .only_consumer = consumer_id,
			   .preview = true, .result = ret };
	struct invoice_period p;
	int r;

	if (!consumer_id || invoice_period_parse(period, &p))
		return -EINVAL;
	snprintf(run.period_date, sizeof(run.period_date), "%s", p.date);
	snprintf(run.start, sizeof(run.start), "%s", p.start);
	snprintf(run.end, sizeof(run.end), "%s", p.end);
	memset(ret, 0, sizeof(*ret));
	r = run_consumers(&run);
	run_free(&run);
	return r;
}

int invoice_month(PGconn *c, const struct config *cfg, const char *period, time_t now)
{
	struct invoice_period p;
	int r = invoice_run(c, cfg, period);

	if (r < 0 || invoice_period_parse(period, &p) || now < p.end_time)
		return r;
	/* an ended month: reconcile its drafts, then finalize the clean ones
	 * whose grace period is over */
	if (reconcile_period(c, cfg, period, now) < 0)
		return r;
	return invoice_run(c, cfg, period);
}

int invoice_run_requests(PGconn *c, const struct config *cfg)
{
	int n = 0;

	for (;;) {
		char id[24], period[16], count[16];
		PGresult *res;
		int r;

		res = pg_exec(c, "claim an invoice run request",
			      "UPDATE invoice_runs SET status = 'running', started_at = now()"
			      " WHERE id = (SELECT id FROM invoice_runs WHERE status = 'pending'"
			      " OR (status = 'running' AND started_at < now() - interval '15 minutes')"
			      " ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)"
			      " RETURNING id, to_char(period, 'YYYY-MM')",
			      0, NULL);
		if (!res)
			return -EIO;
		if (PQntuples(res) == 0) {
			PQclear(res);
			return n;
		}
		snprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, 0));
		snprintf(period, sizeof(period), "%s", PQgetvalue(res, 0, 1));
		PQclear(res);
		log_info("invoice run %s for %s requested", id, period);
		r = invoice_month(c, cfg, period, time(NULL));
		snprintf(count, sizeof(count), "%d", r < 0 ? 0 : r);
		{
			const char *p[] = { id, r < 0 ? "failed" : "done", count,
					    r < 0 ? "the invoice run failed; see the billing log"
						  : NULL };

			if (pg_command(c, "finish an invoice run request",
				       "UPDATE invoice_runs SET status = $2, invoices = $3, error = $4,"
				       " finished_at = now() WHERE id = $1",
				       4, p))
				return -EIO;
		}
		n++;
	}
}
