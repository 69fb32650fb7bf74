/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "billing/pg.h"
#include "dashboard-api/idempotency.h"
#include "dashboard-api/metrics.h"
#include "dashboard-api/outbox.h"
#include "dashboard-api/relay.h"
#include "lib/log.h"

#define REDIS_TIMEOUT_MS 2000
#define MAX_FIELDS 8
#define RELAY_LOCK_SQL "7746501" /* RELAY_LOCK_KEY */

struct relay {
	struct api_ctx *ctx;
	pthread_t thread;
	int wake[2]; /* a byte in wake[1] stops the thread */
	PGconn *pg;
	redisContext *redis;
	unsigned int backoff_ms;
};

/* one kind of outbox row: its Redis hash, channel and fields */
struct kind {
	const char *name;
	const char *prefix;  /* "apikey:" */
	const char *id_field; /* the payload field naming the hash: "digest" */
	const char *channel;
	const char *fields[MAX_FIELDS];
};

static const struct kind kinds[] = {
	{ "key", "apikey:", "digest", "tollgate:keys",
	  { "key_id", "consumer_id", "plan_id", "is_active", "suspended", NULL } },
	{ "plan", "plan:", "id", "tollgate:plans",
	  { "api_id", "rate_per_sec", "burst", "monthly_quota", NULL } },
	{ "route", "route:", "id", "tollgate:routes", { "api_id", "prefix", "flags", NULL } },
};

/* a payload value as Redis text: integers in decimal, booleans 1/0 */
static bool value_text(const json_t *v, char *buf, size_t size)
{
	if (json_is_string(v))
		snprintf(buf, size, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, size, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, size, "%.17g", json_real_value(v));
	else if (json_is_boolean(v))
		snprintf(buf, size, "%d", json_is_true(v) ? 1 : 0);
	else
		return false;
	return true;
}

/* a name safe to put after the hash prefix: hex digits or a decimal id */
static bool name_valid(const char *s)
{
	size_t len = strlen(s);

	return len > 0 && len <= 32 && strspn(s, "0123456789abcdef") == len;
}

/*
 * Queue (redisAppendCommandArgv) the commands applying @payload of @k:
 * [DEL when @whole], HSET of its fields, PUBLISH. Returns how many replies
 * to read, 0 for a payload to skip (logged), -ENOMEM.
 */
static int append_apply(redisContext *rc, const struct kind *k, const json_t *payload, bool whole,
			char *ret_name, size_t name_size)
{
	const char *argv[2 + 2 * MAX_FIELDS];
	char vals[MAX_FIELDS][256], id[64];
	const json_t *idv = json_object_get(payload, k->id_field);
	int argc = 2, n = 0;

	if (!idv || !value_text(idv, id, sizeof(id)) || !name_valid(id)) {
		log_warn("outbox: %s row without a valid \"%s\": skipped", k->name, k->id_field);
		return 0;
	}
	snprintf(ret_name, name_size, "%s%s", k->prefix, id);
	argv[0] = "HSET";
	argv[1] = ret_name;
	for (int i = 0; k->fields[i]; i++) {
		const json_t *v = json_object_get(payload, k->fields[i]);

		if (!v || !value_text(v, vals[i], sizeof(vals[i])))
			continue;
		argv[argc++] = k->fields[i];
		argv[argc++] = vals[i];
	}
	if (json_is_true(json_object_get(payload, "deleted")) || argc == 2) {
		const char *del[] = { "DEL", ret_name };

		if (redisAppendCommandArgv(rc, 2, del, NULL) != REDIS_OK)
			return -ENOMEM;
		n++;
	} else {
		if (whole) {
			const char *del[] = { "DEL", ret_name };

			if (redisAppendCommandArgv(rc, 2, del, NULL) != REDIS_OK)
				return -ENOMEM;
			n++;
		}
		if (redisAppendCommandArgv(rc, argc, argv, NULL) != REDIS_OK)
			return -ENOMEM;
		n++;
	}
	const char *pub[] = { "PUBLISH", k->channel, id };

	if (redisAppendCommandArgv(rc, 3, pub, NULL) != REDIS_OK)
		return -ENOMEM;
	return n + 1;
}

/* read @n replies; -EIO when Redis failed or refused one */
static int read_replies(redisContext *rc, int n)
{
	int r = 0;

	for (int i = 0; i < n; i++) {
		redisReply *reply = NULL;

		if (redisGetReply(rc, (void **)&reply) != REDIS_OK)
			return -EIO;
		if (reply->type == REDIS_REPLY_ERROR) {
			log_warn("outbox: redis refused a command: %s", reply->str);
			r = -EIO;
		}
		freeReplyObject(reply);
	}
	return r;
}

static const struct kind *kind_of(const char *name)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(kinds[i].name, name))
			return &kinds[i];
	return NULL;
}

/* apply one outbox row; 0 = done (applied or skipped), -EIO = Redis failed */
static int apply_row(redisContext *rc, const char *kind_name, const char *payload_text)
{
	const struct kind *k = kind_of(kind_name);
	json_t *payload = json_loads(payload_text, 0, NULL);
	char name[128];
	int n;

	if (!k || !json_is_object(payload)) {
		log_warn("outbox: a '%s' row with payload %.80s is not for Redis: skipped",
			 kind_name, payload_text);
		json_decref(payload);
		return 0;
	}
	n = append_apply(rc, k, payload, false, name, sizeof(name));
	json_decref(payload);
	if (n <= 0)
		return n;
	return read_replies(rc, n);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pg_drop(struct relay *rl)
{
	PQfinish(rl->pg);
	rl->pg = NULL;
}

static int pg_up(struct relay *rl)
{
	PGresult *res;

	if (rl->pg && PQstatus(rl->pg) == CONNECTION_OK)
		return 0;
	pg_drop(rl);
	if (pg_connect(rl->ctx->cfg->postgres.dsn, &rl->pg))
		return -EIO;
	res = pg_exec(rl->pg, "relay listen", "LISTEN " OUTBOX_CHANNEL, 0, NULL);
	if (!res) {
		pg_drop(rl);
		return -EIO;
	}
	PQclear(res);
	return 0;
}

static void relay_unlock(struct relay *rl)
{
	PGresult *res = pg_exec(rl->pg, "relay unlock",
				"SELECT pg_advisory_unlock(" RELAY_LOCK_SQL ")", 0, NULL);

	PQclear(res);
}

/* one pass over the pending rows; the rows applied, or -EIO when Redis failed */
static int relay_pass(struct relay *rl, bool *ret_more)
{
	static const char sql[] = "SELECT id::text, kind, payload::text FROM outbox"
				  " WHERE applied_at IS NULL ORDER BY id LIMIT " "200";
	_Static_assert(RELAY_BATCH == 200, "the batch size is in the SQL text");
	PGresult *res, *pend;
	int rows, applied = 0, r = 0;
	bool locked;

	*ret_more = false;
	/* held for one pass only, so that sync-redis (which waits for it) can run */
	res = pg_exec(rl->pg, "relay lock", "SELECT pg_try_advisory_lock(" RELAY_LOCK_SQL ")", 0,
		      NULL);
	if (!res)
		return -EIO;
	locked = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!locked)
		return 0; /* another instance relays, or a rebuild runs */
	res = pg_exec(rl->pg, "relay fetch", sql, 0, NULL);
	if (!res) {
		relay_unlock(rl);
		return -EIO;
	}
	rows = PQntuples(res);
	if (rows && !rl->redis && rl->ctx->redis_enabled) {
		rl->redis = redisconn_open(&rl->ctx->redis, REDIS_TIMEOUT_MS);
		if (!rl->redis)
			r = -EIO;
	}
	for (int i = 0; i < rows && !r; i++) {
		const char *id[] = { PQgetvalue(res, i, 0) };

		if (!rl->ctx->redis_enabled) {
			r = -ENOTCONN;
			break;
		}
		r = apply_row(rl->redis, PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));
		if (r) {
			redisFree(rl->redis);
			rl->redis = NULL;
			break;
		}
		if (pg_command(rl->pg, "relay mark",
			       "UPDATE outbox SET applied_at = now() WHERE id = $1", 1, id)) {
			r = -EIO;
			break;
		}
		applied++;
	}
	*ret_more = !r && rows == RELAY_BATCH;
	PQclear(res);
	relay_unlock(rl);
	if (applied)
		metrics_relay_applied(rl->ctx->metrics, (uint64_t)applied);
	pend = pg_exec(rl->pg, "relay pending",
		       "SELECT count(*) FROM outbox WHERE applied_at IS NULL", 0, NULL);
	if (pend) {
		metrics_relay_pending(rl->ctx->metrics, strtoll(PQgetvalue(pend, 0, 0), NULL, 10));
		PQclear(pend);
	}
	return r ? r : applied;
}

static void *relay_main(void *arg)
{
	struct relay *rl = arg;
	long long last_expiry = 0, last_idem = 0;
	bool failing = false, more = false;

	rl->backoff_ms = RELAY_BACKOFF_MIN_MS;
	for (;;) {
		struct pollfd pfd[2] = { { .fd = rl->wake[0], .events = POLLIN },
					 { .fd = -1, .events = POLLIN } };
		int timeout = more ? 0 : failing ? (int)rl->backoff_ms : 1000, r;

		if (pg_up(rl) == 0) {
			long long t = now_ms();

			if (t - last_expiry >= 1000) {
				last_expiry = t;
				if (outbox_expire_keys(rl->pg) > 0)
					timeout = 0;
			}
			if (t - last_idem >= 60000) {
				last_idem = t;
				idempotency_expire(rl->pg);
			}
			r = relay_pass(rl, &more);
			if (r < 0) {
				if (!failing || rl->backoff_ms >= RELAY_BACKOFF_MAX_MS)
					log_warn("outbox: cannot apply to Redis yet (%s); retrying",
						 strerror(-r));
				metrics_relay_failure(rl->ctx->metrics);
				timeout = (int)rl->backoff_ms;
				rl->backoff_ms = rl->backoff_ms * 2 > RELAY_BACKOFF_MAX_MS ?
							 RELAY_BACKOFF_MAX_MS :
							 rl->backoff_ms * 2;
				failing = true;
				more = false;
				if (r == -EIO && rl->pg && PQstatus(rl->pg) != CONNECTION_OK)
					pg_drop(rl);
			} else {
				if (failing)
					log_info("outbox: Redis is back; relaying");
				failing = false;
				rl->backoff_ms = RELAY_BACKOFF_MIN_MS;
				timeout = more ? 0 : timeout;
			}
			if (rl->pg)
				pfd[1].fd = PQsocket(rl->pg);
		} else {
			timeout = 1000;
		}
		if (poll(pfd, 2, timeout) > 0 && (pfd[0].revents & POLLIN))
			break;
		if (rl->pg && PQconsumeInput(rl->pg)) {
			PGnotify *n;

			while ((n = PQnotifies(rl->pg)))
				PQfreemem(n);
		}
	}
	pg_drop(rl);
	if (rl->redis)
		redisFree(rl->redis);
	return NULL;
}

int relay_start(struct api_ctx *ctx, struct relay **ret)
{
	struct relay *rl = calloc(1, sizeof(*rl));
	int r;

	if (!rl)
		return -ENOMEM;
	rl->ctx = ctx;
	if (pipe2(rl->wake, O_CLOEXEC) < 0) {
		r = -errno;
		free(rl);
		return r;
	}
	r = -pthread_create(&rl->thread, NULL, relay_main, rl);
	if (r) {
		close(rl->wake[0]);
		close(rl->wake[1]);
		free(rl);
		return r;
	}
	*ret = rl;
	return 0;
}

void relay_stop(struct relay *rl)
{
	if (!rl)
		return;
	if (write(rl->wake[1], "x", 1) != 1)
		log_warn("outbox: cannot wake the relay to stop it");
	pthread_join(rl->thread, NULL);
	close(rl->wake[0]);
	close(rl->wake[1]);
	free(rl);
}

/* --- sync-redis --------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* DEL every @pattern name of Redis not in the sorted @keep; the count or -EIO */
static int delete_stale(redisContext *rc, const char *pattern, char **keep, size_t n_keep)
{
	char cursor[32] = "0";
	int deleted = 0;

	do {
		redisReply *r = redisCommand(rc, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);

		if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
			if (r)
				freeReplyObject(r);
			return -EIO;
		}
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		for (size_t i = 0; i < r->element[1]->elements; i++) {
			char *name = r->element[1]->element[i]->str;
			redisReply *d;

			if (bsearch(&name, keep, n_keep, sizeof(*keep), cmp_str))
				continue;
			d = redisCommand(rc, "DEL %s", name);
			if (d)
				freeReplyObject(d);
			deleted++;
		}
		freeReplyObject(r);
	} while (strcmp(cursor, "0") != 0);
	return deleted;
}

/* write every row (kind, payload) of @res whole; names into @names (n rows) */
static int sync_rows(redisContext *rc, const struct kind *k, PGresult *res, char **names)
{
	int rows = PQntuples(res), pending = 0, r = 0;

	for (int i = 0; i < rows; i++) {
		json_t *payload = json_loads(PQgetvalue(res, i, 0), 0, NULL);
		char name[128] = "";
		int n = payload ? append_apply(rc, k, payload, true, name, sizeof(name)) : 0;

		json_decref(payload);
		if (n < 0)
			return n;
		names[i] = strdup(name);
		if (!names[i])
			return -ENOMEM;
		pending += n;
		if (pending >= 1000) {
			r = read_replies(rc, pending);
			pending = 0;
			if (r)
				return r;
		}
	}
	return read_replies(rc, pending);
}

int relay_sync_redis(struct api_ctx *ctx)
{
	static const char *const queries[] = {
		"SELECT " OUTBOX_KEY_PAYLOAD(OUTBOX_KEY_ACTIVE) "::text FROM api_keys k"
		" JOIN consumers c ON c.id = k.consumer_id ORDER BY k.id",
		"SELECT " OUTBOX_PLAN_PAYLOAD "::text FROM plans p ORDER BY p.id",
		"SELECT " OUTBOX_ROUTE_PAYLOAD "::text FROM routes r ORDER BY r.id",
	};
	PGresult *res[3] = { NULL, NULL, NULL }, *max = NULL;
	redisContext *rc = NULL;
	PGconn *pg;
	int r = 0, written = 0, stale = 0;

	if (!ctx->redis_enabled)
		return log_error_errno(-EINVAL, "sync-redis: redis.url is not set");
	r = pg_connect(ctx->cfg->postgres.dsn, &pg);
	if (r)
		return r;
	rc = redisconn_open(&ctx->redis, REDIS_TIMEOUT_MS * 5);
	if (!rc) {
		r = log_error_errno(-ECONNREFUSED, "sync-redis: cannot reach Redis");
		goto out_finish;
	}
	/* no relay interleaves its rows with the rebuild */
	if (pg_command(pg, "sync lock", "SELECT pg_advisory_lock(" RELAY_LOCK_SQL ")", 0, NULL) ||
	    pg_command(pg, "sync begin", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0,
		       NULL)) {
		r = -EIO;
		goto out_finish;
	}
	max = pg_exec(pg, "sync outbox", "SELECT coalesce(max(id), 0)::text FROM outbox", 0, NULL);
	for (int i = 0; i < 3 && max; i++)
		if (!(res[i] = pg_exec(pg, "sync read", queries[i], 0, NULL)))
			break;
	if (!max || !res[2] || pg_command(pg, "sync commit", "COMMIT", 0, NULL)) {
		r = -EIO;
		goto out_clear;
	}
	for (int i = 0; i < 3 && !r; i++) {
		size_t n = (size_t)PQntuples(res[i]);
		char **names = calloc(n + 1, sizeof(*names));
		char pattern[32];

		if (!names) {
			r = -ENOMEM;
			break;
		}
		r = sync_rows(rc, &kinds[i], res[i], names);
		if (!r) {
			qsort(names, n, sizeof(*names), cmp_str);
			snprintf(pattern, sizeof(pattern), "%s*", kinds[i].prefix);
			r = delete_stale(rc, pattern, names, n);
			if (r >= 0) {
				stale += r;
				written += (int)n;
				r = 0;
			}
		}
		for (size_t j = 0; j < n; j++)
			free(names[j]);
		free(names);
	}
	if (r) {
		log_error_errno(r, "sync-redis: writing to Redis failed");
		goto out_clear;
	}
	{
		const char *params[] = { PQgetvalue(max, 0, 0) };

		r = pg_command(pg, "sync mark",
			       "UPDATE outbox SET applied_at = now() WHERE id <= $1::bigint"
			       " AND applied_at IS NULL",
			       1, params);
	}
	if (!r)
		log_info("sync-redis: %d keys, %d plans, %d routes written (%d total), %d stale "
			 "hashes deleted",
			 PQntuples(res[0]), PQntuples(res[1]), PQntuples(res[2]), written, stale);
out_clear:
	for (int i = 0; i < 3; i++)
		PQclear(res[i]);
	PQclear(max);
out_finish:
	if (rc)
		redisFree(rc);
	PQfinish(pg);
	return r;
}
