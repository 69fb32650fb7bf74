/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Why one statement: the notices and their outbox rows are written together
 * or not at all, and the outbox rows are made only for notices this call
 * inserted (RETURNING of the ON CONFLICT DO NOTHING insert), so a notice is
 * never announced twice however many members run it at once.
 */
#include <errno.h>
#include <stdio.h>

#include "billing/deprecation.h"
#include "billing/pg.h"
#include "lib/log.h"

static const char NOTIFY_SQL[] =
	"WITH usage AS ("
	" SELECT r.consumer_id, r.api_id, sum(r.requests)::bigint AS requests"
	" FROM rollup_hour r"
	" JOIN apis a ON a.id = r.api_id AND a.deprecated_at <= to_timestamp($1::bigint)"
	" JOIN consumers c ON c.id = r.consumer_id"
	" WHERE r.verdict = 0"
	"  AND r.ts >= to_timestamp($1::bigint) - make_interval(days => $4::int)"
	"  AND r.ts < to_timestamp($1::bigint)"
	" GROUP BY r.consumer_id, r.api_id HAVING sum(r.requests) >= $2::bigint),"
	" ins AS ("
	" INSERT INTO notices (consumer_id, api_id, week, requests, created_at)"
	" SELECT consumer_id, api_id,"
	"  date_trunc('week', to_timestamp($1::bigint) AT TIME ZONE 'UTC')::date, requests,"
	"  to_timestamp($1::bigint)"
	" FROM usage ORDER BY consumer_id, api_id"
	" ON CONFLICT (consumer_id, api_id, week) DO NOTHING"
	" RETURNING id, consumer_id, api_id, week, requests),"
	" hooks AS ("
	" INSERT INTO webhook_outbox (kind, event, notice_id, payload, next_attempt_at)"
	" SELECT 'notice', 'deprecation.notice', ins.id, jsonb_build_object("
	"  'type', 'deprecation.notice', 'notice_id', ins.id, 'consumer_id', ins.consumer_id,"
	"  'consumer_name', c.name, 'consumer_email', c.email, 'api_id', ins.api_id,"
	"  'api_name', a.name, 'api_version', a.version,"
	"  'deprecated_at', tg_rfc3339(a.deprecated_at), 'sunset_at', tg_rfc3339(a.sunset_at),"
	"  'week', to_char(ins.week, 'YYYY-MM-DD'), 'requests_last_7_days', ins.requests),"
	"  to_timestamp($1::bigint)"
	" FROM ins JOIN apis a ON a.id = ins.api_id JOIN consumers c ON c.id = ins.consumer_id"
	" WHERE $3::boolean ORDER BY ins.id"
	" RETURNING 1)"
	" SELECT consumer_id, api_id, requests, week FROM ins ORDER BY consumer_id, api_id";

int deprecation_notify(PGconn *c, const struct config *cfg, time_t now)
{
	char now_s[24], threshold[16], days[16];
	const char *p[] = { now_s, threshold, cfg->billing.notify_webhook_url[0] ? "true" : "false",
			    days };
	PGresult *res;
	int n;

	snprintf(now_s, sizeof(now_s), "%lld", (long long)now);
	snprintf(threshold, sizeof(threshold), "%u", cfg->billing.deprecation_threshold);
	snprintf(days, sizeof(days), "%d", DEPRECATION_LOOKBACK_DAYS);
	res = pg_exec(c, "make deprecation notices", NOTIFY_SQL, 4, p);
	if (!res)
		return -EIO;
	n = PQntuples(res);
	for (int i = 0; i < n; i++)
		log_info("deprecation: consumer %s still calls deprecated API %s (%s requests in %d"
			 " days): notice for the week of %s",
			 PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
			 DEPRECATION_LOOKBACK_DAYS, PQgetvalue(res, i, 3));
	PQclear(res);
	return n;
}
