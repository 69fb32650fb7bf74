/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * routes.h - the routing table of tollgate-api (DESIGN §7), in one place
 * (routes.c): method, path pattern, who may call it, handler, and what the
 * OpenAPI document says about it. The server dispatches from it, `tollgate-api
 * routes` prints it and /openapi.json is generated from it.
 *
 * Patterns are literal segments and {name} segments; a {name} segment
 * matches a decimal id ("1" to "18446744073709551615", no leading zero) and
 * nothing else, so /v1/invoices/run never reaches /v1/invoices/{id}.
 *
 * The developer portal's static files (/portal/..., portal.h) are not in this
 * table on purpose: they are not JSON API routes, so /openapi.json and
 * `tollgate-api routes` leave them out; server.c answers them first.
 */
#ifndef TG_API_ROUTES_H
#define TG_API_ROUTES_H

#include <stddef.h>

#include "dashboard-api/request.h"

enum route_access {
	ROUTE_ANYONE,	    /* no credentials needed (wrong ones are still refused) */
	ROUTE_ADMIN,	    /* the admin token only */
	ROUTE_ADMIN_SELF,   /* admin, or the consumer whose id is the first {id} */
	ROUTE_ADMIN_OWNER,  /* admin, or a consumer: the handler shows only its own rows */
	ROUTE_SELF,	    /* a consumer key only */
};

struct route {
	const char *method;  /* "GET", "POST", "PATCH", "DELETE" */
	const char *pattern; /* "/v1/consumers/{id}/keys/{key_id}" */
	enum route_access access;
	handler_fn handler;
	unsigned int status; /* the success status: 200, 201, 202 */
	const char *action;  /* audit action of a change ("key.create"); NULL for reads */
	/* OpenAPI */
	const char *summary;
	const char *tag;
	const char *query;	     /* query parameters, comma separated: "limit,starting_after" */
	const char *request_schema;  /* components/schemas name of the body; NULL = none */
	const char *response_schema; /* of the success reply; "text" = text/plain */
};

extern const struct route routes[];
extern const size_t n_routes;

/* Why routes_match() found no route. */
enum route_miss {
	ROUTE_FOUND,
	ROUTE_NO_PATH,	 /* 404 */
	ROUTE_NO_METHOD, /* 405: the path exists with other methods */
};

/*
 * routes_match() - the route for @method and @path. On ROUTE_FOUND @req gets
 * the route, the ids and their text; on ROUTE_NO_METHOD @allow (size
 * @allow_len) gets the methods the path has, "GET, POST".
 */
enum route_miss routes_match(const char *method, const char *path, struct request *req,
			     char *allow, size_t allow_len);

/* routes_access_name() - "anyone", "admin", "admin,self", "admin,owner", "self". */
const char *routes_access_name(enum route_access access);

#endif /* TG_API_ROUTES_H */
