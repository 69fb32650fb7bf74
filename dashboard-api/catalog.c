/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dashboard-api/catalog.h"
#include "dashboard-api/db.h"
#include "dashboard-api/jsonin.h"
#include "dashboard-api/outbox.h"

#define API_JSON                                                                               \
	"json_build_object('id', a.id::text, 'object', 'api', 'name', a.name, 'version',"      \
	" a.version, 'base_path', a.base_path, 'description', a.description, 'sandbox_url',"   \
	" a.sandbox_url, 'deprecated_at', tg_rfc3339(a.deprecated_at), 'sunset_at',"            \
	" tg_rfc3339(a.sunset_at), 'sla_uptime', a.sla_uptime::float8, 'sla_p99_ms',"           \
	" a.sla_p99_ms, 'has_openapi', a.openapi IS NOT NULL, 'route_id', (SELECT min(r.id)::text" \
	" FROM routes r WHERE r.api_id = a.id), 'created_at', tg_rfc3339(a.created_at))::text"

#define NAME_MAX_LEN 200
#define VERSION_MAX_LEN 64
#define DESCRIPTION_MAX_LEN 10000
#define URL_MAX_LEN 2048
#define PREFIX_MAX_LEN 126 /* TG_ROUTE_MAX - 1: the agent's route map */

static const char *const api_fields[] = { "name",	 "version",    "base_path",
					  "description", "sandbox_url", "deprecated_at",
					  "sunset_at",	 "sla_uptime", "sla_p99_ms",
					  "openapi",	 NULL };

/* the fields of a create or update; set = present in the body */
struct api_input {
	const char *name, *version, *base_path, *description, *sandbox_url;
	char deprecated_at[JSONIN_TIME_MAX], sunset_at[JSONIN_TIME_MAX];
	char sla_uptime[32], sla_p99_ms[24];
	char *openapi; /* malloc'ed JSON text, NULL = absent or null */
	bool set[10];  /* in api_fields order */
};

static int read_input(struct request *req, struct reply *rep, bool create, struct api_input *in)
{
	const json_t *b = req->body;
	uint64_t p99 = 0;
	json_t *doc;
	int r;

	if ((r = jsonin_only(rep, b, api_fields)) ||
	    (r = jsonin_string(rep, b, "name", create ? JSONIN_REQUIRED : 0, NAME_MAX_LEN,
			       &in->name, &in->set[0])) ||
	    (r = jsonin_string(rep, b, "version", 0, VERSION_MAX_LEN, &in->version, &in->set[1])) ||
	    (r = jsonin_string(rep, b, "base_path", 0, PREFIX_MAX_LEN, &in->base_path,
			       &in->set[2])) ||
	    (r = jsonin_string(rep, b, "description", JSONIN_EMPTY, DESCRIPTION_MAX_LEN,
			       &in->description, &in->set[3])) ||
	    (r = jsonin_url(rep, b, "sandbox_url", JSONIN_NULLABLE, URL_MAX_LEN, &in->sandbox_url,
			    &in->set[4])) ||
	    (r = jsonin_time(rep, b, "deprecated_at", JSONIN_NULLABLE, in->deprecated_at,
			     &in->set[5])) ||
	    (r = jsonin_time(rep, b, "sunset_at", JSONIN_NULLABLE, in->sunset_at, &in->set[6])) ||
	    (r = jsonin_decimal(rep, b, "sla_uptime", JSONIN_NULLABLE, 0, 100, 4, in->sla_uptime,
				sizeof(in->sla_uptime), &in->set[7])) ||
	    (r = jsonin_uint(rep, b, "sla_p99_ms", JSONIN_NULLABLE, 1, INT32_MAX, &p99,
			     &in->set[8])))
		return r;
	if (in->base_path && in->base_path[0] != '/')
		return reply_error(rep, 400, "invalid_request", "base_path",
				   "base_path: must start with '/'");
	if (in->set[8] && p99)
		snprintf(in->sla_p99_ms, sizeof(in->sla_p99_ms), "%llu", (unsigned long long)p99);
	doc = json_object_get(b, "openapi");
	in->set[9] = doc != NULL;
	if (doc && !json_is_null(doc)) {
		if (!json_is_object(doc))
			return reply_error(rep, 400, "invalid_request", "openapi",
					   "openapi: must be a JSON object (an OpenAPI document)");
		in->openapi = json_dumps(doc, REPLY_JSON_FLAGS);
		if (!in->openapi)
			return -ENOMEM;
	}
	return 0;
}

static const char *nz(const char *s)
{
	return s && *s ? s : NULL;
}

int catalog_list(struct request *req, struct reply *rep)
{
	return db_reply_list(req, rep,
			     "SELECT " API_JSON
			     " FROM apis a WHERE ($1::bigint IS NULL OR a.id > $1)"
			     " ORDER BY a.id LIMIT $2",
			     0, NULL, NULL);
}

static int reply_api(struct request *req, struct reply *rep, unsigned int status, const char *id)
{
	const char *params[] = { id };

	return db_reply_one(req, rep, status, "api",
			    "SELECT " API_JSON " FROM apis a WHERE a.id = $1", 1, params, NULL);
}

int catalog_get(struct request *req, struct reply *rep)
{
	return reply_api(req, rep, 200, req->id_text[0]);
}

int catalog_openapi(struct request *req, struct reply *rep)
{
	const char *params[] = { req->id_text[0] };
	PGresult *res;
	int r = db_query(req, "api openapi", "SELECT openapi::text FROM apis WHERE id = $1", 1,
			 params, &res);

	if (r)
		return r;
	if (PQntuples(res) == 0)
		r = reply_error(rep, 404, "not_found", NULL, "no such api");
	else if (PQgetisnull(res, 0, 0))
		r = reply_error(rep, 404, "not_found", NULL, "this api has no OpenAPI document");
	else
		r = reply_text(rep, 200, "application/json", PQgetvalue(res, 0, 0),
			       (size_t)PQgetlength(res, 0, 0));
	PQclear(res);
	return r;
}

int catalog_create(struct request *req, struct reply *rep)
{
	static const char sql[] =
		"WITH a AS (INSERT INTO apis (name, version, base_path, description, sandbox_url,"
		" deprecated_at, sunset_at, sla_uptime, sla_p99_ms, openapi) VALUES ($1,"
		" coalesce($2, '1'), coalesce($3, '/'), coalesce($4, ''), $5, $6::timestamptz,"
		" $7::timestamptz, $8::numeric, $9::integer, $10::jsonb) RETURNING id, base_path,"
		" deprecated_at)"
		" INSERT INTO routes (api_id, prefix, deprecated) SELECT id, base_path,"
		" deprecated_at IS NOT NULL FROM a RETURNING api_id::text";
	struct api_input in = { 0 };
	char id[REQUEST_ID_MAX];
	PGresult *res;
	int r = read_input(req, rep, true, &in);

	if (r)
		goto out_free;
	const char *params[] = { in.name,	   in.version,	       in.base_path,
				 in.description,   in.sandbox_url,     nz(in.deprecated_at),
				 nz(in.sunset_at), nz(in.sla_uptime), nz(in.sla_p99_ms),
				 in.openapi };

	r = db_query(req, "api create", sql, 10, params, &res);
	if (r)
		goto out_free;
	snprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	r = outbox_queue_routes(req, id);
	if (r < 0)
		goto out_free;
	reply_audit(rep, "api", id, json_pack("{s:s}", "name", in.name));
	r = reply_api(req, rep, 201, id);
out_free:
	free(in.openapi);
	return r;
}

int catalog_update(struct request *req, struct reply *rep)
{
	/* $2k: whether field k is in the body, $2k+1: its value */
	static const char sql[] =
		"UPDATE apis SET name = CASE WHEN $2 THEN $3 ELSE name END,"
		" version = CASE WHEN $4 THEN $5 ELSE version END,"
		" base_path = CASE WHEN $6 THEN $7 ELSE base_path END,"
		" description = CASE WHEN $8 THEN $9 ELSE description END,"
		" sandbox_url = CASE WHEN $10 THEN $11 ELSE sandbox_url END,"
		" deprecated_at = CASE WHEN $12 THEN $13::timestamptz ELSE deprecated_at END,"
		" sunset_at = CASE WHEN $14 THEN $15::timestamptz ELSE sunset_at END,"
		" sla_uptime = CASE WHEN $16 THEN $17::numeric ELSE sla_uptime END,"
		" sla_p99_ms = CASE WHEN $18 THEN $19::integer ELSE sla_p99_ms END,"
		" openapi = CASE WHEN $20 THEN $21::jsonb ELSE openapi END"
		" WHERE id = $1 RETURNING (SELECT base_path FROM apis WHERE id = $1), base_path,"
		" deprecated_at IS NOT NULL";
	static const char routes_sql[] =
		"UPDATE routes SET prefix = CASE WHEN prefix = $2 THEN $3 ELSE prefix END,"
		" deprecated = $4::boolean WHERE api_id = $1";
	struct api_input in = { 0 };
	const char *params[21], *values[10];
	json_t *changed;
	PGresult *res;
	int r = read_input(req, rep, false, &in);

	if (r)
		goto out_free;
	values[0] = in.name, values[1] = in.version, values[2] = in.base_path;
	values[3] = in.description, values[4] = in.sandbox_url, values[5] = nz(in.deprecated_at);
	values[6] = nz(in.sunset_at), values[7] = nz(in.sla_uptime), values[8] = nz(in.sla_p99_ms);
	values[9] = in.openapi;
	params[0] = req->id_text[0];
	changed = json_array();
	for (int i = 0; i < 10; i++) {
		params[1 + 2 * i] = in.set[i] ? "true" : "false";
		params[2 + 2 * i] = values[i];
		if (in.set[i])
			json_array_append_new(changed, json_string(api_fields[i]));
	}
	r = db_query(req, "api update", sql, 21, params, &res);
	if (r) {
		json_decref(changed);
		goto out_free;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		json_decref(changed);
		r = reply_error(rep, 404, "not_found", NULL, "no such api");
		goto out_free;
	}
	if (in.set[2] || in.set[5]) {
		const char *rp[] = { req->id_text[0], PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
				     PQgetvalue(res, 0, 2) };
		PGresult *rr;

		r = db_query(req, "api routes", routes_sql, 4, rp, &rr);
		if (!r) {
			PQclear(rr);
			r = outbox_queue_routes(req, req->id_text[0]);
		}
	}
	PQclear(res);
	if (r < 0) {
		json_decref(changed);
		goto out_free;
	}
	reply_audit(rep, "api", req->id_text[0], json_pack("{s:o}", "changed", changed));
	r = reply_api(req, rep, 200, req->id_text[0]);
out_free:
	free(in.openapi);
	return r;
}
