/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "billing/pg.h"
#include "dashboard-api/db.h"
#include "dashboard-api/idempotency.h"

bool idempotency_key_valid(const char *key)
{
	size_t len = strlen(key);

	if (len == 0 || len > IDEMPOTENCY_KEY_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (key[i] < 0x20 || key[i] > 0x7e)
			return false;
	return true;
}

#define REQUEST_HASH "encode(sha256(convert_to($3, 'UTF8')), 'hex')"

int idempotency_claim(struct request *req, const char *key, const char *body, struct reply *rep,
		      bool *ret_replied)
{
	/* a record past its 24 hours is taken over as if it were not there */
	static const char claim_sql[] =
		"INSERT INTO api_idempotency (caller, key, request_hash) VALUES ($1, "
		"$2, " REQUEST_HASH
		") ON CONFLICT (caller, key) DO UPDATE SET request_hash = EXCLUDED.request_hash,"
		" status = NULL, body = NULL, created_at = now()"
		" WHERE api_idempotency.created_at < now() - interval '" IDEMPOTENCY_TTL "'"
		" RETURNING true";
	static const char read_sql[] =
		"SELECT request_hash = " REQUEST_HASH ", status, body FROM api_idempotency"
		" WHERE caller = $1 AND key = $2";
	char *canon;
	PGresult *res;
	int r;

	*ret_replied = false;
	if (asprintf(&canon, "%s %s\n%s", req->method, req->path, body) < 0)
		return -ENOMEM;
	const char *params[] = { req->caller_scope, key, canon };

	r = db_query(req, "idempotency claim", claim_sql, 3, params, &res);
	if (r)
		goto out_free;
	if (PQntuples(res) == 1) {
		PQclear(res);
		goto out_free; /* ours: run the request */
	}
	PQclear(res);
	r = db_query(req, "idempotency read", read_sql, 3, params, &res);
	if (r)
		goto out_free;
	*ret_replied = true;
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 1)) {
		reply_error(rep, 409, "conflict", "Idempotency-Key",
			    "a request with this Idempotency-Key is in progress");
	} else if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		reply_error(
			rep, 409, "conflict", "Idempotency-Key",
			"this Idempotency-Key was used with another request in the last 24 hours");
	} else {
		r = reply_text(rep, (unsigned int)atoi(PQgetvalue(res, 0, 1)), "application/json",
			       PQgetvalue(res, 0, 2), (size_t)PQgetlength(res, 0, 2));
	}
	PQclear(res);
out_free:
	free(canon);
	return r;
}

int idempotency_store(struct request *req, const char *key, const struct reply *rep)
{
	static const char sql[] =
		"UPDATE api_idempotency SET status = $3, body = $4 WHERE caller = $1 AND key = $2";
	char status[8];
	const char *params[] = { req->caller_scope, key, status,
				 rep->replay_body ? rep->replay_body : rep->body };
	PGresult *res;
	int r;

	snprintf(status, sizeof(status), "%u", rep->replay_body ? rep->replay_status : rep->status);
	if (!params[3])
		params[3] = "";
	r = db_query(req, "idempotency store", sql, 4, params, &res);
	if (!r)
		PQclear(res);
	return r;
}

int idempotency_expire(PGconn *c)
{
	PGresult *res = pg_exec(
		c, "idempotency expiry",
		"DELETE FROM api_idempotency WHERE created_at < now() - interval '" IDEMPOTENCY_TTL
		"'",
		0, NULL);
	int n;

	if (!res)
		return -EIO;
	n = (int)pg_rows_affected(res);
	PQclear(res);
	return n;
}
