/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <hiredis/hiredis.h>

#include "agent/lease.h"
#include "agent/mapwalk.h"
#include "lib/redisconn.h"

/*
 * The cluster-wide token bucket: KEYS[1] = rl:{consumer}:{plan}; ARGV =
 * capacity, refill per second, now (ms), tokens wanted (negative: given
 * back). A clock behind the bucket's counts as no time passed, as in the
 * kernel. Returns the whole tokens granted.
 */
static const char LUA_BUCKET[] =
	"local cap = tonumber(ARGV[1])\n"
	"local rate = tonumber(ARGV[2])\n"
	"local now = tonumber(ARGV[3])\n"
	"local want = tonumber(ARGV[4])\n"
	"local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')\n"
	"local tokens = tonumber(b[1])\n"
	"local ts = tonumber(b[2])\n"
	"if tokens == nil or ts == nil then tokens = cap; ts = now end\n"
	"if now > ts then\n"
	"  tokens = math.min(cap, tokens + (now - ts) * rate / 1000)\n"
	"  ts = now\n"
	"end\n"
	"local got = 0\n"
	"if want < 0 then\n"
	"  tokens = math.min(cap, tokens - want)\n"
	"else\n"
	"  got = math.min(want, math.floor(tokens))\n"
	"  tokens = tokens - got\n"
	"end\n"
	"redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))\n"
	"redis.call('PEXPIRE', KEYS[1], math.ceil(cap / rate * 1000) + 60000)\n"
	"return got\n";

struct bucket_state {
	struct tg_bucket_key key; /* consumer 0 = free slot */
	uint64_t last_consumed;
	uint64_t last_ms;
	double rate; /* recent consumption on this host, per second */
	double size; /* the lease asked for last time */
};

/* a lease this tick asks Redis for */
struct want {
	struct tg_bucket_key key;
	uint32_t burst;
	uint64_t rate_fp;
	long long tokens;
};

#define PLAN_CACHE 64 /* plans looked up once per tick (there are few) */

struct lease {
	const struct config *cfg;
	struct bpfload *bl;
	struct redis_addr addr; /* the same server and database as the key sync */
	redisContext *c;
	char sha[48];
	uint64_t next_ms;
	struct bucket_state *states;
	uint32_t n_states; /* a power of two, twice agent.max_buckets at least */
	struct want *wants;
	size_t n_wants, cap_wants;
	struct lease_stats stats;
};

int lease_new(const struct config *cfg, struct bpfload *bl, struct lease **ret, char *err,
	      size_t err_len)
{
	struct lease *l = calloc(1, sizeof(*l));
	int r;

	if (!l)
		return -ENOMEM;
	/* open addressing stays short at half full or less; a slot per
	 * possible bucket, so no bucket is ever left without a lease */
	l->n_states = 1024;
	while (l->n_states < 2ULL * cfg->agent.max_buckets)
		l->n_states *= 2;
	l->states = calloc(l->n_states, sizeof(*l->states));
	if (!l->states) {
		free(l);
		return -ENOMEM;
	}
	l->cfg = cfg;
	l->bl = bl;
	r = redisconn_parse(cfg->redis.url, &l->addr, err, err_len);
	if (r) {
		lease_free(l);
		return r;
	}
	*ret = l;
	return 0;
}

static void drop_conn(struct lease *l)
{
	if (l->c)
		redisFree(l->c);
	l->c = NULL;
	l->stats.failures++;
}

static int ensure_conn(struct lease *l)
{
	redisReply *r;

	if (l->c)
		return 0;
	l->c = redisconn_open(&l->addr, 300);
	if (!l->c) {
		drop_conn(l);
		return -ECONNREFUSED;
	}
	r = redisCommand(l->c, "SCRIPT LOAD %s", LUA_BUCKET);
	if (!r || r->type != REDIS_REPLY_STRING) {
		if (r)
			freeReplyObject(r);
		drop_conn(l);
		return -EIO;
	}
	snprintf(l->sha, sizeof(l->sha), "%s", r->str);
	freeReplyObject(r);
	return 0;
}

/* Queue the EVALSHA that takes w->tokens from (> 0) or gives them back to
 * (< 0) rl:{consumer}:{plan}; its reply is read by reply_tokens(). */
static int append_take(struct lease *l, const struct want *w, uint64_t now_ms)
{
	char key[64], cap[32], rate[48], now[32], n[32];

	snprintf(key, sizeof(key), "rl:%u:%u", w->key.consumer_id, w->key.plan_id);
	snprintf(cap, sizeof(cap), "%u", w->burst);
	snprintf(rate, sizeof(rate), "%.6f", (double)w->rate_fp / TG_TOKEN_ONE);
	snprintf(now, sizeof(now), "%llu", (unsigned long long)now_ms);
	snprintf(n, sizeof(n), "%lld", w->tokens);
	l->stats.round_trips++;
	return redisAppendCommand(l->c, "EVALSHA %s 1 %s %s %s %s %s", l->sha, key, cap, rate, now,
				  n) == REDIS_OK
		       ? 0
		       : -EIO;
}

/* The whole tokens the next queued EVALSHA granted, or -1 (the connection
 * is then dropped: reconnect and load the script again next time). */
static long long reply_tokens(struct lease *l)
{
	redisReply *r = NULL;
	long long got = -1;

	if (redisGetReply(l->c, (void **)&r) == REDIS_OK && r && r->type == REDIS_REPLY_INTEGER)
		got = r->integer;
	if (r)
		freeReplyObject(r);
	if (got < 0)
		drop_conn(l);
	return got;
}

static struct bucket_state *state_get(struct lease *l, const struct tg_bucket_key *k)
{
	uint32_t mask = l->n_states - 1;
	uint32_t h = (k->consumer_id * 2654435761u ^ k->plan_id * 40503u) & mask;

	for (uint32_t i = 0; i < l->n_states; i++) {
		struct bucket_state *s = &l->states[(h + i) & mask];

		if (s->key.consumer_id == k->consumer_id && s->key.plan_id == k->plan_id)
			return s;
		if (!s->key.consumer_id) {
			s->key = *k;
			return s;
		}
	}
	return NULL;
}

static int want_add(struct lease *l, const struct want *w)
{
	if (l->n_wants == l->cap_wants) {
		size_t cap = l->cap_wants ? 2 * l->cap_wants : 256;
		struct want *p = realloc(l->wants, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		l->wants = p;
		l->cap_wants = cap;
	}
	l->wants[l->n_wants++] = *w;
	return 0;
}

/* The plan @id from the tick's cache @cache (@n entries), else the map. */
static int plan_get(int plans_fd, uint32_t id, struct tg_plan *cache, uint32_t *ids,
		    unsigned int *n, struct tg_plan *ret)
{
	for (unsigned int i = 0; i < *n; i++)
		if (ids[i] == id) {
			*ret = cache[i];
			return 0;
		}
	if (bpf_map_lookup_elem(plans_fd, &id, ret) < 0)
		return -ENOENT;
	if (*n < PLAN_CACHE) {
		ids[*n] = id;
		cache[(*n)++] = *ret;
	}
	return 0;
}

/*
 * The lease a bucket needs now, in *ret (0: none). Its size is four ticks'
 * worth at the host's recent rate, within the configured bounds; it is
 * topped up whenever less than three quarters of it is left, so a bucket
 * holds at least three ticks' worth after every tick: a tick that comes
 * late, or traffic that bunches up, does not leave it dry (with two ticks'
 * worth, topped up under half, 1 % of the requests of consumers at half
 * their limit were refused while their lease was due). The rate is the
 * host's recent one, followed at once when it rises and smoothed when it
 * falls (an average that rose over several ticks left new consumers at
 * half their limit with a tick's worth for their first few hundred ms, and
 * under load one request in a thousand was refused there). The rate seen
 * here is what the host was granted, not what its clients want: a lease
 * used up before this tick means they wanted more, so it doubles instead
 * (what Redis has left bounds the rest).
 */
static void lease_size(struct lease *l, struct bucket_state *st, const struct tg_bucket *b,
		       uint64_t now_ms, long long *ret)
{
	uint32_t interval = l->cfg->ratelimit.lease_interval_ms;
	uint64_t period_ms;
	long long avail, size;

	/* the real time between two ticks: the agent's loop may run this
	 * less often than lease_interval_ms */
	period_ms = st->last_ms && now_ms > st->last_ms ? now_ms - st->last_ms : interval;
	if (st->last_ms && now_ms > st->last_ms) {
		/* consumed_total can step back by one: a token the kernel took
		 * and gave back (a request its flow had no slot for) */
		uint64_t used = b->consumed_total > st->last_consumed ?
					b->consumed_total - st->last_consumed :
					0;
		double inst = (double)used * 1000.0 / (double)period_ms;

		/* up at once, down slowly: a bucket that starts being used
		 * (or used faster) gets its lead at the next tick, not after
		 * the average has caught up over several */
		st->rate = inst > st->rate ? inst : st->rate * 0.7 + inst * 0.3;
	}
	st->last_consumed = b->consumed_total;
	st->last_ms = now_ms;
	avail = (long long)(b->granted_total - b->consumed_total);
	if (avail <= 0 && st->size > 0)
		st->size *= 2;
	else
		st->size = st->rate * 4.0 * (double)period_ms / 1000.0;
	if (st->size < l->cfg->ratelimit.lease_min)
		st->size = l->cfg->ratelimit.lease_min;
	if (st->size > l->cfg->ratelimit.lease_max)
		st->size = l->cfg->ratelimit.lease_max;
	size = (long long)st->size;
	*ret = avail * 4 >= size * 3 ? 0 : size - avail;
}

struct walk {
	struct lease *l;
	uint64_t now_ms;
	bool giving_back;
	int plans_fd;
	struct tg_plan plans[PLAN_CACHE];
	uint32_t plan_ids[PLAN_CACHE];
	unsigned int n_plans;
};

/* One bucket of the walk: its want, if it is global and wants anything. */
static int walk_bucket(void *ctx, const void *key, const void *value)
{
	struct walk *wk = ctx;
	struct lease *l = wk->l;
	const struct tg_bucket *b = value;
	struct want w = { .key = *(const struct tg_bucket_key *)key };
	struct bucket_state *st;
	struct tg_plan plan;

	if (plan_get(wk->plans_fd, w.key.plan_id, wk->plans, wk->plan_ids, &wk->n_plans, &plan) ||
	    !(plan.flags & TG_PLAN_GLOBAL))
		return 0;
	if (wk->giving_back) {
		if (b->granted_total > b->consumed_total)
			w.tokens = -(long long)(b->granted_total - b->consumed_total);
	} else {
		st = state_get(l, &w.key);
		if (!st) {
			/* full of buckets long gone from the map: start over
			 * (the rates are learnt again in a few ticks) */
			memset(l->states, 0, l->n_states * sizeof(*l->states));
			st = state_get(l, &w.key);
		}
		lease_size(l, st, b, wk->now_ms, &w.tokens);
	}
	if (!w.tokens)
		return 0;
	w.burst = plan.burst;
	w.rate_fp = plan.rate_fp;
	return want_add(l, &w); /* full: the rest next time */
}

/*
 * Walk the global-scope buckets into l->wants: with @giving_back, every
 * unused leased token of each (shutdown); else the lease each needs now
 * (lease_size()). Each bucket is read under its lock (BPF_F_LOCK); a walk
 * that fails is made again at the next tick.
 */
static void collect_wants(struct lease *l, uint64_t now_ms, bool giving_back)
{
	struct walk wk = { .l = l, .now_ms = now_ms, .giving_back = giving_back,
			   .plans_fd = bpfload_map_fd(l->bl, "tg_plans") };

	l->n_wants = 0;
	mapwalk(bpfload_map_fd(l->bl, "tg_buckets"), sizeof(struct tg_bucket_key),
		sizeof(struct tg_bucket), BPF_F_LOCK, walk_bucket, &wk);
}

/*
 * l->wants to Redis as one pipeline of EVALSHAs (a round trip per bucket
 * would make a tick of a thousand busy buckets longer than the interval,
 * and their leases late), then what Redis granted to the kernel.
 */
static int send_wants(struct lease *l, uint64_t now_ms)
{
	size_t sent = 0;

	for (; sent < l->n_wants; sent++)
		if (append_take(l, &l->wants[sent], now_ms))
			break;
	for (size_t i = 0; i < sent; i++) {
		const struct want *w = &l->wants[i];
		long long got = reply_tokens(l);
		struct tg_bucket_op op = { .key = w->key };

		if (got < 0)
			return -EIO; /* what was not read is lost; Redis refills it */
		if (w->tokens < 0) {
			l->stats.returned += (uint64_t)-w->tokens;
			continue;
		}
		if (got == 0)
			continue;
		op.grant = (__u64)got;
		if (bpfload_bucket_op(l->bl, &op) == 0)
			l->stats.granted += (uint64_t)got;
	}
	if (sent < l->n_wants) {
		drop_conn(l);
		return -EIO;
	}
	return 0;
}

int lease_tick(struct lease *l, uint64_t now_ms)
{
	int r;

	if (now_ms < l->next_ms)
		return 0;
	l->next_ms = now_ms + l->cfg->ratelimit.lease_interval_ms;
	r = ensure_conn(l);
	if (r)
		return r;
	collect_wants(l, now_ms, false);
	return send_wants(l, now_ms);
}

long long lease_return(struct lease *l)
{
	uint64_t now_ms, before = l->stats.returned;
	struct timespec ts;
	int r;

	r = ensure_conn(l);
	if (r)
		return r;
	clock_gettime(CLOCK_REALTIME, &ts);
	now_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	collect_wants(l, now_ms, true);
	r = send_wants(l, now_ms);
	if (r)
		return r;
	return (long long)(l->stats.returned - before);
}

const struct lease_stats *lease_stats(const struct lease *l)
{
	return &l->stats;
}

void lease_free(struct lease *l)
{
	if (!l)
		return;
	if (l->c)
		redisFree(l->c);
	free(l->states);
	free(l->wants);
	free(l);
}
