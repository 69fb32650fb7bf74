/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * request.h - the handler interface of tollgate-api (DESIGN §7).
 *
 * A route (routes.c, the one routing table) names a handler:
 *
 *	int handler(struct request *req, struct reply *rep);
 *
 * By the time it runs, the server has matched the path (the {id} segments are
 * in req->ids, validated decimal ids), authenticated the caller and checked
 * the route's access rule (a consumer reaching another consumer's path got a
 * 404 already), parsed a POST/PATCH body into req->body (a JSON object; {}
 * for an empty body) and, for POST/PATCH/DELETE, opened the transaction the
 * handler's statements run in on req->pg. The server commits it when the
 * reply is below 400 (with the Idempotency-Key record and the audit row for
 * the route's action in the same transaction) and rolls it back otherwise.
 * GET handlers run in autocommit mode.
 *
 * A handler fills @rep with reply_json(), reply_error() or one of the db_*
 * helpers (db.h) and returns 0. It may return a negative errno: if it has
 * set a reply (rep->status != 0, e.g. a 400 from jsonin.h), that reply is
 * sent; otherwise the caller gets 500 internal (the handler logged why).
 *
 * Adding a route is one row in routes.c and one handler; the OpenAPI
 * document (/openapi.json) is generated from the row.
 */
#ifndef TG_API_REQUEST_H
#define TG_API_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <microhttpd.h>

#include "lib/config.h"
#include "lib/keydigest.h"
#include "lib/redisconn.h"

#define REQUEST_MAX_IDS 3
#define REQUEST_ID_MAX 21 /* a uint64 in decimal with its NUL */

struct limiter;
struct metrics;

/* What every request may need of the server; read-only while serving. */
struct api_ctx {
	const struct config *cfg;
	struct key_secrets secrets;
	unsigned int key_version; /* the newest secret version: new keys use it */
	char *admin_token;	  /* api.admin_token_file, trimmed; NULL = no admin */
	size_t admin_token_len;
	struct redis_addr redis; /* valid when redis_enabled */
	bool redis_enabled;
	struct limiter *limiter;	  /* failed authentications per address (auth.h) */
	struct limiter *sandbox_limiter; /* sandbox calls per consumer (sandbox.h) */
	struct metrics *metrics;
};

/* Who is calling: the admin, a consumer (by its key), or nobody. */
struct caller {
	bool admin;
	uint32_t consumer_id; /* 0 unless a consumer key authenticated */
	uint32_t key_id;
};

struct route;

struct request {
	const struct route *route;
	const char *method;
	const char *path;
	struct MHD_Connection *conn;
	unsigned int n_ids;
	uint64_t ids[REQUEST_MAX_IDS];	       /* the {...} segments, in path order */
	char id_text[REQUEST_MAX_IDS][REQUEST_ID_MAX]; /* the same as text, for SQL */
	json_t *body;				       /* POST/PATCH: the JSON object, else NULL */
	struct caller caller;
	char caller_scope[32]; /* "admin", "consumer:42", "anonymous" */
	const char *remote_addr;
	PGconn *pg; /* this worker thread's connection */
	struct api_ctx *ctx;
};

struct reply {
	unsigned int status; /* 0 = not set yet */
	char *body;	     /* malloc'ed; the reply owns it */
	size_t len;
	const char *content_type; /* static; default application/json */
	char allow[64];		  /* Allow header of a 405 */
	unsigned int retry_after; /* Retry-After header when > 0 */
	/*
	 * What an Idempotency-Key replay answers instead of this reply, when
	 * the reply holds a secret (a raw key): set with reply_replay_conflict().
	 */
	unsigned int replay_status;
	char *replay_body;
	/* audit: the object changed ("key:17") and details; the route names the action */
	char audit_object[64];
	json_t *audit_details; /* owned; NULL = {} */
};

/*
 * How every JSON reply (and what is stored from a request) is written:
 * compact, reals with 15 significant digits, so 0.1 prints as 0.1 and not
 * jansson's default 17-digit 0.10000000000000001.
 */
#define REPLY_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

typedef int (*handler_fn)(struct request *req, struct reply *rep);

/* request_query() - the value of query parameter @name, or NULL. Valid during the request. */
const char *request_query(const struct request *req, const char *name);

/* request_header() - the value of request header @name, or NULL. */
const char *request_header(const struct request *req, const char *name);

/*
 * request_owner() - the consumer id a handler limits its rows to, as SQL
 * text: NULL for the admin (every row), the caller's id for a consumer.
 * Points into @req (its own small buffer).
 */
const char *request_owner(struct request *req);

/*
 * reply_text() - set @rep to @status with a copy of @body (@len bytes) of
 * @content_type (a static string). Returns 0, or -ENOMEM (nothing set).
 */
int reply_text(struct reply *rep, unsigned int status, const char *content_type, const char *body,
	       size_t len);

/* reply_take() - as reply_text() with JSON @body (malloc'ed, now the reply's). Returns 0. */
int reply_take(struct reply *rep, unsigned int status, char *body, size_t len);

/* reply_json() - set @rep to @status with @value (a reference is stolen) as compact JSON. */
int reply_json(struct reply *rep, unsigned int status, json_t *value);

/*
 * reply_error() - set @rep to the error object of DESIGN §7:
 * {"error": {"type": @type, "message": ..., "param": @param}}, "param" left
 * out when @param is NULL. Types: "invalid_request", "authentication",
 * "not_found", "conflict", "rate_limited", "internal". Always returns
 * -EINVAL, so a handler can `return reply_error(...)`: a negative return
 * with a reply set sends the reply (see above).
 */
int reply_error(struct reply *rep, unsigned int status, const char *type, const char *param,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/*
 * reply_replay_conflict() - mark @rep as holding a secret: an
 * Idempotency-Key replay answers 409 conflict with @message and the extra
 * error field @field = @value (e.g. "key_id": "17") instead. 0 or -ENOMEM.
 */
int reply_replay_conflict(struct reply *rep, const char *message, const char *field,
			  const char *value);

/* reply_audit() - the object and details of the audit row (@details stolen, may be NULL). */
void reply_audit(struct reply *rep, const char *object_kind, const char *object_id,
		 json_t *details);

/* reply_reset() - free what @rep holds and zero it. */
void reply_reset(struct reply *rep);

#endif /* TG_API_REQUEST_H */
