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

#define STATE_SLOTS 16384

struct bucket_state {
	struct tg_bucket_key key; /* consumer 0 = free slot */
	uint64_t last_consumed;
	uint64_t last_ms;
	double rate; /* recent consumption on this host, per second */
	double size; /* the lease asked for last time */
};

struct lease {
	const struct config *cfg;
	struct bpfload *bl;
	struct redis_addr addr; /* the same server and database as the key sync */
	redisContext *c;
	char sha[48];
	uint64_t next_ms;
	struct bucket_state *states;
	struct lease_stats stats;
};

int lease_new(const struct config *cfg, struct bpfload *bl, struct lease **ret, char *err,
	      size_t err_len)
{
	struct lease *l = calloc(1, sizeof(*l));
	int r;

	if (!l)
		return -ENOMEM;
	l->states = calloc(STATE_SLOTS, sizeof(*l->states));
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

/* Tokens from (want > 0) or back to (want < 0) rl:{consumer}:{plan}. */
static long long take(struct lease *l, const struct tg_bucket_key *k, const struct tg_plan *plan,
		      long long want, uint64_t now_ms)
{
	char key[64], cap[32], rate[48], now[32], w[32];
	redisReply *r;
	long long got = -1;

	snprintf(key, sizeof(key), "rl:%u:%u", k->consumer_id, k->plan_id);
	snprintf(cap, sizeof(cap), "%u", plan->burst);
	snprintf(rate, sizeof(rate), "%.6f", (double)plan->rate_fp / TG_TOKEN_ONE);
	snprintf(now, sizeof(now), "%llu", (unsigned long long)now_ms);
	snprintf(w, sizeof(w), "%lld", want);
	r = redisCommand(l->c, "EVALSHA %s 1 %s %s %s %s %s", l->sha, key, cap, rate, now, w);
	l->stats.round_trips++;
	if (r && r->type == REDIS_REPLY_INTEGER)
		got = r->integer;
	if (r)
		freeReplyObject(r);
	if (got < 0)
		drop_conn(l); /* reconnect, and load the script again, next time */
	return got;
}

static struct bucket_state *state_get(struct lease *l, const struct tg_bucket_key *k)
{
	uint32_t h = (k->consumer_id * 2654435761u ^ k->plan_id * 40503u) % STATE_SLOTS;

	for (uint32_t i = 0; i < STATE_SLOTS; i++) {
		struct bucket_state *s = &l->states[(h + i) % STATE_SLOTS];

		if (s->key.consumer_id == k->consumer_id && s->key.plan_id == k->plan_id)
			return s;
		if (!s->key.consumer_id) {
			s->key = *k;
			return s;
		}
	}
	return NULL;
}

int lease_tick(struct lease *l, uint64_t now_ms)
{
	int buckets_fd = bpfload_map_fd(l->bl, "tg_buckets");
	int plans_fd = bpfload_map_fd(l->bl, "tg_plans");
	uint32_t interval = l->cfg->ratelimit.lease_interval_ms;
	struct tg_bucket_key key, next;
	int r;

	if (now_ms < l->next_ms)
		return 0;
	l->next_ms = now_ms + interval;
	r = ensure_conn(l);
	if (r)
		return r;
	if (bpf_map_get_next_key(buckets_fd, NULL, &next) < 0)
		return 0;
	do {
		struct bucket_state *st;
		struct tg_plan plan;
		struct tg_bucket b;
		long long avail, size, got;
		uint64_t period_ms;

		key = next;
		if (bpf_map_lookup_elem(plans_fd, &key.plan_id, &plan) < 0 ||
		    !(plan.flags & TG_PLAN_GLOBAL) ||
		    bpf_map_lookup_elem_flags(buckets_fd, &key, &b, BPF_F_LOCK) < 0)
			continue;
		st = state_get(l, &key);
		if (!st)
			continue;
		/* the real time between two ticks: the agent's loop may run this
		 * less often than lease_interval_ms */
		period_ms = st->last_ms && now_ms > st->last_ms ? now_ms - st->last_ms : interval;
		if (st->last_ms && now_ms > st->last_ms) {
			double inst = (double)(b.consumed_total - st->last_consumed) * 1000.0 /
				      (double)period_ms;

			st->rate = st->rate * 0.7 + inst * 0.3;
		}
		st->last_consumed = b.consumed_total;
		st->last_ms = now_ms;
		avail = (long long)(b.granted_total - b.consumed_total);
		/*
		 * Two ticks' worth at the recent rate, within the configured bounds.
		 * The rate seen here is what the host was granted, not what its
		 * clients want: a lease used up before this tick means they wanted
		 * more, so it doubles instead (what Redis has left bounds the rest).
		 */
		if (avail <= 0 && st->size > 0)
			st->size *= 2;
		else
			st->size = st->rate * 2.0 * (double)period_ms / 1000.0;
		if (st->size < l->cfg->ratelimit.lease_min)
			st->size = l->cfg->ratelimit.lease_min;
		if (st->size > l->cfg->ratelimit.lease_max)
			st->size = l->cfg->ratelimit.lease_max;
		size = (long long)st->size;
		if (avail * 2 >= size)
			continue;
		got = take(l, &key, &plan, size - avail, now_ms);
		if (got < 0)
			return -EIO;
		if (got > 0) {
			struct tg_bucket_op op = { .key = key, .grant = (__u64)got };

			if (bpfload_bucket_op(l->bl, &op) == 0)
				l->stats.granted += (uint64_t)got;
		}
	} while (bpf_map_get_next_key(buckets_fd, &key, &next) == 0);
	return 0;
}

void lease_return(struct lease *l)
{
	int buckets_fd = bpfload_map_fd(l->bl, "tg_buckets");
	int plans_fd = bpfload_map_fd(l->bl, "tg_plans");
	struct tg_bucket_key key, next;
	struct timespec ts;
	uint64_t now_ms;

	if (ensure_conn(l) || bpf_map_get_next_key(buckets_fd, NULL, &next) < 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	now_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	do {
		struct tg_plan plan;
		struct tg_bucket b;

		key = next;
		if (bpf_map_lookup_elem(plans_fd, &key.plan_id, &plan) < 0 ||
		    !(plan.flags & TG_PLAN_GLOBAL) ||
		    bpf_map_lookup_elem_flags(buckets_fd, &key, &b, BPF_F_LOCK) < 0 ||
		    b.granted_total <= b.consumed_total)
			continue;
		if (take(l, &key, &plan, -(long long)(b.granted_total - b.consumed_total), now_ms) == 0)
			l->stats.returned += b.granted_total - b.consumed_total;
	} while (l->c && bpf_map_get_next_key(buckets_fd, &key, &next) == 0);
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
	free(l);
}
