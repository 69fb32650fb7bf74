/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dashboard-api/db.h"
#include "dashboard-api/invoices.h"
#include "dashboard-api/jsonin.h"
#include "lib/money.h"

#define INVOICE_JSON                                                                           \
	"json_build_object('id', i.id::text, 'object', 'invoice', 'consumer_id',"              \
	" i.consumer_id::text, 'period', to_char(i.period, 'YYYY-MM'), 'period_start',"         \
	" tg_rfc3339(i.period_start), 'period_end', tg_rfc3339(i.period_end), 'currency',"      \
	" i.currency, 'status', i.status, 'lines', coalesce((SELECT json_agg(json_build_object(" \
	"'plan_id', l.plan_id::text, 'kind', l.kind, 'description', l.description, 'quantity',"  \
	" l.quantity, 'unit_price', trim_scale(l.unit_price)::text, 'amount_minor',"            \
	" l.amount_minor) ORDER BY l.line_no) FROM invoice_lines l WHERE l.invoice_id = i.id),"  \
	" '[]'), 'total_minor', i.total_minor, 'reconciliation', i.reconciliation,"             \
	" 'created_at', tg_rfc3339(i.created_at), 'finalized_at', tg_rfc3339(i.finalized_at),"  \
	" 'paid_at', tg_rfc3339(i.paid_at))::text"

#define RUN_JSON                                                                               \
	"json_build_object('id', r.id::text, 'object', 'invoice_run', 'period',"               \
	" to_char(r.period, 'YYYY-MM'), 'status', r.status, 'invoices', r.invoices, 'error',"   \
	" r.error, 'requested_at', tg_rfc3339(r.requested_at), 'started_at',"                  \
	" tg_rfc3339(r.started_at), 'finished_at', tg_rfc3339(r.finished_at))::text"

#define INVOICE_CHANNEL "tollgate_invoice_run" /* billing/invoice.h */

/* the decimal "amount" beside each *_minor, in the invoice's currency */
static int add_amounts(json_t *inv)
{
	struct currency cur;
	char buf[MONEY_STR_MAX];
	size_t i;
	json_t *line;

	if (money_currency(json_string_value(json_object_get(inv, "currency")), &cur))
		return -EINVAL;
	json_array_foreach(json_object_get(inv, "lines"), i, line) {
		json_int_t minor = json_integer_value(json_object_get(line, "amount_minor"));

		if (money_format_minor(minor, cur.minor_digits, buf, sizeof(buf)) < 0)
			return -ERANGE;
		json_object_set_new(line, "amount", json_string(buf));
	}
	if (money_format_minor(json_integer_value(json_object_get(inv, "total_minor")),
			       cur.minor_digits, buf, sizeof(buf)) < 0)
		return -ERANGE;
	json_object_set_new(inv, "total", json_string(buf));
	return 0;
}

int invoices_list(struct request *req, struct reply *rep)
{
	const char *params[] = { req->id_text[0] };

	return db_reply_list(req, rep,
			     "SELECT " INVOICE_JSON " FROM invoices i WHERE i.consumer_id = $1"
			     " AND ($2::bigint IS NULL OR i.id > $2) ORDER BY i.id LIMIT $3",
			     1, params, add_amounts);
}

int invoices_get(struct request *req, struct reply *rep)
{
	const char *params[] = { req->id_text[0], request_owner(req) };

	return db_reply_one(req, rep, 200, "invoice",
			    "SELECT " INVOICE_JSON " FROM invoices i WHERE i.id = $1"
			    " AND ($2::bigint IS NULL OR i.consumer_id = $2)",
			    2, params, add_amounts);
}

static bool period_valid(const char *p)
{
	return strlen(p) == 7 && p[4] == '-' && p[0] >= '1' && p[0] <= '9' &&
	       strspn(p, "0123456789") == 4 && strspn(p + 5, "0123456789") == 2 &&
	       ((p[5] == '0' && p[6] >= '1') || (p[5] == '1' && p[6] <= '2'));
}

int invoices_run(struct request *req, struct reply *rep)
{
	static const char *const fields[] = { "period", NULL };
	static const char sql[] = "WITH lock AS (SELECT pg_advisory_xact_lock(hashtext('tollgate "
				  "invoice run ' || $1))),"
				  " open AS (SELECT r.id FROM invoice_runs r, lock WHERE r.period "
				  "= ($1 || '-01')::date"
				  " AND r.status IN ('pending', 'running') ORDER BY r.id LIMIT 1)"
				  " SELECT id::text, false FROM open";
	static const char insert_sql[] =
		"INSERT INTO invoice_runs (period) VALUES (($1 || '-01')::date) RETURNING id::text";
	const char *period;
	char id[REQUEST_ID_MAX];
	PGresult *res;
	int r;

	if ((r = jsonin_only(rep, req->body, fields)) ||
	    (r = jsonin_string(rep, req->body, "period", JSONIN_REQUIRED, 7, &period, NULL)))
		return r;
	if (!period_valid(period))
		return reply_error(rep, 400, "invalid_request", "period",
				   "period: must be a month, YYYY-MM");
	const char *params[] = { period };

	r = db_query(req, "invoice run", sql, 1, params, &res);
	if (r)
		return r;
	if (PQntuples(res) == 1) {
		snprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, 0));
		PQclear(res);
	} else {
		PQclear(res);
		r = db_query(req, "invoice run insert", insert_sql, 1, params, &res);
		if (r)
			return r;
		snprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, 0));
		PQclear(res);
		r = db_query(req, "invoice run notify",
			     "SELECT pg_notify('" INVOICE_CHANNEL "', $1)", 1, params, &res);
		if (r)
			return r;
		PQclear(res);
	}
	reply_audit(rep, "invoice_run", id, json_pack("{s:s}", "period", period));
	const char *idp[] = { id };

	return db_reply_one(req, rep, 202, "invoice run",
			    "SELECT " RUN_JSON " FROM invoice_runs r WHERE r.id = $1", 1, idp,
			    NULL);
}
