/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dashboard-api/request.h"

const char *request_query(const struct request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *request_header(const struct request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *request_owner(struct request *req)
{
	static __thread char buf[16];

	if (req->caller.admin || !req->caller.consumer_id)
		return NULL;
	snprintf(buf, sizeof(buf), "%u", req->caller.consumer_id);
	return buf;
}

int reply_take(struct reply *rep, unsigned int status, char *body, size_t len)
{
	free(rep->body);
	rep->status = status;
	rep->body = body;
	rep->len = len;
	rep->content_type = "application/json";
	return 0;
}

int reply_text(struct reply *rep, unsigned int status, const char *content_type, const char *body,
	       size_t len)
{
	char *copy = malloc(len + 1);

	if (!copy)
		return -ENOMEM;
	memcpy(copy, body, len);
	copy[len] = '\0';
	reply_take(rep, status, copy, len);
	rep->content_type = content_type;
	return 0;
}

int reply_json(struct reply *rep, unsigned int status, json_t *value)
{
	char *s;

	if (!value)
		return -ENOMEM;
	s = json_dumps(value, REPLY_JSON_FLAGS);
	json_decref(value);
	if (!s)
		return -ENOMEM;
	return reply_take(rep, status, s, strlen(s));
}

static json_t *error_object(const char *type, const char *param, const char *message)
{
	json_t *e = json_pack("{s:s, s:s}", "type", type, "message", message);

	if (e && param)
		json_object_set_new(e, "param", json_string(param));
	return e ? json_pack("{s:o}", "error", e) : NULL;
}

int reply_error(struct reply *rep, unsigned int status, const char *type, const char *param,
		const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	json_t *e;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	e = error_object(type, param, msg);
	if (!e || reply_json(rep, status, e)) {
		static const char oom[] =
			"{\"error\":{\"type\":\"internal\",\"message\":\"out of memory\"}}";

		reply_text(rep, 500, "application/json", oom, sizeof(oom) - 1);
	}
	return -EINVAL;
}

int reply_replay_conflict(struct reply *rep, const char *message, const char *field,
			  const char *value)
{
	json_t *e = error_object("conflict", "Idempotency-Key", message);

	if (!e)
		return -ENOMEM;
	json_object_set_new(json_object_get(e, "error"), field, json_string(value));
	free(rep->replay_body);
	rep->replay_body = json_dumps(e, REPLY_JSON_FLAGS);
	json_decref(e);
	if (!rep->replay_body)
		return -ENOMEM;
	rep->replay_status = 409;
	return 0;
}

void reply_audit(struct reply *rep, const char *object_kind, const char *object_id,
		 json_t *details)
{
	snprintf(rep->audit_object, sizeof(rep->audit_object), "%s:%s", object_kind, object_id);
	json_decref(rep->audit_details);
	rep->audit_details = details;
}

void reply_reset(struct reply *rep)
{
	free(rep->body);
	free(rep->replay_body);
	json_decref(rep->audit_details);
	memset(rep, 0, sizeof(*rep));
}
