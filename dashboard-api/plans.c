/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dashboard-api/db.h"
#include "dashboard-api/jsonin.h"
#include "dashboard-api/outbox.h"
#include "dashboard-api/plans.h"
#include "lib/money.h"
#include "lib/pricing.h"

#define PLAN_JSON                                                                              \
	"json_build_object('id', p.id::text, 'object', 'plan', 'name', p.name, 'api_id',"      \
	" p.api_id::text, 'rate_per_sec', p.rate_per_sec::float8, 'burst', p.burst,"            \
	" 'monthly_quota', p.monthly_quota, 'currency', p.currency, 'tiers_mode', p.tiers_mode," \
	" 'tiers', p.tiers, 'period_fee', trim_scale(p.period_fee)::text, 'bill_server_errors'," \
	" p.bill_server_errors, 'created_at', tg_rfc3339(p.created_at))::text"

#define RATE_MAX 1e8 /* what the agent takes (agent/redissync.c) */

static const char *const plan_fields[] = { "name",	 "api_id",	   "rate_per_sec",
					   "burst",	 "monthly_quota", "currency",
					   "tiers_mode", "tiers",	   "period_fee",
					   "bill_server_errors", NULL };

int plans_list(struct request *req, struct reply *rep)
{
	return db_reply_list(req, rep,
			     "SELECT " PLAN_JSON
			     " FROM plans p WHERE ($1::bigint IS NULL OR p.id > $1)"
			     " ORDER BY p.id LIMIT $2",
			     0, NULL, NULL);
}

static int reply_plan(struct request *req, struct reply *rep, unsigned int status, const char *id)
{
	const char *params[] = { id };

	return db_reply_one(req, rep, status, "plan",
			    "SELECT " PLAN_JSON " FROM plans p WHERE p.id = $1", 1, params, NULL);
}

int plans_get(struct request *req, struct reply *rep)
{
	return reply_plan(req, rep, 200, req->id_text[0]);
}

/* lib/pricing's "param: what" as a 400 naming the param */
static int pricing_error(struct reply *rep, const char *err)
{
	const char *colon = strstr(err, ": ");
	char param[64] = "body";

	if (colon && (size_t)(colon - err) < sizeof(param) &&
	    !memchr(err, ' ', (size_t)(colon - err)))
		snprintf(param, sizeof(param), "%.*s", (int)(colon - err), err);
	return reply_error(rep, 400, "invalid_request", param, "%s", err);
}

int plans_create(struct request *req, struct reply *rep)
{
	static const char sql[] =
		"INSERT INTO plans (name, api_id, rate_per_sec, burst, monthly_quota, currency,"
		" tiers_mode, tiers, period_fee, bill_server_errors) VALUES ($1, $2::bigint,"
		" $3::numeric, $4::bigint, $5::bigint, $6, $7, $8::jsonb, $9::numeric, "
		"$10::boolean)"
		" RETURNING id::text";
	struct pricing_plan plan;
	char err[PRICING_ERR_MAX], api_id[REQUEST_ID_MAX], rate[48], burst_s[24], quota_s[24];
	char fee[MONEY_STR_MAX], *tiers = NULL, id[REQUEST_ID_MAX];
	uint64_t burst = 0, quota = 0;
	bool burst_set;
	PGresult *res;
	int r;

	if ((r = jsonin_only(rep, req->body, plan_fields)))
		return r;
	if (pricing_plan_from_json_object(req->body, &plan, err, sizeof(err)))
		return pricing_error(rep, err);
	if ((r = jsonin_id(rep, req->body, "api_id", JSONIN_NULLABLE, api_id, NULL)) ||
	    (r = jsonin_decimal(rep, req->body, "rate_per_sec", JSONIN_REQUIRED, 0.000001, RATE_MAX,
				6, rate, sizeof(rate), NULL)) ||
	    (r = jsonin_uint(rep, req->body, "burst", 0, 1, UINT32_MAX, &burst, &burst_set)) ||
	    (r = jsonin_uint(rep, req->body, "monthly_quota", 0, 0, INT64_MAX, &quota, NULL)))
		return r;
	if (!burst_set)
		burst = (uint64_t)ceil(strtod(rate, NULL));
	snprintf(burst_s, sizeof(burst_s), "%llu", (unsigned long long)burst);
	snprintf(quota_s, sizeof(quota_s), "%llu", (unsigned long long)quota);
	if (money_format_price(plan.period_fee, fee, sizeof(fee)) < 0 ||
	    pricing_tiers_to_json(&plan, &tiers))
		return -ENOMEM;

	const char *params[] = { plan.name,
				 api_id[0] ? api_id : NULL,
				 rate,
				 burst_s,
				 quota_s,
				 plan.currency.code,
				 pricing_mode_name(plan.mode),
				 tiers,
				 fee,
				 plan.bill_server_errors ? "true" : "false" };

	r = db_query(req, "plan create", sql, 10, params, &res);
	free(tiers);
	if (r == -ENOENT)
		return reply_error(rep, 400, "invalid_request", "api_id", "api_id: no such api");
	if (r)
		return r;
	snprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	r = outbox_queue_plan(req, id);
	if (r < 0)
		return r;
	reply_audit(rep, "plan", id, json_pack("{s:s}", "name", plan.name));
	return reply_plan(req, rep, 201, id);
}
