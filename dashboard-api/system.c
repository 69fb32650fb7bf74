/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dashboard-api/metrics.h"
#include "dashboard-api/openapi.h"
#include "dashboard-api/system.h"

#define HEALTH_REDIS_TIMEOUT_MS 500

static json_t *check(const char *status, const char *error)
{
	json_t *c = json_pack("{s:s}", "status", status);

	if (c && error)
		json_object_set_new(c, "error", json_string(error));
	return c;
}

static json_t *check_postgres(struct request *req)
{
	PGresult *res;
	bool ok;

	if (!req->pg)
		return check("down", "cannot connect");
	res = PQexec(req->pg, "SELECT 1");
	ok = PQresultStatus(res) == PGRES_TUPLES_OK;
	PQclear(res);
	return ok ? check("ok", NULL) : check("down", PQerrorMessage(req->pg));
}

static json_t *check_redis(struct request *req)
{
	redisContext *rc;
	redisReply *r;
	bool ok;

	if (!req->ctx->redis_enabled)
		return check("disabled", NULL);
	rc = redisconn_open(&req->ctx->redis, HEALTH_REDIS_TIMEOUT_MS);
	if (!rc)
		return check("down", "cannot connect");
	r = redisCommand(rc, "PING");
	ok = r && r->type == REDIS_REPLY_STATUS;
	if (r)
		freeReplyObject(r);
	redisFree(rc);
	return ok ? check("ok", NULL) : check("down", "no answer to PING");
}

int system_healthz(struct request *req, struct reply *rep)
{
	json_t *pg = check_postgres(req), *redis = check_redis(req);
	bool ok = !strcmp(json_string_value(json_object_get(pg, "status")), "ok") &&
		  strcmp(json_string_value(json_object_get(redis, "status")), "down") != 0;

	return reply_json(rep, ok ? 200 : 503,
			  json_pack("{s:s, s:{s:o, s:o}}", "status", ok ? "ok" : "degraded",
				    "checks", "postgres", pg, "redis", redis));
}

int system_metrics(struct request *req, struct reply *rep)
{
	char *text;
	size_t len;
	int r = metrics_render(req->ctx->metrics, &text, &len);

	if (r)
		return r;
	reply_take(rep, 200, text, len);
	rep->content_type = "text/plain; version=0.0.4";
	return 0;
}

int system_openapi(struct request *req, struct reply *rep)
{
	char *doc;
	size_t len;
	int r = openapi_document(&doc, &len);

	if (r)
		return r;
	return reply_take(rep, 200, doc, len);
}
