/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>

#include "billing/pg.h"
#include "dashboard-api/db.h"
#include "dashboard-api/outbox.h"

static int queue(struct request *req, const char *what, const char *sql, const char *id)
{
	const char *params[] = { id };
	PGresult *res;
	int r = db_query(req, what, sql, 1, params, &res);

	if (r)
		return r;
	r = (int)pg_rows_affected(res);
	PQclear(res);
	return r;
}

int outbox_queue_key(struct request *req, const char *key_id)
{
	return queue(req, "outbox key",
		     "INSERT INTO outbox (kind, payload) SELECT 'key', "
		     OUTBOX_KEY_PAYLOAD(OUTBOX_KEY_ACTIVE)
		     " FROM api_keys k JOIN consumers c ON c.id = k.consumer_id WHERE k.id = $1",
		     key_id);
}

int outbox_queue_plan(struct request *req, const char *plan_id)
{
	return queue(req, "outbox plan",
		     "INSERT INTO outbox (kind, payload) SELECT 'plan', " OUTBOX_PLAN_PAYLOAD
		     " FROM plans p WHERE p.id = $1",
		     plan_id);
}

int outbox_queue_routes(struct request *req, const char *api_id)
{
	return queue(req, "outbox routes",
		     "INSERT INTO outbox (kind, payload) SELECT 'route', " OUTBOX_ROUTE_PAYLOAD
		     " FROM routes r WHERE r.api_id = $1 ORDER BY r.id",
		     api_id);
}

int outbox_expire_keys(PGconn *c)
{
	/* the CTE's UPDATE is not visible to the rest: is_active is false by construction */
	static const char sql[] =
		"WITH e AS (UPDATE api_keys SET revoked_at = expires_at"
		" WHERE expires_at <= now() AND revoked_at IS NULL RETURNING id),"
		" q AS (INSERT INTO outbox (kind, payload) SELECT 'key', "
		OUTBOX_KEY_PAYLOAD("false")
		" FROM api_keys k JOIN consumers c ON c.id = k.consumer_id WHERE k.id IN"
		" (SELECT id FROM e) ORDER BY k.id)"
		" INSERT INTO audit_log (actor, action, object, details)"
		" SELECT 'tollgate-api', 'key.expire', 'key:' || id, '{}' FROM e";
	PGresult *res = pg_exec(c, "key expiry", sql, 0, NULL);
	int n;

	if (!res)
		return -EIO;
	n = (int)pg_rows_affected(res);
	PQclear(res);
	return n;
}
