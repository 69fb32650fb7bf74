/* SPDX-License-Identifier: BSD-2-Clause */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dashboard-api/db.h"
#include "dashboard-api/jsonin.h"
#include "dashboard-api/keys.h"
#include "dashboard-api/outbox.h"

#define KEY_JSON                                                                               \
	"json_build_object('id', k.id::text, 'object', 'key', 'consumer_id', k.consumer_id::text," \
	" 'prefix', k.prefix, 'plan_id', k.plan_id::text, 'created_at', tg_rfc3339(k.created_at)," \
	" 'revoked_at', tg_rfc3339(k.revoked_at), 'expires_at', tg_rfc3339(k.expires_at),"      \
	" 'last_used_at', tg_rfc3339(k.last_used_at), 'replaced_by', k.replaced_by::text)::text"

#define KEY_PREFIX_LEN 8 /* "tg_1abcd": enough to recognise a key, far from enough to use it */

int keys_newest_version(const char *path)
{
	char line[256];
	int version = -ENOKEY;
	FILE *f = fopen(path, "re");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *p = line;

		while (isspace((unsigned char)*p))
			p++;
		if (*p >= '1' && *p <= '9' && isspace((unsigned char)p[1]))
			version = *p - '0';
	}
	fclose(f);
	return version;
}

int keys_list(struct request *req, struct reply *rep)
{
	const char *params[] = { req->id_text[0] };

	return db_reply_list(req, rep,
			     "SELECT " KEY_JSON " FROM api_keys k WHERE k.consumer_id = $1"
			     " AND ($2::bigint IS NULL OR k.id > $2) ORDER BY k.id LIMIT $3",
			     1, params, NULL);
}

/* the key @id as JSON, with the raw key added when @raw is not NULL */
static int reply_key(struct request *req, struct reply *rep, unsigned int status, const char *id,
		     const char *raw, const char *replaces)
{
	const char *params[] = { id };
	json_error_t jerr;
	PGresult *res;
	json_t *key;
	int r = db_query(req, "key read", "SELECT " KEY_JSON " FROM api_keys k WHERE k.id = $1", 1,
			 params, &res);

	if (r)
		return r;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return reply_error(rep, 404, "not_found", NULL, "no such key");
	}
	key = json_loads(PQgetvalue(res, 0, 0), 0, &jerr);
	PQclear(res);
	if (!key)
		return -EIO;
	if (raw)
		json_object_set_new(key, "key", json_string(raw));
	if (replaces)
		json_object_set_new(key, "replaces", json_string(replaces));
	r = reply_json(rep, status, key);
	if (!r && raw)
		r = reply_replay_conflict(rep,
					  "this Idempotency-Key created a key already; the raw key "
					  "is shown only once (see key_id)",
					  "key_id", id);
	return r;
}

/* a new key for consumer @consumer_id on @plan_id: its id in @ret_id, the raw key in @ret_raw */
static int insert_key(struct request *req, const char *consumer_id, const char *plan_id,
		      char ret_id[REQUEST_ID_MAX], char ret_raw[KEYDIGEST_KEY_LEN + 1])
{
	static const char sql[] = "INSERT INTO api_keys (consumer_id, plan_id, digest, prefix)"
				  " VALUES ($1, $2, $3, $4) RETURNING id::text";
	uint8_t digest[KEYDIGEST_DIGEST_LEN];
	char hex[KEYDIGEST_HEX_LEN + 1], prefix[KEY_PREFIX_LEN + 1];
	const char *params[] = { consumer_id, plan_id, hex, prefix };
	PGresult *res;
	int r;

	r = keydigest_generate(req->ctx->key_version, ret_raw);
	if (!r)
		r = keydigest_digest(&req->ctx->secrets, ret_raw, KEYDIGEST_KEY_LEN, digest);
	if (r)
		return r;
	keydigest_hex(digest, hex);
	memcpy(prefix, ret_raw, KEY_PREFIX_LEN);
	prefix[KEY_PREFIX_LEN] = '\0';
	/* a digest collision (2^-128) would be a unique violation: -EEXIST, a 500 */
	r = db_query(req, "key create", sql, 4, params, &res);
	if (r)
		return r;
	snprintf(ret_id, REQUEST_ID_MAX, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return outbox_queue_key(req, ret_id) < 0 ? -EIO : 0;
}

static int consumer_exists(struct request *req, struct reply *rep)
{
	const char *params[] = { req->id_text[0] };
	PGresult *res;
	int r = db_query(req, "consumer check", "SELECT 1 FROM consumers WHERE id = $1", 1, params,
			 &res);

	if (r)
		return r;
	r = PQntuples(res) == 1 ? 0 : reply_error(rep, 404, "not_found", NULL, "no such consumer");
	PQclear(res);
	return r;
}

int keys_create(struct request *req, struct reply *rep)
{
	static const char *const fields[] = { "plan_id", NULL };
	char plan_id[REQUEST_ID_MAX], id[REQUEST_ID_MAX], raw[KEYDIGEST_KEY_LEN + 1];
	int r;

	if ((r = jsonin_only(rep, req->body, fields)) ||
	    (r = jsonin_id(rep, req->body, "plan_id", JSONIN_REQUIRED, plan_id, NULL)) ||
	    (r = consumer_exists(req, rep)))
		return r;
	r = insert_key(req, req->id_text[0], plan_id, id, raw);
	if (r == -ENOENT)
		return reply_error(rep, 400, "invalid_request", "plan_id", "plan_id: no such plan");
	if (r)
		return r;
	reply_audit(rep, "key", id,
		    json_pack("{s:s, s:s, s:s%}", "consumer_id", req->id_text[0], "plan_id",
			      plan_id, "prefix", raw, (size_t)KEY_PREFIX_LEN));
	r = reply_key(req, rep, 201, id, raw, NULL);
	explicit_bzero(raw, sizeof(raw));
	return r;
}

int keys_revoke(struct request *req, struct reply *rep)
{
	static const char sql[] = "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())"
				  " WHERE id = $1 AND consumer_id = $2 RETURNING id";
	const char *params[] = { req->id_text[1], req->id_text[0] };
	PGresult *res;
	int r = db_query(req, "key revoke", sql, 2, params, &res);

	if (r)
		return r;
	r = PQntuples(res);
	PQclear(res);
	if (r != 1)
		return reply_error(rep, 404, "not_found", NULL, "no such key");
	if (outbox_queue_key(req, req->id_text[1]) < 0)
		return -EIO;
	reply_audit(rep, "key", req->id_text[1],
		    json_pack("{s:s}", "consumer_id", req->id_text[0]));
	return reply_key(req, rep, 200, req->id_text[1], NULL, NULL);
}

int keys_rotate(struct request *req, struct reply *rep)
{
	static const char *const fields[] = { "grace_period", NULL };
	static const char lock_sql[] =
		"SELECT plan_id::text, revoked_at IS NOT NULL, expires_at IS NOT NULL FROM api_keys"
		" WHERE id = $1 AND consumer_id = $2 FOR UPDATE";
	static const char old_sql[] =
		"UPDATE api_keys SET replaced_by = $2, expires_at = now() + make_interval(secs => "
		"$3),"
		" revoked_at = CASE WHEN $3::integer = 0 THEN now() END WHERE id = $1";
	const char *params[] = { req->id_text[1], req->id_text[0] };
	char plan_id[REQUEST_ID_MAX], id[REQUEST_ID_MAX], raw[KEYDIGEST_KEY_LEN + 1], grace_s[16];
	uint64_t grace = KEYS_GRACE_DEFAULT;
	PGresult *res;
	int r;

	if ((r = jsonin_only(rep, req->body, fields)) ||
	    (r = jsonin_uint(rep, req->body, "grace_period", 0, 0, KEYS_GRACE_MAX, &grace, NULL)))
		return r;
	r = db_query(req, "key rotate", lock_sql, 2, params, &res);
	if (r)
		return r;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return reply_error(rep, 404, "not_found", NULL, "no such key");
	}
	if (strcmp(PQgetvalue(res, 0, 1), "t") == 0 || strcmp(PQgetvalue(res, 0, 2), "t") == 0) {
		bool revoked = strcmp(PQgetvalue(res, 0, 1), "t") == 0;

		PQclear(res);
		return reply_error(rep, 409, "conflict", NULL,
				   revoked ? "the key is revoked" : "the key was rotated already");
	}
	snprintf(plan_id, sizeof(plan_id), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	r = insert_key(req, req->id_text[0], plan_id, id, raw);
	if (r)
		return r;
	snprintf(grace_s, sizeof(grace_s), "%llu", (unsigned long long)grace);
	const char *old_params[] = { req->id_text[1], id, grace_s };

	r = db_query(req, "key rotate old", old_sql, 3, old_params, &res);
	if (r)
		return r;
	PQclear(res);
	if (outbox_queue_key(req, req->id_text[1]) < 0)
		return -EIO;
	reply_audit(rep, "key", req->id_text[1],
		    json_pack("{s:s, s:s, s:I}", "consumer_id", req->id_text[0], "new_key_id", id,
			      "grace_period", (json_int_t)grace));
	r = reply_key(req, rep, 201, id, raw, req->id_text[1]);
	explicit_bzero(raw, sizeof(raw));
	return r;
}
