/* SPDX-License-Identifier: BSD-2-Clause */
#include <stdio.h>
#include <string.h>

#include "dashboard-api/consumers.h"
#include "dashboard-api/db.h"
#include "dashboard-api/jsonin.h"

#define CONSUMER_JSON                                                                          \
	"json_build_object('id', c.id::text, 'object', 'consumer', 'name', c.name, 'email',"   \
	" c.email, 'created_at', tg_rfc3339(c.created_at), 'suspended', c.suspended)::text"

#define NAME_MAX_LEN 200
#define EMAIL_MAX_LEN 254

int consumers_list(struct request *req, struct reply *rep)
{
	return db_reply_list(req, rep,
			     "SELECT " CONSUMER_JSON " FROM consumers c"
			     " WHERE ($1::bigint IS NULL OR c.id > $1) ORDER BY c.id LIMIT $2",
			     0, NULL, NULL);
}

static int reply_consumer(struct request *req, struct reply *rep, unsigned int status,
			  const char *id)
{
	const char *params[] = { id };

	return db_reply_one(req, rep, status, "consumer",
			    "SELECT " CONSUMER_JSON " FROM consumers c WHERE c.id = $1", 1, params,
			    NULL);
}

int consumers_get(struct request *req, struct reply *rep)
{
	return reply_consumer(req, rep, 200, req->id_text[0]);
}

int consumers_self(struct request *req, struct reply *rep)
{
	char id[REQUEST_ID_MAX];

	snprintf(id, sizeof(id), "%u", req->caller.consumer_id);
	return reply_consumer(req, rep, 200, id);
}

int consumers_create(struct request *req, struct reply *rep)
{
	static const char *const fields[] = { "name", "email", NULL };
	const char *name, *email;
	char id[REQUEST_ID_MAX];
	PGresult *res;
	int r;

	if ((r = jsonin_only(rep, req->body, fields)) ||
	    (r = jsonin_string(rep, req->body, "name", JSONIN_REQUIRED, NAME_MAX_LEN, &name,
			       NULL)) ||
	    (r = jsonin_string(rep, req->body, "email", JSONIN_EMPTY, EMAIL_MAX_LEN, &email, NULL)))
		return r;
	if (email && *email &&
	    (!strchr(email, '@') || strchr(email, '@') == email || !strchr(email, '@')[1] ||
	     strpbrk(email, " \t\r\n<>")))
		return reply_error(rep, 400, "invalid_request", "email",
				   "email: must be an address such as ada@example.com");

	const char *params[] = { name, email ? email : "" };

	r = db_query(req, "consumer create",
		     "INSERT INTO consumers (name, email) VALUES ($1, $2) RETURNING id::text", 2,
		     params, &res);
	if (r)
		return r;
	snprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	reply_audit(rep, "consumer", id, json_pack("{s:s}", "name", name));
	return reply_consumer(req, rep, 201, id);
}
