/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <hiredis/hiredis.h>

#include "agent/keyfile.h"
#include "lib/redisconn.h"
#include "agent/redissync.h"

#define BACKOFF_MIN 1
#define BACKOFF_MAX 30
#define PIPELINE 256 /* HGETALLs in flight during a full sync */
#define USAGE_SLOTS 4096 /* distinct (consumer, api, day) counted between sends */
#define LASTUSED_SLOTS 4096
#define USAGE_TTL (40 * 86400)

struct usage_slot {
	uint32_t consumer_id, api_id, day; /* day as YYYYMMDD; 0 = free slot */
	uint64_t count;
};

#define NEGATIVE_SLOTS 4096

struct negative {
	struct tg_key_digest digest;
	time_t expires; /* 0 = free */
};

struct lastused_slot {
	uint32_t key_id;
	uint32_t minute;  /* the minute last stamped */
	uint64_t unix_s;  /* the latest request, to send */
	bool dirty;
};

struct redissync {
	const struct config *cfg;
	struct bpfload *bl;
	const struct key_secrets *secrets;
	struct redis_addr addr;
	redisContext *cmd; /* commands */
	redisContext *sub; /* SUBSCRIBE */
	time_t next_connect;
	int backoff;
	time_t next_full;
	time_t next_quota;
	struct redissync_stats stats;
	struct usage_slot usage[USAGE_SLOTS];
	size_t n_usage;
	struct lastused_slot lastused[LASTUSED_SLOTS];
	struct ring_buffer *misses;
	struct tg_key_digest pending[REDISSYNC_MISSES_PER_TICK];
	size_t n_pending;
	struct negative negatives[NEGATIVE_SLOTS];
};

static int send_usage(struct redissync *rs);
static int check_quotas(struct redissync *rs, time_t now);
static int on_miss(void *ctx, void *data, size_t size);
static int handle_misses(struct redissync *rs, time_t now);

int redissync_new(const struct config *cfg, struct bpfload *bl, const struct key_secrets *secrets,
		  struct redissync **ret, char *err, size_t err_len)
{
	struct redis_addr addr;
	struct redissync *rs;
	int r = redisconn_parse(cfg->redis.url, &addr, err, err_len);

	if (r)
		return r;
	rs = calloc(1, sizeof(*rs));
	if (!rs)
		return -ENOMEM;
	rs->cfg = cfg;
	rs->bl = bl;
	rs->secrets = secrets;
	rs->addr = addr;
	if (bl) {
		int fd = bpfload_map_fd(bl, "tg_misses");

		if (fd >= 0)
			rs->misses = ring_buffer__new(fd, on_miss, rs, NULL);
	}
	*ret = rs;
	return 0;
}

static void disconnect(struct redissync *rs, time_t now)
{
	if (rs->cmd)
		redisFree(rs->cmd);
	if (rs->sub)
		redisFree(rs->sub);
	rs->cmd = rs->sub = NULL;
	if (rs->stats.up)
		rs->backoff = 0;
	rs->stats.up = false;
	rs->stats.failures++;
	rs->backoff = rs->backoff ? (rs->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : rs->backoff * 2)
				  : BACKOFF_MIN;
	rs->next_connect = now + rs->backoff;
}

static int do_connect(struct redissync *rs)
{
	redisReply *r;

	rs->cmd = redisconn_open(&rs->addr, 1000);
	rs->sub = rs->cmd ? redisconn_open(&rs->addr, 1000) : NULL;
	if (!rs->sub)
		return -ECONNREFUSED;
	r = redisCommand(rs->sub, "SUBSCRIBE tollgate:keys tollgate:plans tollgate:routes");
	if (!r)
		return -EIO;
	freeReplyObject(r);
	for (int i = 0; i < 2; i++) { /* one confirmation per channel */
		if (redisGetReply(rs->sub, (void **)&r) != REDIS_OK)
			return -EIO;
		freeReplyObject(r);
	}
	rs->stats.up = true;
	rs->backoff = 0;
	return 0;
}

/* --- reading hashes ------------------------------------------------------------ */

static const char *field(const redisReply *h, const char *name)
{
	if (!h || h->type != REDIS_REPLY_ARRAY)
		return NULL;
	for (size_t i = 0; i + 1 < h->elements; i += 2)
		if (h->element[i]->type == REDIS_REPLY_STRING && strcmp(h->element[i]->str, name) == 0 &&
		    h->element[i + 1]->type == REDIS_REPLY_STRING)
			return h->element[i + 1]->str;
	return NULL;
}

static bool u32_field(const redisReply *h, const char *name, uint32_t min, uint32_t *ret)
{
	const char *s = field(h, name);
	unsigned long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > UINT32_MAX)
		return false;
	*ret = (uint32_t)v;
	return true;
}

static bool bool_field(const redisReply *h, const char *name)
{
	const char *s = field(h, name);

	return s && (strcmp(s, "1") == 0 || strcmp(s, "true") == 0);
}

/* apikey:{digest} hash -> tg_key; false when the hash is not a valid key. */
static bool parse_key(const redisReply *h, struct tg_key *ret)
{
	struct tg_key k = { 0 };

	if (!h || h->type != REDIS_REPLY_ARRAY || h->elements == 0 ||
	    !u32_field(h, "key_id", 1, &k.key_id) || !u32_field(h, "consumer_id", 1, &k.consumer_id) ||
	    !u32_field(h, "plan_id", 1, &k.plan_id))
		return false;
	if (bool_field(h, "is_active"))
		k.flags |= TG_KEY_ACTIVE;
	if (bool_field(h, "suspended"))
		k.flags |= TG_KEY_SUSPENDED;
	*ret = k;
	return true;
}

/* SCAN for a pattern: every matching name into *ret (malloc'd array of
 * strdup'd names). */
static int scan(struct redissync *rs, const char *pattern, char ***ret, size_t *ret_n)
{
	char cursor[32] = "0", **names = NULL;
	size_t n = 0, cap = 0;

	do {
		redisReply *r = redisCommand(rs->cmd, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);

		if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		    r->element[0]->type != REDIS_REPLY_STRING) {
			if (r)
				freeReplyObject(r);
			goto fail;
		}
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		for (size_t i = 0; i < r->element[1]->elements; i++) {
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 256;
				char **nn = reallocarray(names, ncap, sizeof(*nn));

				if (!nn) {
					freeReplyObject(r);
					goto fail;
				}
				names = nn;
				cap = ncap;
			}
			names[n] = strdup(r->element[1]->element[i]->str);
			if (!names[n]) {
				freeReplyObject(r);
				goto fail;
			}
			n++;
		}
		freeReplyObject(r);
	} while (strcmp(cursor, "0") != 0);
	*ret = names;
	*ret_n = n;
	return 0;
fail:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return -EIO;
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* HGETALL of every name, PIPELINE at a time; fn gets each hash. */
static int hgetall_each(struct redissync *rs, char **names, size_t n,
			void (*fn)(void *ctx, const char *name, const redisReply *h), void *ctx)
{
	for (size_t start = 0; start < n; start += PIPELINE) {
		size_t end = start + PIPELINE < n ? start + PIPELINE : n;

		for (size_t i = start; i < end; i++)
			redisAppendCommand(rs->cmd, "HGETALL %s", names[i]);
		for (size_t i = start; i < end; i++) {
			redisReply *h;

			if (redisGetReply(rs->cmd, (void **)&h) != REDIS_OK)
				return -EIO;
			fn(ctx, names[i], h);
			freeReplyObject(h);
		}
	}
	return 0;
}

/* --- full sync ------------------------------------------------------------------ */

struct key_ctx {
	struct keyfile kf;
	size_t cap;
	bool oom;
};

static void add_key(void *ctx, const char *name, const redisReply *h)
{
	struct key_ctx *kc = ctx;
	struct keyfile_entry e;

	if (keydigest_parse_hex(name + strlen("apikey:"), e.digest.bytes) < 0 || !parse_key(h, &e.key))
		return; /* not one of ours, or malformed: left out */
	if (kc->kf.n == kc->cap) {
		size_t ncap = kc->cap ? kc->cap * 2 : 256;
		struct keyfile_entry *ne = reallocarray(kc->kf.entries, ncap, sizeof(*ne));

		if (!ne) {
			kc->oom = true;
			return;
		}
		kc->kf.entries = ne;
		kc->cap = ncap;
	}
	kc->kf.entries[kc->kf.n++] = e;
}

static int sync_keys(struct redissync *rs)
{
	struct key_ctx kc = { 0 };
	char **names;
	size_t n;
	int fd = bpfload_map_fd(rs->bl, "tg_keys"), r;

	r = scan(rs, "apikey:*", &names, &n);
	if (r)
		return r;
	r = hgetall_each(rs, names, n, add_key, &kc);
	free_names(names, n);
	if (r || kc.oom) {
		keyfile_free(&kc.kf);
		return r ? r : -ENOMEM;
	}
	keyfile_sort(&kc.kf);
	rs->stats.empty_kept_now = kc.kf.n == 0 && bpfload_map_count(fd, sizeof(struct tg_key_digest)) > 0;
	if (rs->stats.empty_kept_now) {
		rs->stats.empty_kept++;
		r = 0;
	} else {
		r = keyfile_apply(&kc.kf, fd);
		if (r >= 0) {
			rs->stats.keys = (uint64_t)r;
			r = bpfload_config_changed(rs->bl);
		}
	}
	keyfile_free(&kc.kf);
	return r;
}

static void add_plan(void *ctx, const char *name, const redisReply *h)
{
	struct config *c = ctx;
	struct config_plan p = { 0 };
	const char *rate = field(h, "rate_per_sec");
	unsigned long long quota;
	char *end;
	int i;

	if (sscanf(name, "plan:%u", &p.id) != 1 || p.id == 0 || !rate)
		return;
	p.rate_per_sec = strtod(rate, &end);
	if (*end || !(p.rate_per_sec > 0) || p.rate_per_sec > 1e8)
		return;
	if (!u32_field(h, "api_id", 0, &p.api_id))
		p.api_id = 0;
	if (!u32_field(h, "burst", 1, &p.burst))
		p.burst = (uint32_t)ceil(p.rate_per_sec);
	if (field(h, "monthly_quota") && sscanf(field(h, "monthly_quota"), "%llu", &quota) == 1)
		p.monthly_quota = quota;
	snprintf(p.name, sizeof(p.name), "redis-%u", p.id);
	for (i = 0; i < c->n_plans && c->plans[i].id != p.id; i++)
		;
	if (i == c->n_plans && c->n_plans == CONFIG_MAX_PLANS)
		return;
	c->plans[i] = p;
	if (i == c->n_plans)
		c->n_plans++;
}

static void add_route(void *ctx, const char *name, const redisReply *h)
{
	struct config *c = ctx;
	struct config_route rt = { 0 };
	const char *prefix = field(h, "prefix"), *flags = field(h, "flags");
	size_t len;
	int i;

	if (sscanf(name, "route:%u", &rt.id) != 1 || rt.id == 0 || !prefix || prefix[0] != '/' ||
	    !u32_field(h, "api_id", 1, &rt.api_id))
		return;
	len = strlen(prefix);
	while (len > 1 && prefix[len - 1] == '/')
		len--;
	if (len >= TG_ROUTE_MAX - 1)
		return;
	memcpy(rt.prefix, prefix, len);
	if (flags) {
		char *end;
		unsigned long bits = strtoul(flags, &end, 10);

		if (*flags >= '0' && *flags <= '9' && !*end) {
			rt.public_route = bits & TG_ROUTE_PUBLIC;
			rt.deprecated = bits & TG_ROUTE_DEPRECATED;
		} else {
			rt.public_route = strstr(flags, "public") != NULL;
			rt.deprecated = strstr(flags, "deprecated") != NULL;
		}
	}
	snprintf(rt.name, sizeof(rt.name), "redis-%u", rt.id);
	for (i = 0; i < c->n_routes && c->routes[i].id != rt.id; i++)
		;
	if (i == c->n_routes && c->n_routes == CONFIG_MAX_ROUTES)
		return;
	c->routes[i] = rt;
	if (i == c->n_routes)
		c->n_routes++;
}

/* The config's plans and routes with Redis's added (Redis wins on an id). */
static int sync_plans_routes(struct redissync *rs)
{
	struct config *merged = malloc(sizeof(*merged));
	char **names = NULL, err[256];
	size_t n = 0;
	int r;

	if (!merged)
		return -ENOMEM;
	*merged = *rs->cfg;
	r = scan(rs, "plan:*", &names, &n);
	if (!r) {
		r = hgetall_each(rs, names, n, add_plan, merged);
		free_names(names, n);
	}
	if (!r)
		r = scan(rs, "route:*", &names, &n);
	if (!r) {
		r = hgetall_each(rs, names, n, add_route, merged);
		free_names(names, n);
	}
	if (!r)
		r = bpfload_sync_config(rs->bl, merged, rs->secrets, err, sizeof(err));
	free(merged);
	return r;
}

/* Returns 1 when Redis holds no key at all while the map does: a cache that
 * restarted empty and is being rebuilt; nothing is changed then. */
static int full_sync(struct redissync *rs)
{
	int r = sync_keys(rs);

	if (r)
		return r;
	if (rs->stats.empty_kept_now)
		return 1;
	r = sync_plans_routes(rs);
	if (!r)
		rs->stats.full_syncs++;
	return r;
}

int redissync_tick(struct redissync *rs, time_t now)
{
	int r;

	if (!rs->stats.up) {
		if (now < rs->next_connect)
			return -ENOTCONN;
		r = do_connect(rs);
		if (r) {
			disconnect(rs, now);
			return r;
		}
		rs->next_full = 0; /* resync whatever changed while away */
	}
	if (now >= rs->next_full) {
		r = full_sync(rs);
		if (r < 0) {
			disconnect(rs, now);
			return r;
		}
		/* an empty Redis is looked at again soon: it is being refilled */
		rs->next_full = now + (r ? REDISSYNC_EMPTY_RETRY : REDISSYNC_FULL_EVERY);
	}
	if (send_usage(rs) < 0) {
		disconnect(rs, now);
		return -EIO;
	}
	if (handle_misses(rs, now) < 0) {
		disconnect(rs, now);
		return -EIO;
	}
	if (now >= rs->next_quota) {
		if (check_quotas(rs, now) < 0) {
			disconnect(rs, now);
			return -EIO;
		}
		rs->next_quota = now + REDISSYNC_QUOTA_EVERY;
	}
	return 0;
}

int redissync_fd(const struct redissync *rs)
{
	return rs->stats.up && rs->sub ? rs->sub->fd : -1;
}

/* One key changed: its hash now, or its removal. */
static int apply_key(struct redissync *rs, const char *digest_hex)
{
	struct tg_key_digest d;
	struct tg_key k;
	redisReply *h;
	int fd = bpfload_map_fd(rs->bl, "tg_keys");

	if (keydigest_parse_hex(digest_hex, d.bytes) < 0)
		return 0;
	h = redisCommand(rs->cmd, "HGETALL apikey:%s", digest_hex);
	if (!h)
		return -EIO;
	if (parse_key(h, &k))
		bpf_map_update_elem(fd, &d, &k, BPF_ANY);
	else if (h->type == REDIS_REPLY_ARRAY && h->elements == 0)
		bpf_map_delete_elem(fd, &d); /* the key is gone */
	freeReplyObject(h);
	return bpfload_config_changed(rs->bl);
}

void redissync_readable(struct redissync *rs)
{
	redisReply *m;
	int r = 0;

	if (!rs->sub)
		return;
	if (redisBufferRead(rs->sub) != REDIS_OK) {
		disconnect(rs, time(NULL));
		return;
	}
	while (r == 0 && redisGetReplyFromReader(rs->sub, (void **)&m) == REDIS_OK && m) {
		if (m->type == REDIS_REPLY_ARRAY && m->elements == 3 &&
		    m->element[0]->type == REDIS_REPLY_STRING && strcmp(m->element[0]->str, "message") == 0 &&
		    m->element[1]->type == REDIS_REPLY_STRING && m->element[2]->type == REDIS_REPLY_STRING) {
			if (strcmp(m->element[1]->str, "tollgate:keys") == 0)
				r = apply_key(rs, m->element[2]->str);
			else
				r = sync_plans_routes(rs);
			rs->stats.messages++;
		}
		freeReplyObject(m);
	}
	if (r)
		disconnect(rs, time(NULL));
}

static uint32_t utc_day(uint64_t time_ns)
{
	time_t secs = (time_t)(time_ns / 1000000000);
	struct tm tm;

	if (!gmtime_r(&secs, &tm))
		return 0;
	return (uint32_t)((tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday);
}

void redissync_note(void *ctx, const struct usage_event *ev)
{
	struct redissync *rs = ctx;
	uint32_t day, h, minute;

	if (ev->verdict != TG_V_ADMITTED || !ev->consumer_id)
		return;
	day = utc_day(ev->time_ns);
	h = (ev->consumer_id * 2654435761u ^ ev->api_id * 40503u ^ day) % USAGE_SLOTS;
	for (uint32_t i = 0; i < USAGE_SLOTS; i++) {
		struct usage_slot *u = &rs->usage[(h + i) % USAGE_SLOTS];

		if (u->day == day && u->consumer_id == ev->consumer_id && u->api_id == ev->api_id) {
			u->count += ev->count;
			break;
		}
		if (!u->day) {
			*u = (struct usage_slot){ ev->consumer_id, ev->api_id, day, ev->count };
			rs->n_usage++;
			break;
		}
		if (i == USAGE_SLOTS - 1)
			rs->stats.usage_dropped += ev->count;
	}
	if (!ev->key_id)
		return;
	minute = (uint32_t)(ev->time_ns / 60000000000ULL);
	{
		struct lastused_slot *l = &rs->lastused[ev->key_id % LASTUSED_SLOTS];

		if (l->key_id != ev->key_id || l->minute != minute) {
			l->key_id = ev->key_id;
			l->minute = minute;
			l->unix_s = ev->time_ns / 1000000000ULL;
			l->dirty = true;
		}
	}
}

/* Send what redissync_note() counted: pipelined, then forgotten once
 * written (a reply lost with the connection does not resend it). */
static int send_usage(struct redissync *rs)
{
	size_t cmds = 0;
	redisReply *r;

	for (size_t i = 0; i < USAGE_SLOTS; i++) {
		struct usage_slot *u = &rs->usage[i];

		if (!u->day)
			continue;
		redisAppendCommand(rs->cmd, "INCRBY usage:%u:%u:%u %llu", u->consumer_id, u->api_id,
				   u->day, (unsigned long long)u->count);
		redisAppendCommand(rs->cmd, "EXPIRE usage:%u:%u:%u %d", u->consumer_id, u->api_id,
				   u->day, USAGE_TTL);
		cmds += 2;
		u->day = 0;
	}
	rs->n_usage = 0;
	for (size_t i = 0; i < LASTUSED_SLOTS; i++) {
		struct lastused_slot *l = &rs->lastused[i];

		if (!l->dirty)
			continue;
		redisAppendCommand(rs->cmd, "SET lastused:%u %llu EX %d", l->key_id,
				   (unsigned long long)l->unix_s, USAGE_TTL);
		cmds++;
		l->dirty = false;
	}
	rs->stats.usage_sent += cmds;
	for (size_t i = 0; i < cmds; i++) {
		if (redisGetReply(rs->cmd, (void **)&r) != REDIS_OK)
			return -EIO;
		freeReplyObject(r);
	}
	return 0;
}

/* The consumer's usage this month on api (0 = every API): the sum of its
 * daily counters. */
static int month_usage(struct redissync *rs, uint32_t consumer, uint32_t api, const struct tm *now,
		       uint64_t *ret)
{
	char pattern[96];
	char **names = NULL;
	size_t n = 0;
	uint64_t sum = 0;
	int r;

	if (api)
		snprintf(pattern, sizeof(pattern), "usage:%u:%u:%04d%02d*", consumer, api,
			 now->tm_year + 1900, now->tm_mon + 1);
	else
		snprintf(pattern, sizeof(pattern), "usage:%u:*:%04d%02d*", consumer,
			 now->tm_year + 1900, now->tm_mon + 1);
	r = scan(rs, pattern, &names, &n);
	if (r)
		return r;
	for (size_t i = 0; i < n; i++)
		redisAppendCommand(rs->cmd, "GET %s", names[i]);
	for (size_t i = 0; i < n; i++) {
		redisReply *v;

		if (redisGetReply(rs->cmd, (void **)&v) != REDIS_OK) {
			free_names(names, n);
			return -EIO;
		}
		if (v->type == REDIS_REPLY_STRING)
			sum += strtoull(v->str, NULL, 10);
		freeReplyObject(v);
	}
	free_names(names, n);
	*ret = sum;
	return 0;
}

static int check_quotas(struct redissync *rs, time_t now)
{
	int buckets_fd = bpfload_map_fd(rs->bl, "tg_buckets");
	int plans_fd = bpfload_map_fd(rs->bl, "tg_plans");
	struct tg_bucket_key key, next;
	uint64_t exhausted = 0;
	struct tm tm, nm;
	time_t month_end;

	gmtime_r(&now, &tm);
	nm = tm;
	nm.tm_mday = 1;
	nm.tm_hour = nm.tm_min = nm.tm_sec = 0;
	nm.tm_mon += 1;
	month_end = timegm(&nm);
	if (bpf_map_get_next_key(buckets_fd, NULL, &next) < 0)
		return 0;
	do {
		struct tg_plan plan;
		struct tg_bucket b;
		uint64_t used = 0;
		bool over;
		int r;

		key = next;
		if (bpf_map_lookup_elem(plans_fd, &key.plan_id, &plan) < 0 ||
		    bpf_map_lookup_elem_flags(buckets_fd, &key, &b, BPF_F_LOCK) < 0)
			continue;
		if (plan.monthly_quota) {
			r = month_usage(rs, key.consumer_id, plan.api_id, &tm, &used);
			if (r)
				return r;
		}
		over = plan.monthly_quota && used >= plan.monthly_quota;
		exhausted += over;
		if (over == !!(b.flags & TG_BUCKET_QUOTA_EXHAUSTED))
			continue;
		{
			struct tg_bucket_op op = {
				.key = key,
				.set_flags = over ? TG_BUCKET_QUOTA_EXHAUSTED : 0,
				.clear_flags = over ? 0 : TG_BUCKET_QUOTA_EXHAUSTED,
				.quota_retry_s = month_end > now ? (__u32)(month_end - now) : 1,
			};

			bpfload_bucket_op(rs->bl, &op);
		}
	} while (bpf_map_get_next_key(buckets_fd, &key, &next) == 0);
	rs->stats.quota_exhausted = exhausted;
	return 0;
}

static int on_miss(void *ctx, void *data, size_t size)
{
	struct redissync *rs = ctx;

	if (size < sizeof(struct tg_key_digest))
		return 0;
	if (rs->n_pending == REDISSYNC_MISSES_PER_TICK) {
		rs->stats.misses_skipped++;
		return 0;
	}
	memcpy(&rs->pending[rs->n_pending++], data, sizeof(struct tg_key_digest));
	return 0;
}

/* Look the reported digests up; install keys or negative entries; expire
 * old negative entries (unless a key replaced them meanwhile). */
static int handle_misses(struct redissync *rs, time_t now)
{
	int fd = bpfload_map_fd(rs->bl, "tg_keys");
	char hex[KEYDIGEST_HEX_LEN + 1];
	size_t found = 0;
	struct tg_key k;

	for (size_t i = 0; i < NEGATIVE_SLOTS; i++) {
		struct negative *n = &rs->negatives[i];

		if (!n->expires || n->expires > now)
			continue;
		if (bpf_map_lookup_elem(fd, &n->digest, &k) == 0 && (k.flags & TG_KEY_NEGATIVE))
			bpf_map_delete_elem(fd, &n->digest);
		n->expires = 0;
	}
	if (!rs->misses)
		return 0;
	rs->n_pending = 0;
	ring_buffer__consume(rs->misses);
	for (size_t i = 0; i < rs->n_pending; i++) {
		redisReply *h;

		keydigest_hex(rs->pending[i].bytes, hex);
		h = redisCommand(rs->cmd, "HGETALL apikey:%s", hex);
		if (!h)
			return -EIO;
		if (parse_key(h, &k)) {
			/* a PUBLISH may have installed it first, and tg_xdp cached it */
			bpf_map_update_elem(fd, &rs->pending[i], &k, BPF_ANY);
			rs->stats.misses_found++;
			found++;
		} else {
			struct negative *n = &rs->negatives[rs->pending[i].bytes[0] % NEGATIVE_SLOTS];
			struct tg_key neg = { .flags = TG_KEY_NEGATIVE };

			/* BPF_NOEXIST: a key that a PUBLISH installed meanwhile stays */
			if (bpf_map_update_elem(fd, &rs->pending[i], &neg, BPF_NOEXIST) == 0) {
				if (n->expires && bpf_map_lookup_elem(fd, &n->digest, &k) == 0 &&
				    (k.flags & TG_KEY_NEGATIVE))
					bpf_map_delete_elem(fd, &n->digest); /* slot taken over */
				n->digest = rs->pending[i];
				n->expires = now + REDISSYNC_NEGATIVE_TTL;
				rs->stats.misses_negative++;
			}
		}
		freeReplyObject(h);
	}
	rs->n_pending = 0;
	/* negative entries need no count: tg_xdp caches found keys only */
	return found ? bpfload_config_changed(rs->bl) : 0;
}

void redissync_resync(struct redissync *rs)
{
	rs->next_full = 0;
}

const struct redissync_stats *redissync_stats(const struct redissync *rs)
{
	return &rs->stats;
}

void redissync_free(struct redissync *rs)
{
	if (!rs)
		return;
	if (rs->cmd)
		redisFree(rs->cmd);
	if (rs->sub)
		redisFree(rs->sub);
	ring_buffer__free(rs->misses);
	free(rs);
}
