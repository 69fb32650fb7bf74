/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/drain.h"
#include "agent/geoip.h"
#include "agent/mapwalk.h"
#include "agent/spool.h"
#include "lib/endpoint.h"
#include "lib/event.h"

struct refused_entry {
	struct tg_counter_key key;
	uint64_t refused[TG_V_COUNT];
};

struct refused_file_header {
	uint64_t magic;
	uint64_t pin_generation;
	uint64_t n;
};

#define REFUSED_MAGIC 0x32444553554652ULL /* "REFUSD2": [0] = events_lost */

struct drain {
	struct ring_buffer *rb;
	int sink_fd;	     /* agent.events_file (O_APPEND), or -1 for */
	struct spool *spool; /* the write-ahead log in front of Kafka */
	struct geoip *geoip; /* agent.geoip_db, or NULL */
	enum config_format format;
	int counters_fd;
	uint32_t host_id;
	uint32_t epoch;
	uint64_t seq;
	uint64_t pin_generation;
	int64_t mono_to_real; /* taken once per batch of records */
	void (*observe)(void *ctx, const struct usage_event *ev);
	void *observe_ctx;
	struct refused_entry *base;
	size_t n_base;
	char base_path[CONFIG_PATH_MAX + 32];
	struct drain_stats stats;
	/* CloudEvents lines for sink_fd, written out when full and at the end
	 * of each drain: encoded in place, one write() for many events */
	char *out;
	size_t out_len;
	uint64_t out_events;
};

#define DRAIN_OUT_SIZE (128 * 1024)

/* CLOCK_MONOTONIC (the kernel's clock) to Unix time, taken per batch. */
static int64_t mono_to_real(void)
{
	struct timespec m, r;

	clock_gettime(CLOCK_MONOTONIC, &m);
	clock_gettime(CLOCK_REALTIME, &r);
	return ((int64_t)r.tv_sec - m.tv_sec) * 1000000000LL + (r.tv_nsec - m.tv_nsec);
}

static uint64_t now_real_ns(void)
{
	struct timespec r;

	clock_gettime(CLOCK_REALTIME, &r);
	return (uint64_t)r.tv_sec * 1000000000ULL + r.tv_nsec;
}

/* Write out the lines encoded so far. Events a failed write loses are
 * counted in write_errors, those written in written. Returns 0 or -errno. */
static int sink_flush(struct drain *d)
{
	size_t off = 0;
	ssize_t w;
	int r = 0;

	while (off < d->out_len) {
		w = write(d->sink_fd, d->out + off, d->out_len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			r = w < 0 ? -errno : -EIO;
			break;
		}
		off += (size_t)w;
	}
	if (r)
		d->stats.write_errors += d->out_events;
	else
		d->stats.written += d->out_events;
	d->out_len = 0;
	d->out_events = 0;
	return r;
}

static int sink_write(struct drain *d, struct usage_event *ev)
{
	char buf[EVENT_V1_MAX];
	int n, r;

	ev->host_id = d->host_id;
	ev->epoch = d->epoch;
	ev->seq = d->seq;
	if (d->spool) {
		if (d->format == CONFIG_FORMAT_BINARY)
			n = event_encode_v1(ev, (uint8_t *)buf, sizeof(buf));
		else
			n = event_to_json(ev, d->out, EVENT_JSON_MAX);
		if (n < 0) {
			d->stats.bad_records++;
			return n;
		}
		r = spool_append(d->spool, ev->consumer_id, d->format == CONFIG_FORMAT_BINARY ? buf : d->out,
				 (size_t)n);
		if (r) {
			d->stats.write_errors++;
			return r;
		}
		d->stats.written++;
	} else {
		/* room for the longest line and its newline */
		if (DRAIN_OUT_SIZE - d->out_len < EVENT_JSON_MAX + 1 && (r = sink_flush(d)) != 0)
			return r;
		n = event_to_json(ev, d->out + d->out_len, EVENT_JSON_MAX);
		if (n < 0) {
			d->stats.bad_records++;
			return n;
		}
		d->out[d->out_len + (size_t)n] = '\n';
		d->out_len += (size_t)n + 1;
		d->out_events++;
	}
	d->seq++; /* ids go only to events that were kept */
	if (d->observe)
		d->observe(d->observe_ctx, ev);
	return 0;
}

void drain_set_geoip(struct drain *d, struct geoip *g)
{
	d->geoip = g;
}

void drain_observe(struct drain *d, void (*fn)(void *ctx, const struct usage_event *ev), void *ctx)
{
	d->observe = fn;
	d->observe_ctx = ctx;
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct drain *d = ctx;

	if (size < sizeof(struct tg_event)) {
		d->stats.drained++;
		d->stats.bad_records++;
		return 0;
	}
	drain_record(d, data); /* errors are counted; the drain goes on */
	return 0;
}

int drain_record(struct drain *d, const struct tg_event *k)
{
	struct usage_event ev = { 0 };
	int64_t offset = d->mono_to_real;

	d->stats.drained++;
	ev.time_ns = (uint64_t)((int64_t)k->start_ns + offset);
	ev.consumer_id = k->consumer_id;
	ev.plan_id = k->plan_id;
	ev.api_id = k->api_id;
	ev.route_id = k->route_id;
	ev.key_id = k->key_id;
	ev.status = k->status;
	ev.method = k->method;
	ev.verdict = k->verdict;
	ev.flags = k->flags;
	ev.latency_us = k->latency_us;
	ev.req_bytes = k->req_bytes;
	ev.resp_bytes = k->resp_bytes;
	ev.count = k->count ? k->count : 1;
	memcpy(ev.client_ip, k->client_addr, sizeof(ev.client_ip));
	geoip_country(d->geoip, ev.client_ip, ev.country);
	ev.endpoint_len = (uint8_t)endpoint_normalize(
		k->path, k->path_len < TG_PATH_MAX ? k->path_len : TG_PATH_MAX, ev.endpoint,
		sizeof(ev.endpoint));
	return sink_write(d, &ev);
}

int drain_epoll_fd(struct drain *d)
{
	return ring_buffer__epoll_fd(d->rb);
}

int drain_consume(struct drain *d)
{
	int n;

	/* a full spool (Kafka away too long) holds events back in the ring
	 * buffer; what overflows it is counted by the kernel and summarised */
	if (d->spool && spool_full(d->spool)) {
		d->stats.held_back++;
		return 0;
	}
	d->mono_to_real = mono_to_real();
	n = ring_buffer__consume(d->rb);
	sink_flush(d); /* a failure is counted in write_errors */
	return n;
}

/* --- refusal summaries ---------------------------------------------------------- */

static int cmp_key(const void *a, const void *b)
{
	const struct tg_counter_key *x = a, *y = b;

	if (x->consumer_id != y->consumer_id)
		return x->consumer_id < y->consumer_id ? -1 : 1;
	if (x->api_id != y->api_id)
		return x->api_id < y->api_id ? -1 : 1;
	return 0;
}

static void load_baseline(struct drain *d)
{
	struct refused_file_header h;
	FILE *f = fopen(d->base_path, "re");

	if (!f)
		return;
	if (fread(&h, sizeof(h), 1, f) == 1 && h.magic == REFUSED_MAGIC &&
	    h.pin_generation == d->pin_generation && h.n < (1U << 24)) {
		d->base = calloc(h.n ? h.n : 1, sizeof(*d->base));
		if (d->base && fread(d->base, sizeof(*d->base), h.n, f) == h.n)
			d->n_base = h.n;
		else
			d->n_base = 0;
	}
	fclose(f);
}

static int save_baseline(struct drain *d)
{
	char tmp[sizeof(d->base_path) + 8];
	struct refused_file_header h = {
		.magic = REFUSED_MAGIC, .pin_generation = d->pin_generation, .n = d->n_base,
	};
	FILE *f;
	int r = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", d->base_path);
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	if (fwrite(&h, sizeof(h), 1, f) != 1 ||
	    fwrite(d->base, sizeof(*d->base), d->n_base, f) != d->n_base)
		r = -EIO;
	if (fflush(f) || fsync(fileno(f)))
		r = -errno;
	fclose(f);
	if (!r && rename(tmp, d->base_path) < 0)
		r = -errno;
	return r;
}

/* the counters of one (consumer, API) that have something to summarise */
struct summary_row {
	struct refused_entry now; /* refused[TG_V_ADMITTED]: events_lost */
	uint32_t plan_id;
};

/* Summary events for what @now counts beyond @e, and @e moved up by what
 * was written; the number of events written. */
static int summarise(struct drain *d, const struct summary_row *now, struct refused_entry *e,
		     uint64_t time_ns)
{
	int written = 0;

	for (int v = 0; v < TG_V_COUNT; v++) {
		uint64_t delta = now->now.refused[v] - e->refused[v];
		struct usage_event ev;

		if (now->now.refused[v] <= e->refused[v])
			continue;
		while (delta) {
			uint32_t part = delta > UINT32_MAX ? UINT32_MAX : (uint32_t)delta;

			memset(&ev, 0, sizeof(ev));
			ev.time_ns = time_ns;
			ev.consumer_id = now->now.key.consumer_id;
			ev.api_id = now->now.key.api_id;
			if (v == TG_V_ADMITTED)
				ev.plan_id = now->plan_id;
			ev.verdict = v;
			ev.flags = TG_EF_SUMMARY;
			ev.count = part;
			memcpy(ev.country, "--", 2);
			ev.endpoint[0] = '\0';
			if (sink_write(d, &ev) != 0)
				return written; /* the rest goes next time */
			written++;
			d->stats.summaries++;
			d->stats.summarized += part;
			e->refused[v] += part;
			delta -= part;
		}
	}
	return written;
}

/*
 * Summary events for what the kernel counters count beyond the baseline
 * (refusals, and admitted requests whose events were lost). The counters
 * with anything to summarise are read and sorted, then merged with the
 * sorted baseline into a new one: O(n log n) however many consumers are new
 * (inserting each new one into the sorted baseline took minutes for 100,000
 * of them, and the agent's loop waited).
 */
/* The counters with something to summarise, as rows (drain_summaries()). */
struct rows {
	struct summary_row *v;
	size_t n, cap;
};

static int add_row(void *ctx, const void *key, const void *value)
{
	struct rows *rs = ctx;
	struct tg_counters c = *(const struct tg_counters *)value;
	struct summary_row row = { 0 };
	bool any = false;

	/* [TG_V_ADMITTED] of the baseline tracks events_lost: admitted
	 * requests whose events the ring buffer could not take */
	c.refused[TG_V_ADMITTED] = c.events_lost;
	for (int v = 0; v < TG_V_COUNT; v++)
		any |= c.refused[v] != 0;
	if (!any)
		return 0;
	if (rs->n == rs->cap) {
		size_t ncap = rs->cap ? 2 * rs->cap : 256;
		struct summary_row *p = reallocarray(rs->v, ncap, sizeof(*p));

		if (!p)
			return -ENOMEM;
		rs->v = p;
		rs->cap = ncap;
	}
	row.now.key = *(const struct tg_counter_key *)key;
	memcpy(row.now.refused, c.refused, sizeof(row.now.refused));
	row.plan_id = c.plan_id;
	rs->v[rs->n++] = row;
	return 0;
}

int drain_summaries(struct drain *d)
{
	struct rows rs = { 0 };
	struct summary_row *rows;
	struct refused_entry *nb;
	size_t n, i = 0, k = 0;
	uint64_t now = now_real_ns(), written0;
	int written = 0, r;

	r = mapwalk(d->counters_fd, sizeof(struct tg_counter_key), sizeof(struct tg_counters), 0,
		    add_row, &rs);
	if (r < 0) {
		free(rs.v);
		return r;
	}
	rows = rs.v;
	n = rs.n;
	/* cmp_key() compares the keys at the start of both structs */
	qsort(rows, n, sizeof(*rows), cmp_key);
	nb = calloc(n + d->n_base + 1, sizeof(*nb));
	if (!nb) {
		free(rows);
		return -ENOMEM;
	}
	sink_flush(d); /* what the drain left, so the lines below are this call's */
	written0 = d->stats.written;
	for (size_t j = 0; j < n; j++) {
		struct refused_entry e = { .key = rows[j].now.key };

		/* a key twice (a walk sees each entry once, but a second one
		 * would summarise its counts again): the counts only grow, so
		 * the higher of the two reads */
		if (j + 1 < n && !cmp_key(&rows[j], &rows[j + 1])) {
			for (int v = 0; v < TG_V_COUNT; v++)
				if (rows[j].now.refused[v] > rows[j + 1].now.refused[v])
					rows[j + 1].now.refused[v] = rows[j].now.refused[v];
			continue;
		}
		while (i < d->n_base && cmp_key(&d->base[i], &rows[j]) < 0)
			nb[k++] = d->base[i++];
		if (i < d->n_base && !cmp_key(&d->base[i], &rows[j]))
			e = d->base[i++];
		written += summarise(d, &rows[j], &e, now);
		nb[k++] = e;
	}
	while (i < d->n_base)
		nb[k++] = d->base[i++];
	free(rows);
	if (sink_flush(d) && d->stats.written == written0) {
		/* none of these summaries reached events_file (a full disk):
		 * the counts stay unsummarised, for the next call. (When part
		 * of them did, from a buffer filled earlier, the rest are lost
		 * as events are: counted in write_errors.) */
		free(nb);
		return 0;
	}
	free(d->base);
	d->base = nb;
	d->n_base = k;
	if (written)
		save_baseline(d);
	return written;
}

const struct drain_stats *drain_stats(const struct drain *d)
{
	return &d->stats;
}

int drain_new(const struct config *cfg, int events_fd, int counters_fd, uint32_t host_id,
	      uint32_t epoch, uint64_t pin_generation, struct spool *spool, struct drain **ret,
	      char *err, size_t err_len)
{
	struct drain *d = calloc(1, sizeof(*d));
	int r;

	if (!d)
		return -ENOMEM;
	d->spool = spool;
	d->format = cfg->kafka.format;
	d->counters_fd = counters_fd;
	d->host_id = host_id;
	d->epoch = epoch;
	d->pin_generation = pin_generation;
	snprintf(d->base_path, sizeof(d->base_path), "%s/refused.snapshot", cfg->agent.state_dir);
	d->sink_fd = -1;
	/* the spool's JSON form is encoded here too; the file's lines gather */
	d->out = malloc(spool ? EVENT_JSON_MAX : DRAIN_OUT_SIZE);
	if (!d->out) {
		free(d);
		return -ENOMEM;
	}
	if (!spool) {
		d->sink_fd = open(cfg->agent.events_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
		if (d->sink_fd < 0) {
			r = -errno;
			snprintf(err, err_len, "agent.events_file: cannot open '%s': %s",
				 cfg->agent.events_file, strerror(-r));
			drain_free(d);
			return r;
		}
	}
	d->rb = ring_buffer__new(events_fd, on_record, d, NULL);
	if (!d->rb) {
		r = -errno;
		snprintf(err, err_len, "cannot open the tg_events ring buffer: %s", strerror(-r));
		drain_free(d);
		return r;
	}
	load_baseline(d);
	*ret = d;
	return 0;
}

void drain_free(struct drain *d)
{
	if (!d)
		return;
	ring_buffer__free(d->rb);
	if (d->sink_fd >= 0) {
		sink_flush(d);
		close(d->sink_fd);
	}
	free(d->out);
	free(d->base);
	free(d);
}
