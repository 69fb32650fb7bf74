/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "billing/pg.h"
#include "billing/usage.h"
#include "lib/histogram.h"
#include "lib/log.h"

#define NS_PER_SEC 1000000000ull
#define TIME_MIN_SEC 1577836800ull /* 2020-01-01: older event times are bogus */
#define TIME_AHEAD_SEC 86400ull	   /* events more than a day ahead of us: bogus */
#define ENDPOINT_TEXT_MAX (3 * EVENT_ENDPOINT_MAX) /* invalid bytes become "%XX" */

/* --- aggregation tables ----------------------------------------------------- */

struct agg {
	uint64_t requests, summarized, unanswered, unattributed;
	uint64_t bytes_in, bytes_out, latency_sum_us;
	struct histogram_sparse hist;
};

/* a rollup row's key; minute rows leave method, country and endpoint empty */
struct row_key {
	int64_t ts; /* Unix seconds at the start of the minute, hour or day */
	uint32_t consumer_id, plan_id, api_id;
	uint8_t status_class, verdict, method;
	char country[2];
	uint8_t pad;
	uint16_t endpoint_len;
	char endpoint[ENDPOINT_TEXT_MAX + 1];
};

#define ROW_KEY_FIXED offsetof(struct row_key, endpoint)

struct row {
	uint64_t hash;
	struct agg agg;
	struct row_key key; /* only ROW_KEY_FIXED + endpoint_len + 1 bytes allocated */
};

struct row_table {
	struct row **slots;
	uint32_t cap, len;
};

/* 8 bytes at a time, then a murmur-style finish: keys are 30 to 400 bytes */
static uint64_t hash_bytes(const void *p, size_t n)
{
	const uint8_t *s = p;
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n, w;

	for (; n >= 8; s += 8, n -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ (w * 0xff51afd7ed558ccdull)) * 0xc4ceb9fe1a85ec53ull;
		h ^= h >> 32;
	}
	w = 0;
	memcpy(&w, s, n);
	h = (h ^ (w * 0xff51afd7ed558ccdull)) * 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	return h ^ (h >> 33);
}

static size_t key_len(const struct row_key *k)
{
	return ROW_KEY_FIXED + k->endpoint_len;
}

static int table_grow(struct row_table *t)
{
	uint32_t cap = t->cap ? t->cap * 2 : 1024;
	struct row **slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (uint32_t i = 0; i < t->cap; i++) {
		struct row *r = t->slots[i];
		uint32_t j;

		if (!r)
			continue;
		for (j = (uint32_t)r->hash & (cap - 1); slots[j]; j = (j + 1) & (cap - 1))
			;
		slots[j] = r;
	}
	free(t->slots);
	t->slots = slots;
	t->cap = cap;
	return 0;
}

/* the row of @k, created empty if new; NULL when out of memory */
static struct row *table_get(struct row_table *t, const struct row_key *k)
{
	size_t len = key_len(k);
	uint64_t h = hash_bytes(k, len);
	struct row *r;
	uint32_t i;

	if ((t->len + 1) * 4 > t->cap * 3 && table_grow(t))
		return NULL;
	for (i = (uint32_t)h & (t->cap - 1); (r = t->slots[i]); i = (i + 1) & (t->cap - 1))
		if (r->hash == h && key_len(&r->key) == len && !memcmp(&r->key, k, len))
			return r;
	r = calloc(1, offsetof(struct row, key) + len + 1);
	if (!r)
		return NULL;
	r->hash = h;
	memcpy(&r->key, k, len);
	t->slots[i] = r;
	t->len++;
	return r;
}

static void table_clear(struct row_table *t)
{
	for (uint32_t i = 0; i < t->cap; i++) {
		if (!t->slots[i])
			continue;
		histogram_sparse_free(&t->slots[i]->agg.hist);
		free(t->slots[i]);
	}
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

static int agg_merge(struct agg *dst, const struct agg *src)
{
	dst->requests += src->requests;
	dst->summarized += src->summarized;
	dst->unanswered += src->unanswered;
	dst->unattributed += src->unattributed;
	dst->bytes_in += src->bytes_in;
	dst->bytes_out += src->bytes_out;
	dst->latency_sum_us += src->latency_sum_us;
	return histogram_sparse_merge(&dst->hist, &src->hist);
}

/* --- dedupe streams -------------------------------------------------------- */

struct stream {
	struct stream *next;
	int32_t partition;
	uint32_t host_id, epoch;
	int64_t high_seq; /* -1: nothing applied yet */
	bool dirty;
	uint8_t applied[USAGE_DEDUPE_WINDOW / 8];
};

/* --- the rest of a batch --------------------------------------------------- */

struct dead_letter {
	char *topic;
	int32_t partition;
	int64_t offset;
	char *reason;
	void *key, *payload;
	size_t key_len, len;
};

struct snapshot_row {
	uint32_t host_id, consumer_id, api_id;
	char generation[32];
	char ts[40];
	int64_t hour;
	char *body;
};

struct partition_state {
	char topic[128];
	int32_t partition;
	int64_t fence;	       /* next_offset as Postgres has it */
	int64_t consumed_next; /* past the last message read; -2: none read */
};

struct usage_batch {
	unsigned int minute_retention_days;
	int64_t replay_from; /* replay mode: events from this second on; -1: live */
	struct row_table minute, hour;
	struct stream *streams, *last_stream;
	struct dead_letter *dead;
	size_t n_dead, cap_dead;
	struct snapshot_row *snaps;
	size_t n_snaps, cap_snaps;
	struct partition_state *parts;
	size_t n_parts, cap_parts;
	uint64_t messages;
	struct usage_stats stats;
};

int usage_batch_new(unsigned int minute_retention_days, struct usage_batch **ret)
{
	struct usage_batch *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	b->minute_retention_days = minute_retention_days;
	b->replay_from = -1;
	*ret = b;
	return 0;
}

int usage_batch_new_replay(unsigned int minute_retention_days, time_t from,
			   struct usage_batch **ret)
{
	int r = usage_batch_new(minute_retention_days, ret);

	if (!r)
		(*ret)->replay_from = (int64_t)from;
	return r;
}

static void forget_streams(struct usage_batch *b)
{
	while (b->streams) {
		struct stream *s = b->streams;

		b->streams = s->next;
		free(s);
	}
	b->last_stream = NULL;
}

static void drop_pending(struct usage_batch *b)
{
	table_clear(&b->minute);
	table_clear(&b->hour);
	for (size_t i = 0; i < b->n_dead; i++) {
		free(b->dead[i].topic);
		free(b->dead[i].reason);
		free(b->dead[i].key);
		free(b->dead[i].payload);
	}
	b->n_dead = 0;
	for (size_t i = 0; i < b->n_snaps; i++)
		free(b->snaps[i].body);
	b->n_snaps = 0;
	for (size_t i = 0; i < b->n_parts; i++)
		b->parts[i].consumed_next = -2;
	b->messages = 0;
}

void usage_batch_free(struct usage_batch *b)
{
	if (!b)
		return;
	drop_pending(b);
	forget_streams(b);
	free(b->dead);
	free(b->snaps);
	free(b->parts);
	free(b);
}

static struct partition_state *part_find(const struct usage_batch *b, const char *topic,
					 int32_t partition)
{
	for (size_t i = 0; i < b->n_parts; i++)
		if (b->parts[i].partition == partition && !strcmp(b->parts[i].topic, topic))
			return &b->parts[i];
	return NULL;
}

int usage_batch_fence(struct usage_batch *b, const char *topic, int32_t partition,
		      int64_t next_offset)
{
	struct partition_state *p = part_find(b, topic, partition);

	if (!p) {
		if (b->n_parts == b->cap_parts) {
			size_t cap = b->cap_parts ? b->cap_parts * 2 : 16;
			struct partition_state *n = realloc(b->parts, cap * sizeof(*n));

			if (!n)
				return -ENOMEM;
			b->parts = n;
			b->cap_parts = cap;
		}
		p = &b->parts[b->n_parts++];
		memset(p, 0, sizeof(*p));
		snprintf(p->topic, sizeof(p->topic), "%s", topic);
		p->partition = partition;
		p->consumed_next = -2;
	}
	p->fence = next_offset;
	return 0;
}

void usage_batch_release(struct usage_batch *b)
{
	drop_pending(b);
	forget_streams(b);
	b->n_parts = 0;
}

int usage_batch_next_offset(const struct usage_batch *b, const char *topic, int32_t partition,
			    int64_t *ret)
{
	const struct partition_state *p = part_find(b, topic, partition);

	if (!p)
		return -ENOENT;
	*ret = p->fence;
	return 0;
}

int usage_batch_expected_offset(const struct usage_batch *b, const char *topic, int32_t partition,
				int64_t *ret)
{
	const struct partition_state *p = part_find(b, topic, partition);

	if (!p)
		return -ENOENT;
	*ret = p->consumed_next != -2 ? p->consumed_next : p->fence;
	return 0;
}

void usage_batch_consumed(struct usage_batch *b, const char *topic, int32_t partition,
			  int64_t offset)
{
	struct partition_state *p = part_find(b, topic, partition);

	b->messages++;
	if (p && offset + 1 > p->consumed_next)
		p->consumed_next = offset + 1;
}

uint64_t usage_batch_messages(const struct usage_batch *b)
{
	return b->messages;
}

const struct usage_stats *usage_batch_stats(const struct usage_batch *b)
{
	return &b->stats;
}

static void *memdup(const void *p, size_t n)
{
	void *d = malloc(n ? n : 1);

	if (d && n)
		memcpy(d, p, n);
	return d;
}

int usage_batch_add_dead(struct usage_batch *b, const char *topic, int32_t partition,
			 int64_t offset, const char *reason, const void *key, size_t key_len,
			 const void *payload, size_t len)
{
	struct dead_letter *d;

	if (b->n_dead == b->cap_dead) {
		size_t cap = b->cap_dead ? b->cap_dead * 2 : 64;
		struct dead_letter *n = realloc(b->dead, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		b->dead = n;
		b->cap_dead = cap;
	}
	d = &b->dead[b->n_dead];
	d->topic = strdup(topic);
	d->reason = strdup(reason);
	d->key = key ? memdup(key, key_len) : NULL;
	d->key_len = key_len;
	d->payload = memdup(payload, len);
	d->len = len;
	d->partition = partition;
	d->offset = offset;
	if (!d->topic || !d->reason || (key && !d->key) || !d->payload) {
		free(d->topic);
		free(d->reason);
		free(d->key);
		free(d->payload);
		return -ENOMEM;
	}
	b->n_dead++;
	b->stats.dead++;
	return 0;
}

/* --- dedupe ------------------------------------------------------------------ */

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static int stream_load(PGconn *c, struct stream *s)
{
	char part[16], host[16], epoch[16];
	const char *params[] = { part, host, epoch };
	PGresult *res;
	int r = 0;

	snprintf(part, sizeof(part), "%" PRId32, s->partition);
	snprintf(host, sizeof(host), "%" PRIu32, s->host_id);
	snprintf(epoch, sizeof(epoch), "%" PRIu32, s->epoch);
	res = PQexecParams(c,
			   "SELECT high_seq, applied FROM dedupe_state"
			   " WHERE partition = $1 AND host_id = $2 AND epoch = $3",
			   3, NULL, params, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_error("postgres: read dedupe state: %s", PQresultErrorMessage(res));
		r = -EIO;
	} else if (PQntuples(res) == 1) {
		if (PQgetlength(res, 0, 0) != 8 || PQgetlength(res, 0, 1) != sizeof(s->applied)) {
			log_error("dedupe state of partition %s host %s epoch %s has a bad size",
				  part, host, epoch);
			r = -EIO;
		} else {
			s->high_seq = (int64_t)be64((const uint8_t *)PQgetvalue(res, 0, 0));
			memcpy(s->applied, PQgetvalue(res, 0, 1), sizeof(s->applied));
		}
	}
	PQclear(res);
	return r;
}

static int stream_get(struct usage_batch *b, PGconn *c, int32_t partition,
		      const struct usage_event *ev, struct stream **ret)
{
	struct stream *s = b->last_stream;
	int r;

	if (s && s->partition == partition && s->host_id == ev->host_id && s->epoch == ev->epoch) {
		*ret = s;
		return 0;
	}
	for (s = b->streams; s; s = s->next)
		if (s->partition == partition && s->host_id == ev->host_id &&
		    s->epoch == ev->epoch)
			break;
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return -ENOMEM;
		s->partition = partition;
		s->host_id = ev->host_id;
		s->epoch = ev->epoch;
		s->high_seq = -1;
		/* a replay counts from nothing: the live state is not its own */
		r = b->replay_from < 0 ? stream_load(c, s) : 0;
		if (r) {
			free(s);
			return r;
		}
		s->next = b->streams;
		b->streams = s;
	}
	b->last_stream = s;
	*ret = s;
	return 0;
}

static bool bit_get(const uint8_t *map, uint64_t seq)
{
	uint64_t i = seq % USAGE_DEDUPE_WINDOW;

	return map[i / 8] >> (i % 8) & 1;
}

static void bit_set(uint8_t *map, uint64_t seq)
{
	uint64_t i = seq % USAGE_DEDUPE_WINDOW;

	map[i / 8] |= (uint8_t)(1u << (i % 8));
}

static void bit_clear(uint8_t *map, uint64_t seq)
{
	uint64_t i = seq % USAGE_DEDUPE_WINDOW;

	map[i / 8] &= (uint8_t)~(1u << (i % 8));
}

enum seen { SEEN_NEW, SEEN_DUPLICATE, SEEN_TOO_OLD };

/* Has @seq of @s been applied? Marks it applied if not. */
static enum seen stream_mark(struct stream *s, int64_t seq)
{
	if (s->high_seq < 0 || seq > s->high_seq) {
		uint64_t from = s->high_seq < 0 ? 0 : (uint64_t)s->high_seq + 1;

		/* the window slides: bits of the seqs it now covers start clear */
		if (s->high_seq < 0 || (uint64_t)seq - from >= USAGE_DEDUPE_WINDOW)
			memset(s->applied, 0, sizeof(s->applied));
		else
			for (uint64_t q = from; q <= (uint64_t)seq; q++)
				bit_clear(s->applied, q);
		s->high_seq = seq;
	} else if ((uint64_t)(s->high_seq - seq) >= USAGE_DEDUPE_WINDOW) {
		return SEEN_TOO_OLD;
	} else if (bit_get(s->applied, (uint64_t)seq)) {
		return SEEN_DUPLICATE;
	}
	bit_set(s->applied, (uint64_t)seq);
	s->dirty = true;
	return SEEN_NEW;
}

/* --- events -------------------------------------------------------------- */

/* Postgres text must be valid UTF-8: other bytes are written "%XX", as the
 * JSON encoding of events does (lib/event.c). */
static uint16_t endpoint_text(const char *in, size_t len, char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	const uint8_t *s = (const uint8_t *)in;
	size_t o = 0, i = 0;

	while (i < len) {
		size_t n = 0;

		if (s[i] < 0x80)
			n = s[i] ? 1 : 0;
		else if (s[i] >= 0xc2 && s[i] <= 0xdf)
			n = 2;
		else if (s[i] >= 0xe0 && s[i] <= 0xef)
			n = 3;
		else if (s[i] >= 0xf0 && s[i] <= 0xf4)
			n = 4;
		for (size_t j = 1; j < n; j++)
			if (i + j >= len || (s[i + j] & 0xc0) != 0x80)
				n = 0;
		/* overlong 3/4-byte forms, surrogates and above U+10FFFF */
		if (n == 3 && ((s[i] == 0xe0 && s[i + 1] < 0xa0) || (s[i] == 0xed && s[i + 1] > 0x9f)))
			n = 0;
		if (n == 4 && ((s[i] == 0xf0 && s[i + 1] < 0x90) || (s[i] == 0xf4 && s[i + 1] > 0x8f)))
			n = 0;
		if (n) {
			memcpy(out + o, s + i, n);
			o += n;
			i += n;
		} else {
			out[o++] = '%';
			out[o++] = hex[s[i] >> 4];
			out[o++] = hex[s[i] & 15];
			i++;
		}
	}
	out[o] = '\0';
	return (uint16_t)o;
}

static int agg_add(struct agg *a, const struct usage_event *ev, uint8_t status_class)
{
	a->requests += ev->count;
	if (ev->flags & TG_EF_SUMMARY)
		a->summarized += ev->count;
	if (ev->flags & TG_EF_UNANSWERED)
		a->unanswered += ev->count;
	if (ev->flags & TG_EF_UNATTRIBUTED)
		a->unattributed += ev->count;
	a->bytes_in += ev->req_bytes;
	a->bytes_out += ev->resp_bytes;
	if (status_class && !(ev->flags & TG_EF_SUMMARY)) {
		a->latency_sum_us += (uint64_t)ev->latency_us * ev->count;
		return histogram_sparse_add(&a->hist, ev->latency_us, ev->count);
	}
	return 0;
}

/* seconds since the epoch, as cheap as it gets: a few ms stale is fine for
 * range checks and retention */
static uint64_t coarse_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME_COARSE, &t);
	return (uint64_t)t.tv_sec;
}

int usage_batch_add_event(struct usage_batch *b, PGconn *c, const char *topic, int32_t partition,
			  int64_t offset, const struct usage_event *ev)
{
	uint64_t sec = ev->time_ns / NS_PER_SEC, now = coarse_now();
	uint8_t status_class = ev->status >= 100 && ev->status <= 599 ? ev->status / 100 : 0;
	struct row_key k;
	struct stream *s;
	struct row *row;
	int r;

	if (ev->seq > INT64_MAX || ev->count == 0 || sec < TIME_MIN_SEC ||
	    sec > now + TIME_AHEAD_SEC) {
		const char *why = ev->seq > INT64_MAX ? "seq above 2^63"
				  : ev->count == 0    ? "count is 0"
						      : "event time out of range";
		uint8_t buf[EVENT_V1_MAX];
		int n = event_encode_v1(ev, buf, sizeof(buf));

		r = usage_batch_add_dead(b, topic, partition, offset, why, NULL, 0, buf,
					 n > 0 ? (size_t)n : 0);
		return r ? r : -EBADMSG;
	}
	if (b->replay_from >= 0 && (int64_t)sec < b->replay_from)
		return 0; /* before the window a replay rebuilds */
	r = stream_get(b, c, partition, ev, &s);
	if (r)
		return r;
	switch (stream_mark(s, (int64_t)ev->seq)) {
	case SEEN_DUPLICATE:
		b->stats.duplicates++;
		return 0;
	case SEEN_TOO_OLD: {
		uint8_t buf[EVENT_V1_MAX];
		int n = event_encode_v1(ev, buf, sizeof(buf));

		r = usage_batch_add_dead(b, topic, partition, offset,
					 "seq below the dedupe window of its stream", NULL, 0, buf,
					 n > 0 ? (size_t)n : 0);
		return r ? r : -EBADMSG;
	}
	case SEEN_NEW:
		break;
	}

	memset(&k, 0, ROW_KEY_FIXED);
	k.consumer_id = ev->consumer_id;
	k.plan_id = ev->plan_id;
	k.api_id = ev->api_id;
	k.status_class = status_class;
	k.verdict = ev->verdict;
	k.endpoint_len = 0;
	k.endpoint[0] = '\0';
	if (sec + (uint64_t)b->minute_retention_days * 86400 >= now) {
		k.ts = (int64_t)(sec - sec % 60);
		row = table_get(&b->minute, &k);
		if (!row || agg_add(&row->agg, ev, status_class))
			return -ENOMEM;
	}
	k.ts = (int64_t)(sec - sec % 3600);
	k.method = ev->method;
	if (ev->country[0] >= 'A' && ev->country[0] <= 'Z' && ev->country[1] >= 'A' &&
	    ev->country[1] <= 'Z')
		memcpy(k.country, ev->country, 2);
	else
		memcpy(k.country, "--", 2);
	k.endpoint_len = endpoint_text(ev->endpoint, ev->endpoint_len, k.endpoint);
	row = table_get(&b->hour, &k);
	if (!row || agg_add(&row->agg, ev, status_class))
		return -ENOMEM;
	b->stats.events++;
	return 1;
}

/* --- counter snapshots -------------------------------------------------- */

static bool id_string(json_t *v, uint32_t *ret)
{
	const char *s = json_string_value(v);
	char *end;
	unsigned long long n;

	if (!s || !*s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno || *end || n > UINT32_MAX)
		return false;
	*ret = (uint32_t)n;
	return true;
}

int usage_batch_add_snapshot(struct usage_batch *b, const char *topic, int32_t partition,
			     int64_t offset, const void *payload, size_t len)
{
	struct snapshot_row sr = { 0 };
	const char *why = NULL, *gen, *t;
	json_error_t jerr;
	json_t *root = json_loadb(payload, len, 0, &jerr);
	struct tm tm = { 0 };
	char *end;
	int r;

	if (!root || !json_is_object(root))
		why = "counter snapshot: not a JSON object";
	else if (!id_string(json_object_get(root, "host_id"), &sr.host_id) ||
		 !id_string(json_object_get(root, "consumer_id"), &sr.consumer_id) ||
		 !id_string(json_object_get(root, "api_id"), &sr.api_id))
		why = "counter snapshot: host_id, consumer_id or api_id missing";
	else if (!(gen = json_string_value(json_object_get(root, "pin_generation"))) ||
		 strlen(gen) >= sizeof(sr.generation) || !*gen)
		why = "counter snapshot: pin_generation missing";
	else if (!(t = json_string_value(json_object_get(root, "time"))) ||
		 strlen(t) >= sizeof(sr.ts) || !(end = strptime(t, "%Y-%m-%dT%H:%M:%S", &tm)))
		why = "counter snapshot: time is not RFC 3339";
	if (why) {
		json_decref(root);
		r = usage_batch_add_dead(b, topic, partition, offset, why, NULL, 0, payload, len);
		return r ? r : -EBADMSG;
	}
	snprintf(sr.generation, sizeof(sr.generation), "%s", gen);
	snprintf(sr.ts, sizeof(sr.ts), "%s", t);
	sr.hour = (int64_t)timegm(&tm);
	sr.hour -= sr.hour % 3600;
	sr.body = strndup(payload, len);
	json_decref(root);
	if (!sr.body)
		return -ENOMEM;
	if (b->n_snaps == b->cap_snaps) {
		size_t cap = b->cap_snaps ? b->cap_snaps * 2 : 256;
		struct snapshot_row *n = realloc(b->snaps, cap * sizeof(*n));

		if (!n) {
			free(sr.body);
			return -ENOMEM;
		}
		b->snaps = n;
		b->cap_snaps = cap;
	}
	b->snaps[b->n_snaps++] = sr;
	b->stats.snapshots++;
	return 1;
}

/* --- commit -------------------------------------------------------------- */

struct buf {
	char *p;
	size_t len, cap;
};

static int buf_reserve(struct buf *b, size_t more)
{
	if (b->len + more <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 1 << 16;

	while (cap < b->len + more)
		cap *= 2;
	char *p = realloc(b->p, cap);

	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

static __attribute__((format(printf, 2, 3))) int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return -EINVAL;
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return 0;
		}
		if (buf_reserve(b, (size_t)n + 1))
			return -ENOMEM;
	}
}

static void fmt_ts(int64_t sec, char *out, size_t size)
{
	time_t t = (time_t)sec;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, size, "%Y-%m-%d %H:%M:%S+00", &tm);
}

/* one COPY text line per row of @t; @with_dims adds method, endpoint, country */
static int rows_to_copy(const struct row_table *t, bool with_dims, struct buf *out)
{
	static char hist[HIST_PG_MAX];

	for (uint32_t i = 0; i < t->cap; i++) {
		const struct row *r = t->slots[i];
		char ts[40];
		int n;

		if (!r)
			continue;
		fmt_ts(r->key.ts, ts, sizeof(ts));
		n = histogram_sparse_to_pg_array(&r->agg.hist, hist, sizeof(hist));
		if (n < 0)
			return n;
		if (buf_printf(out, "%s\t%" PRIu32 "\t%" PRIu32 "\t%" PRIu32 "\t%u\t%u\t", ts,
			       r->key.consumer_id, r->key.plan_id, r->key.api_id,
			       r->key.status_class, r->key.verdict))
			return -ENOMEM;
		if (with_dims) {
			if (buf_printf(out, "%u\t", r->key.method) ||
			    buf_reserve(out, 2 * (size_t)r->key.endpoint_len + 8) ||
			    pg_copy_escape(out->p, out->cap, &out->len, r->key.endpoint) ||
			    buf_printf(out, "\t%.2s\t", r->key.country))
				return -ENOMEM;
		}
		if (buf_printf(out,
			       "%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64
			       "\t%" PRIu64 "\t%" PRIu64 "\t%s\n",
			       r->agg.requests, r->agg.summarized, r->agg.unanswered,
			       r->agg.unattributed, r->agg.bytes_in, r->agg.bytes_out,
			       r->agg.latency_sum_us, hist))
			return -ENOMEM;
	}
	return 0;
}

static const char MERGE_SET[] =
	" DO UPDATE SET requests = t.requests + EXCLUDED.requests,"
	" summarized = t.summarized + EXCLUDED.summarized,"
	" unanswered = t.unanswered + EXCLUDED.unanswered,"
	" unattributed = t.unattributed + EXCLUDED.unattributed,"
	" bytes_in = t.bytes_in + EXCLUDED.bytes_in, bytes_out = t.bytes_out + EXCLUDED.bytes_out,"
	" latency_sum_us = t.latency_sum_us + EXCLUDED.latency_sum_us,"
	" hist = tg_hist_merge(t.hist, EXCLUDED.hist)";

static int upsert_rollup(PGconn *c, const char *table, const struct row_table *rows, bool dims)
{
	struct buf data = { 0 };
	char sql[1024];
	int r;

	if (!rows->len)
		return 0;
	snprintf(sql, sizeof(sql),
		 "CREATE TEMP TABLE IF NOT EXISTS stage_%s (LIKE %s) ON COMMIT DELETE ROWS", table,
		 table);
	if (pg_command(c, "create a staging table", sql, 0, NULL))
		return -EIO;
	r = rows_to_copy(rows, dims, &data);
	if (r) {
		free(data.p);
		return r;
	}
	snprintf(sql, sizeof(sql), "COPY stage_%s FROM STDIN", table);
	r = pg_copy(c, table, sql, data.p, data.len);
	free(data.p);
	if (r)
		return r;
	snprintf(sql, sizeof(sql),
		 "INSERT INTO %s AS t SELECT * FROM stage_%s ON CONFLICT (ts, consumer_id, api_id,"
		 " plan_id, status_class, verdict%s)%s",
		 table, table, dims ? ", method, endpoint, country" : "", MERGE_SET);
	return pg_command(c, table, sql, 0, NULL);
}

/* --- minute totals ----------------------------------------------------------- */

/*
 * A row of rollup_minute_total (billing/sql/008_minute_totals.sql): the
 * figures of one consumer (api_id 0) or one API (consumer_id 0) in a minute.
 * Folded here from the batch's minute rows rather than in SQL: Postgres
 * spent ~10 us per minute row deriving them (tg_minute_totals_add()), this
 * a fraction of one. tg_minute_totals_add() stays the definition the
 * rebuild uses, and test-billing-usage checks that both agree.
 */
struct total {
	int64_t ts;
	uint32_t consumer_id, api_id;
	bool used;
	uint64_t requests, refused, errors_4xx, errors_5xx, unanswered, answered, good;
	uint64_t bytes_in, bytes_out;
	struct histogram_sparse hist; /* admitted answered requests' latencies */
};

struct totals {
	struct total *slots;
	uint32_t cap; /* a power of two; fold_totals() keeps it at most half full */
};

static void totals_free(struct totals *t)
{
	for (uint32_t i = 0; i < t->cap; i++)
		if (t->slots[i].used)
			histogram_sparse_free(&t->slots[i].hist);
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

static struct total *totals_get(struct totals *t, int64_t ts, uint32_t consumer_id,
				uint32_t api_id)
{
	uint64_t h = ((uint64_t)ts * 0x9e3779b97f4a7c15ULL) ^
		     (((uint64_t)consumer_id << 32 | api_id) * 0xc2b2ae3d27d4eb4fULL);
	uint32_t mask = t->cap - 1;

	for (uint32_t i = (uint32_t)(h ^ h >> 29) & mask;; i = (i + 1) & mask) {
		struct total *r = &t->slots[i];

		if (!r->used) {
			r->used = true;
			r->ts = ts;
			r->consumer_id = consumer_id;
			r->api_id = api_id;
			return r;
		}
		if (r->ts == ts && r->consumer_id == consumer_id && r->api_id == api_id)
			return r;
	}
}

/* @m's figures into @r, as tg_minute_totals_add() computes them */
static int total_add(struct total *r, const struct row *m)
{
	const struct agg *a = &m->agg;
	uint64_t answered = a->requests - a->summarized - a->unanswered;
	uint8_t sc = m->key.status_class;

	r->requests += a->requests;
	r->bytes_in += a->bytes_in;
	r->bytes_out += a->bytes_out;
	if (m->key.verdict != 0) {
		r->refused += a->requests;
		return 0;
	}
	r->unanswered += a->unanswered;
	if (sc == 4)
		r->errors_4xx += answered;
	if (sc == 5)
		r->errors_5xx += answered;
	if (sc >= 1 && sc <= 5)
		r->answered += answered;
	if (sc >= 1 && sc <= 4)
		r->good += answered;
	return histogram_sparse_merge(&r->hist, &a->hist);
}

/* the per-consumer and per-API totals of the minute rows @rows */
static int fold_totals(const struct row_table *rows, struct totals *t)
{
	uint32_t cap = 16;

	while (cap < 4ULL * rows->len)
		cap *= 2;
	t->slots = calloc(cap, sizeof(*t->slots));
	if (!t->slots)
		return -ENOMEM;
	t->cap = cap;
	for (uint32_t i = 0; i < rows->cap; i++) {
		const struct row *m = rows->slots[i];

		if (!m)
			continue;
		/* a row of neither (consumer 0 on API 0) has no total */
		if (m->key.consumer_id && total_add(totals_get(t, m->key.ts, m->key.consumer_id, 0), m))
			return -ENOMEM;
		if (m->key.api_id && total_add(totals_get(t, m->key.ts, 0, m->key.api_id), m))
			return -ENOMEM;
	}
	return 0;
}

static int totals_to_copy(const struct totals *t, struct buf *out)
{
	static char hist[HIST_PG_MAX];

	for (uint32_t i = 0; i < t->cap; i++) {
		const struct total *r = &t->slots[i];
		char ts[40];
		int n;

		if (!r->used)
			continue;
		fmt_ts(r->ts, ts, sizeof(ts));
		n = histogram_sparse_to_pg_array(&r->hist, hist, sizeof(hist));
		if (n < 0)
			return n;
		if (buf_printf(out,
			       "%s\t%" PRIu32 "\t%" PRIu32 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64
			       "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64
			       "\t%" PRIu64 "\t%s\n",
			       ts, r->consumer_id, r->api_id, r->requests, r->refused, r->errors_4xx,
			       r->errors_5xx, r->unanswered, r->answered, r->good, r->bytes_in,
			       r->bytes_out, hist))
			return -ENOMEM;
	}
	return 0;
}

/*
 * The totals of the minute rows @rows added to rollup_minute_total in the
 * batch's transaction, in one key order (billing members that share an
 * API's rows then wait for each other instead of deadlocking).
 */
static int upsert_minute_totals(PGconn *c, const struct row_table *rows)
{
	struct totals t = { 0 };
	struct buf data = { 0 };
	int r;

	if (!rows->len)
		return 0;
	if (pg_command(c, "create a staging table",
		       "CREATE TEMP TABLE IF NOT EXISTS stage_rollup_minute_total"
		       " (LIKE rollup_minute_total) ON COMMIT DELETE ROWS",
		       0, NULL))
		return -EIO;
	r = fold_totals(rows, &t);
	if (!r)
		r = totals_to_copy(&t, &data);
	totals_free(&t);
	if (!r)
		r = pg_copy(c, "rollup_minute_total", "COPY stage_rollup_minute_total FROM STDIN",
			    data.p, data.len);
	free(data.p);
	if (r)
		return r;
	return pg_command(
		c, "rollup_minute_total",
		"INSERT INTO rollup_minute_total AS t SELECT * FROM stage_rollup_minute_total"
		" ORDER BY consumer_id, api_id, ts ON CONFLICT (consumer_id, api_id, ts) DO UPDATE SET"
		" requests = t.requests + EXCLUDED.requests, refused = t.refused + EXCLUDED.refused,"
		" errors_4xx = t.errors_4xx + EXCLUDED.errors_4xx,"
		" errors_5xx = t.errors_5xx + EXCLUDED.errors_5xx,"
		" unanswered = t.unanswered + EXCLUDED.unanswered,"
		" answered = t.answered + EXCLUDED.answered, good = t.good + EXCLUDED.good,"
		" bytes_in = t.bytes_in + EXCLUDED.bytes_in, bytes_out = t.bytes_out + EXCLUDED.bytes_out,"
		" hist = tg_hist_merge(t.hist, EXCLUDED.hist)",
		0, NULL);
}

/* the partitions every row of the batch needs, created outside the batch's
 * transaction (CREATE TABLE takes a strong lock on the parent) */
static int ensure_partition(PGconn *c, const char *table, int64_t sec, char unit)
{
	char from[16], to[16], name[64], sql[512];
	time_t t = (time_t)sec;
	struct tm tm;

	gmtime_r(&t, &tm);
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	if (unit == 'm')
		tm.tm_mday = 1;
	if (unit == 'y') {
		tm.tm_mday = 1;
		tm.tm_mon = 0;
	}
	t = timegm(&tm);
	gmtime_r(&t, &tm);
	strftime(from, sizeof(from), "%Y-%m-%d", &tm);
	strftime(name, sizeof(name), unit == 'd' ? "%Y%m%d" : unit == 'm' ? "%Y%m" : "%Y", &tm);
	if (unit == 'd')
		tm.tm_mday++;
	else if (unit == 'm')
		tm.tm_mon++;
	else
		tm.tm_year++;
	t = timegm(&tm);
	gmtime_r(&t, &tm);
	strftime(to, sizeof(to), "%Y-%m-%d", &tm);
	snprintf(sql, sizeof(sql),
		 "CREATE TABLE IF NOT EXISTS %s_p%s PARTITION OF %s"
		 " FOR VALUES FROM ('%s 00:00:00+00') TO ('%s 00:00:00+00')",
		 table, name, table, from, to);
	for (int attempt = 0;; attempt++) {
		PGresult *res = PQexec(c, sql);
		bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;

		if (!ok && attempt == 0) {
			/* another member created it at the same moment */
			PQclear(res);
			continue;
		}
		if (!ok)
			log_error("postgres: create partition %s_p%s: %s", table, name,
				  PQresultErrorMessage(res));
		PQclear(res);
		return ok ? 0 : -EIO;
	}
}

static int ensure_partitions(PGconn *c, const struct usage_batch *b)
{
	/* a batch spans few periods: remember the ones done in this call */
	int64_t done[64];
	int n_done = 0;

	for (int pass = 0; pass < 3; pass++) {
		const struct row_table *t = pass == 0 ? &b->minute : &b->hour;
		const char *table = pass == 0 ? "rollup_minute" : pass == 1 ? "rollup_hour"
									    : "rollup_day";
		char unit = pass == 0 ? 'd' : pass == 1 ? 'm' : 'y';

		n_done = 0;
		for (uint32_t i = 0; i < t->cap; i++) {
			/* rows of one day share a partition of every tier: a
			 * day seen is a partition ensured */
			int64_t day;
			bool seen = false;

			if (!t->slots[i])
				continue;
			day = t->slots[i]->key.ts / 86400;
			for (int j = 0; j < n_done && !seen; j++)
				seen = done[j] == day;
			if (seen)
				continue;
			if (ensure_partition(c, table, t->slots[i]->key.ts, unit) ||
			    (pass == 0 &&
			     ensure_partition(c, "rollup_minute_total", t->slots[i]->key.ts, unit)))
				return -EIO;
			if (n_done < (int)(sizeof(done) / sizeof(done[0])))
				done[n_done++] = day;
		}
	}
	return 0;
}

static int fold_days(const struct row_table *hour, struct row_table *day)
{
	for (uint32_t i = 0; i < hour->cap; i++) {
		const struct row *h = hour->slots[i];
		struct row_key k;
		struct row *d;

		if (!h)
			continue;
		memcpy(&k, &h->key, key_len(&h->key) + 1);
		k.ts -= k.ts % 86400;
		d = table_get(day, &k);
		if (!d || agg_merge(&d->agg, &h->agg))
			return -ENOMEM;
	}
	return 0;
}

static int write_offsets(PGconn *c, struct usage_batch *b)
{
	for (size_t i = 0; i < b->n_parts; i++) {
		struct partition_state *p = &b->parts[i];
		char part[16], next[24], fence[24];
		const char *params[] = { p->topic, part, next, fence };
		PGresult *res;
		uint64_t n;

		if (p->consumed_next == -2)
			continue;
		snprintf(part, sizeof(part), "%" PRId32, p->partition);
		snprintf(next, sizeof(next), "%" PRId64, p->consumed_next);
		snprintf(fence, sizeof(fence), "%" PRId64, p->fence);
		res = pg_exec(c, "advance offsets",
			      "UPDATE consumer_offsets SET next_offset = $3, updated_at = now()"
			      " WHERE topic = $1 AND partition = $2 AND next_offset = $4",
			      4, params);
		if (!res)
			return -EIO;
		n = pg_rows_affected(res);
		PQclear(res);
		if (n != 1) {
			log_warn("partition %s/%s moved on (expected offset %s): another member "
				 "owns it now",
				 p->topic, part, fence);
			return -ESTALE;
		}
	}
	return 0;
}

static int write_dedupe(PGconn *c, struct usage_batch *b)
{
	for (struct stream *s = b->streams; s; s = s->next) {
		char part[16], host[16], epoch[16], high[24];
		const char *values[] = { part, host, epoch, high, (const char *)s->applied };
		int lengths[] = { 0, 0, 0, 0, (int)sizeof(s->applied) };
		int formats[] = { 0, 0, 0, 0, 1 };
		PGresult *res;

		if (!s->dirty)
			continue;
		snprintf(part, sizeof(part), "%" PRId32, s->partition);
		snprintf(host, sizeof(host), "%" PRIu32, s->host_id);
		snprintf(epoch, sizeof(epoch), "%" PRIu32, s->epoch);
		snprintf(high, sizeof(high), "%" PRId64, s->high_seq);
		res = PQexecParams(c,
				   "INSERT INTO dedupe_state (partition, host_id, epoch, high_seq,"
				   " applied) VALUES ($1, $2, $3, $4, $5)"
				   " ON CONFLICT (partition, host_id, epoch) DO UPDATE SET"
				   " high_seq = EXCLUDED.high_seq, applied = EXCLUDED.applied,"
				   " updated_at = now()",
				   5, NULL, values, lengths, formats, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			log_error("postgres: write dedupe state: %s", PQresultErrorMessage(res));
			PQclear(res);
			return -EIO;
		}
		PQclear(res);
	}
	return 0;
}

static int write_dead(PGconn *c, struct usage_batch *b)
{
	for (size_t i = 0; i < b->n_dead; i++) {
		struct dead_letter *d = &b->dead[i];
		char part[16], off[24];
		const char *values[] = { d->topic, part, off, d->reason, d->key, d->payload };
		int lengths[] = { 0, 0, 0, 0, (int)d->key_len, (int)d->len };
		int formats[] = { 0, 0, 0, 0, 1, 1 };
		PGresult *res;

		snprintf(part, sizeof(part), "%" PRId32, d->partition);
		snprintf(off, sizeof(off), "%" PRId64, d->offset);
		res = PQexecParams(c,
				   "INSERT INTO dead_letters (topic, partition, \"offset\", reason,"
				   " message_key, payload) VALUES ($1, $2, $3, $4, $5, $6)"
				   " ON CONFLICT DO NOTHING",
				   6, NULL, values, lengths, formats, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			log_error("postgres: write dead letter: %s", PQresultErrorMessage(res));
			PQclear(res);
			return -EIO;
		}
		PQclear(res);
	}
	return 0;
}

static int write_snapshots(PGconn *c, struct usage_batch *b)
{
	struct buf data = { 0 };
	int r = 0;

	if (!b->n_snaps)
		return 0;
	if (pg_command(c, "create a staging table",
		       "CREATE TEMP TABLE IF NOT EXISTS stage_snapshots (LIKE counter_snapshots)"
		       " ON COMMIT DELETE ROWS",
		       0, NULL))
		return -EIO;
	for (size_t i = 0; i < b->n_snaps && !r; i++) {
		struct snapshot_row *s = &b->snaps[i];
		char hour[40];

		fmt_ts(s->hour, hour, sizeof(hour));
		if (buf_printf(&data, "%" PRIu32 "\t", s->host_id) ||
		    buf_reserve(&data, 2 * sizeof(s->generation)) ||
		    pg_copy_escape(data.p, data.cap, &data.len, s->generation) ||
		    buf_printf(&data, "\t%" PRIu32 "\t%" PRIu32 "\t%s\t", s->consumer_id, s->api_id,
			       hour) ||
		    buf_reserve(&data, 2 * sizeof(s->ts)) ||
		    pg_copy_escape(data.p, data.cap, &data.len, s->ts) ||
		    buf_printf(&data, "\t") || buf_reserve(&data, 2 * strlen(s->body) + 2) ||
		    pg_copy_escape(data.p, data.cap, &data.len, s->body) || buf_printf(&data, "\n"))
			r = -ENOMEM;
	}
	if (!r)
		r = pg_copy(c, "counter snapshots", "COPY stage_snapshots FROM STDIN", data.p,
			    data.len);
	free(data.p);
	if (r)
		return r;
	/* the first snapshot of each hour stays: differences are taken between them */
	return pg_command(c, "counter snapshots",
			  "INSERT INTO counter_snapshots SELECT DISTINCT ON (host_id,"
			  " pin_generation, consumer_id, api_id, hour) * FROM stage_snapshots"
			  " ORDER BY host_id, pin_generation, consumer_id, api_id, hour, ts"
			  " ON CONFLICT DO NOTHING",
			  0, NULL);
}

static double mono(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void after_failure(struct usage_batch *b)
{
	drop_pending(b);
	forget_streams(b);
}

int usage_batch_commit(struct usage_batch *b, PGconn *c)
{
	struct row_table day = { 0 };
	double t[5];
	int r;

	if (!b->messages)
		return 0;
	r = fold_days(&b->hour, &day);
	if (r)
		goto out_fail;
	b->stats.rows_minute += b->minute.len;
	b->stats.rows_hour += b->hour.len;
	b->stats.rows_day += day.len;
	/* day rows fall in the years of the hour rows: ensure_partitions() names
	 * the yearly partitions from those */
	r = ensure_partitions(c, b);
	if (r)
		goto out_fail;
	/* Everything of the batch is in this one transaction, offsets too: if
	 * Postgres loses it in a crash, it is read again from Kafka. So it
	 * need not wait for its WAL flush. */
	r = pg_command(c, "begin", "BEGIN", 0, NULL);
	if (!r)
		r = pg_command(c, "no flush wait", "SET LOCAL synchronous_commit = off", 0, NULL);
	if (r)
		goto out_fail;
	t[0] = mono();
	r = write_offsets(c, b);
	if (!r)
		r = upsert_rollup(c, "rollup_minute", &b->minute, false);
	if (!r)
		r = upsert_minute_totals(c, &b->minute);
	t[1] = mono();
	if (!r)
		r = upsert_rollup(c, "rollup_hour", &b->hour, true);
	t[2] = mono();
	if (!r)
		r = upsert_rollup(c, "rollup_day", &day, true);
	t[3] = mono();
	if (!r)
		r = write_dedupe(c, b);
	if (!r)
		r = write_dead(c, b);
	if (!r)
		r = write_snapshots(c, b);
	if (!r)
		r = pg_command(c, "commit", "COMMIT", 0, NULL);
	t[4] = mono();
	log_debug("commit: %u minute rows %.3f s, %u hour rows %.3f s, %u day rows %.3f s,"
		  " the rest %.3f s",
		  b->minute.len, t[1] - t[0], b->hour.len, t[2] - t[1], day.len, t[3] - t[2],
		  t[4] - t[3]);
	if (r) {
		PQclear(PQexec(c, "ROLLBACK"));
		goto out_fail;
	}
	table_clear(&day);
	for (size_t i = 0; i < b->n_parts; i++)
		if (b->parts[i].consumed_next != -2)
			b->parts[i].fence = b->parts[i].consumed_next;
	for (struct stream *s = b->streams; s; s = s->next)
		s->dirty = false;
	drop_pending(b);
	return 0;

out_fail:
	table_clear(&day);
	after_failure(b);
	return r == -ESTALE ? -ESTALE : r == -ENOMEM ? -ENOMEM : -EIO;
}

int usage_drop_expired(PGconn *c, unsigned int minute_retention_days, time_t now)
{
	char now_s[24], days[16];
	const char *params[] = { now_s, days };
	PGresult *res;
	int n = 0;

	snprintf(now_s, sizeof(now_s), "%lld", (long long)now);
	snprintf(days, sizeof(days), "%u", minute_retention_days);
	/* names only as this file makes them; the range end is the day (month)
	 * after the one in the name */
	res = pg_exec(c, "find expired partitions",
		      "SELECT quote_ident(c.relname) FROM pg_inherits i"
		      " JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent"
		      " WHERE (p.relname = 'rollup_minute' AND c.relname ~ '^rollup_minute_p[0-9]{8}$'"
		      "  AND to_date(substr(c.relname, 16), 'YYYYMMDD') + 1"
		      "   <= (to_timestamp($1::bigint) AT TIME ZONE 'UTC')::date - $2::integer)"
		      " OR (p.relname = 'rollup_minute_total'"
		      "  AND c.relname ~ '^rollup_minute_total_p[0-9]{8}$'"
		      "  AND to_date(substr(c.relname, 22), 'YYYYMMDD') + 1"
		      "   <= (to_timestamp($1::bigint) AT TIME ZONE 'UTC')::date - $2::integer)"
		      " OR (p.relname = 'rollup_hour' AND c.relname ~ '^rollup_hour_p[0-9]{6}$'"
		      "  AND to_date(substr(c.relname, 14), 'YYYYMM') + interval '1 month'"
		      "   <= (to_timestamp($1::bigint) AT TIME ZONE 'UTC') - interval '13 months')",
		      2, params);
	if (!res)
		return -EIO;
	for (int i = 0; i < PQntuples(res); i++) {
		char sql[128];

		snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS %s", PQgetvalue(res, i, 0));
		if (pg_command(c, "drop an expired partition", sql, 0, NULL)) {
			PQclear(res);
			return -EIO;
		}
		log_info("dropped %s: past its retention", PQgetvalue(res, i, 0));
		n++;
	}
	PQclear(res);
	return n;
}

int usage_batch_replace(struct usage_batch *b, PGconn *c)
{
	struct row_table day = { 0 };
	char from[24];
	const char *params[] = { from };
	int r;

	if (b->replay_from < 0)
		return -EINVAL;
	snprintf(from, sizeof(from), "%lld", (long long)b->replay_from);
	r = fold_days(&b->hour, &day);
	if (!r)
		r = pg_command(c, "clear the minute rollups",
			       "DELETE FROM rollup_minute WHERE ts >= to_timestamp($1::bigint)", 1,
			       params);
	if (!r)
		r = pg_command(c, "clear the hour rollups",
			       "DELETE FROM rollup_hour WHERE ts >= to_timestamp($1::bigint)", 1,
			       params);
	if (!r)
		r = pg_command(c, "clear the day rollups",
			       "DELETE FROM rollup_day WHERE ts >= to_timestamp($1::bigint)", 1,
			       params);
	if (!r)
		r = pg_command(c, "clear the minute totals",
			       "DELETE FROM rollup_minute_total WHERE ts >= to_timestamp($1::bigint)", 1,
			       params);
	if (!r)
		r = upsert_rollup(c, "rollup_minute", &b->minute, false);
	if (!r)
		r = upsert_minute_totals(c, &b->minute);
	if (!r)
		r = upsert_rollup(c, "rollup_hour", &b->hour, true);
	if (!r)
		r = upsert_rollup(c, "rollup_day", &day, true);
	if (!r) {
		b->stats.rows_minute += b->minute.len;
		b->stats.rows_hour += b->hour.len;
		b->stats.rows_day += day.len;
	}
	table_clear(&day);
	return r < 0 ? r : 0;
}

int usage_batch_prepare_partitions(struct usage_batch *b, PGconn *c)
{
	return ensure_partitions(c, b);
}
