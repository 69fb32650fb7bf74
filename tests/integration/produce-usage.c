/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * produce-usage - synthetic usage events for billing's tests and benchmark,
 * produced to a Kafka topic as the agents would (key = consumer id, header
 * content-type), with the ground truth written beside them.
 *
 *   produce-usage --brokers B [--topic T] --events N [--dup-pct P]
 *                 [--json-pct P] [--malformed N] [--hosts H] [--consumers C]
 *                 [--seed S] [--truth FILE] [--minutes M]
 *
 * Each host runs two epochs: epoch 1 is cut short and its last events are
 * "replayed" from the write-ahead log behind the first events of epoch 2, as
 * a restarted agent does. Within an epoch, events leave in shuffled runs of up
 * to 64 (out of order), and --dup-pct percent of the events are sent a second
 * time, some time after the first. --malformed adds messages that are not
 * events (bad magic, cut short, bad JSON), which billing must dead-letter.
 *
 * The truth file has one line per fact, sorted, so a test compares it with
 * what Postgres says using diff:
 *   total REQUESTS
 *   consumer C REQUESTS BILLABLE BYTES_IN BYTES_OUT UNANSWERED SUMMARIZED
 *   class C CLASS VERDICT REQUESTS
 *   pct C P50 P99           (exact nearest-rank latency percentiles, µs)
 *   endpoint C METHOD ENDPOINT COUNTRY REQUESTS
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "lib/event.h"

#define MAX_CONSUMERS 1000

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* splitmix64: fixed seed, same events every run */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t rnd_below(uint32_t n)
{
	return (uint32_t)(rnd() % n);
}

struct consumer_truth {
	uint64_t requests, billable, bytes_in, bytes_out, unanswered, summarized;
	uint64_t by_class[6][TG_V_COUNT];
	uint32_t *lat;
	size_t n_lat, cap_lat;
};

static struct consumer_truth truth[MAX_CONSUMERS + 1];

static const char *const endpoints[] = { "/v1/orders", "/v1/orders/{id}", "/v1/users/{id}",
					 "/v1/search", "/v2/caf\xc3\xa9", "/v1/raw\xff" };
/* as Postgres holds them: bytes that are not UTF-8 are written "%XX" */
static const char *const endpoints_text[] = { "/v1/orders", "/v1/orders/{id}", "/v1/users/{id}",
					      "/v1/search", "/v2/caf\xc3\xa9", "/v1/raw%FF" };
static const char countries[][3] = { "US", "DE", "JP", "--", "BR" };

/* endpoint counts: consumer x method x endpoint x country */
static uint64_t ep_counts[MAX_CONSUMERS + 1][8][6][5];

static void make_event(struct usage_event *ev, uint32_t host, uint32_t epoch, uint64_t seq,
		       uint32_t consumers, uint64_t t0_ns, unsigned int minutes)
{
	uint32_t r = rnd_below(1000);
	size_t ep = rnd_below(6);

	memset(ev, 0, sizeof(*ev));
	ev->host_id = host;
	ev->epoch = epoch;
	ev->seq = seq;
	ev->time_ns = t0_ns + rnd() % ((uint64_t)minutes * 60 * 1000000000ull);
	ev->consumer_id = 1 + rnd_below(consumers);
	ev->plan_id = 100 + ev->consumer_id % 3;
	ev->api_id = 1 + ev->consumer_id % 2;
	ev->route_id = 10 + ev->api_id;
	ev->key_id = 5000 + ev->consumer_id;
	/* mostly one method per endpoint, as real APIs have */
	ev->method = (uint8_t)(rnd_below(10) ? 1 + ep % 3 : 1 + rnd_below(7));
	ev->count = 1;
	ev->client_ip[10] = ev->client_ip[11] = 0xff;
	ev->client_ip[12] = 198;
	ev->client_ip[13] = 51;
	ev->client_ip[14] = 100;
	ev->client_ip[15] = (uint8_t)rnd_below(256);
	/* mostly from the consumer's home country */
	memcpy(ev->country, countries[rnd_below(10) ? ev->consumer_id % 5 : rnd_below(5)], 2);
	ev->endpoint_len = (uint8_t)strlen(endpoints[ep]);
	memcpy(ev->endpoint, endpoints[ep], ev->endpoint_len);
	ev->req_bytes = 100 + rnd_below(900);
	if (r < 900) { /* answered */
		static const uint16_t statuses[] = { 200, 200, 200, 201, 204, 301, 404, 429, 500, 503 };

		ev->status = statuses[rnd_below(10)];
		/* log-normal-ish: mostly 100 µs .. 20 ms, a tail to seconds */
		ev->latency_us = 50 + (uint32_t)(rnd() % 2000) * (1u << rnd_below(10));
		ev->resp_bytes = 200 + rnd_below(5000);
	} else if (r < 940) { /* unanswered */
		ev->flags = TG_EF_UNANSWERED;
	} else if (r < 990) { /* refused */
		ev->verdict = (uint8_t)(1 + rnd_below(TG_V_COUNT - 1));
		ev->plan_id = ev->verdict == TG_V_UNKNOWN_KEY ? 0 : ev->plan_id;
		ev->resp_bytes = 0;
	} else { /* a summary of events the ring buffer lost */
		ev->flags = TG_EF_SUMMARY;
		ev->count = 1 + rnd_below(50);
		ev->req_bytes = 0;
		ev->method = 0;
		ev->endpoint_len = 0;
		ev->endpoint[0] = '\0';
		memcpy(ev->country, "--", 2);
	}
	ev->endpoint[ev->endpoint_len] = '\0';
}

static void account(const struct usage_event *ev)
{
	struct consumer_truth *t = &truth[ev->consumer_id];
	unsigned int cls = ev->status >= 100 && ev->status <= 599 ? ev->status / 100 : 0;
	size_t ep = 0, co = 0;

	t->requests += ev->count;
	t->bytes_in += ev->req_bytes;
	t->bytes_out += ev->resp_bytes;
	if (ev->flags & TG_EF_UNANSWERED)
		t->unanswered += ev->count;
	if (ev->flags & TG_EF_SUMMARY)
		t->summarized += ev->count;
	if (ev->verdict == TG_V_ADMITTED &&
	    ((cls >= 1 && cls <= 4) || (ev->flags & TG_EF_SUMMARY)))
		t->billable += ev->count;
	t->by_class[cls][ev->verdict] += ev->count;
	if (cls && !(ev->flags & TG_EF_SUMMARY)) {
		if (t->n_lat == t->cap_lat) {
			t->cap_lat = t->cap_lat ? t->cap_lat * 2 : 1024;
			t->lat = realloc(t->lat, t->cap_lat * sizeof(*t->lat));
			if (!t->lat)
				abort();
		}
		t->lat[t->n_lat++] = ev->latency_us;
	}
	for (size_t i = 0; i < 6; i++)
		if (ev->endpoint_len == strlen(endpoints[i]) &&
		    !memcmp(ev->endpoint, endpoints[i], ev->endpoint_len))
			ep = i;
	for (size_t i = 0; i < 5; i++)
		if (!memcmp(ev->country, countries[i], 2))
			co = i;
	if (ev->endpoint_len)
		ep_counts[ev->consumer_id][ev->method][ep][co] += ev->count;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static uint32_t nearest_rank(const uint32_t *v, size_t n, double q)
{
	size_t rank = (size_t)((double)n * q + 0.999999999);

	if (rank < 1)
		rank = 1;
	return v[rank - 1];
}

static rd_kafka_t *rk;
static const char *topic = "tollgate.usage";
static unsigned int json_pct;
static uint64_t produced;

static void send_raw(uint32_t consumer, const void *payload, size_t len, const char *ctype)
{
	char key[16];
	int klen = snprintf(key, sizeof(key), "%u", consumer);
	rd_kafka_resp_err_t e;

	for (;;) {
		e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, (size_t)klen),
				      RD_KAFKA_V_VALUE((void *)payload, len),
				      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
				      RD_KAFKA_V_HEADER("content-type", ctype, -1), RD_KAFKA_V_END);
		if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			break;
		rd_kafka_poll(rk, 10);
	}
	if (e) {
		fprintf(stderr, "produce-usage: %s\n", rd_kafka_err2str(e));
		exit(1);
	}
	produced++;
}

static void send_event(const struct usage_event *ev)
{
	char json[EVENT_JSON_MAX];
	uint8_t bin[EVENT_V1_MAX];
	int n;

	if (rnd_below(100) < json_pct) {
		n = event_to_json(ev, json, sizeof(json));
		if (n < 0)
			abort();
		send_raw(ev->consumer_id, json, (size_t)n, "application/cloudevents+json");
	} else {
		n = event_encode_v1(ev, bin, sizeof(bin));
		if (n < 0)
			abort();
		send_raw(ev->consumer_id, bin, (size_t)n, "application/vnd.tollgate.usage.v1");
	}
}

static void delivered(rd_kafka_t *k, const rd_kafka_message_t *m, void *opaque)
{
	(void)k;
	(void)opaque;
	if (m->err) {
		fprintf(stderr, "produce-usage: delivery failed: %s\n", rd_kafka_err2str(m->err));
		exit(1);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "brokers", required_argument, NULL, 'b' }, { "topic", required_argument, NULL, 't' },
		{ "events", required_argument, NULL, 'n' },  { "dup-pct", required_argument, NULL, 'd' },
		{ "json-pct", required_argument, NULL, 'j' },
		{ "malformed", required_argument, NULL, 'm' },
		{ "hosts", required_argument, NULL, 'H' },   { "consumers", required_argument, NULL, 'c' },
		{ "seed", required_argument, NULL, 's' },    { "truth", required_argument, NULL, 'T' },
		{ "minutes", required_argument, NULL, 'M' }, { 0 },
	};
	const char *brokers = NULL, *truth_path = NULL;
	uint64_t events = 1000, malformed = 0;
	unsigned int dup_pct = 0, hosts = 2, consumers = 20, minutes = 30;
	rd_kafka_conf_t *conf;
	char err[512];
	int opt;

	rng_state = 42;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'b': brokers = optarg; break;
		case 't': topic = optarg; break;
		case 'n': events = strtoull(optarg, NULL, 10); break;
		case 'd': dup_pct = (unsigned int)atoi(optarg); break;
		case 'j': json_pct = (unsigned int)atoi(optarg); break;
		case 'm': malformed = strtoull(optarg, NULL, 10); break;
		case 'H': hosts = (unsigned int)atoi(optarg); break;
		case 'c': consumers = (unsigned int)atoi(optarg); break;
		case 's': rng_state = strtoull(optarg, NULL, 10); break;
		case 'T': truth_path = optarg; break;
		case 'M': minutes = (unsigned int)atoi(optarg); break;
		default: return 2;
		}
	}
	if (!brokers || !hosts || !consumers || consumers > MAX_CONSUMERS || !minutes) {
		fprintf(stderr, "produce-usage: --brokers needed; 1 <= consumers <= %d\n",
			MAX_CONSUMERS);
		return 2;
	}
	conf = rd_kafka_conf_new();
	if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof(err)) ||
	    rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof(err)) ||
	    rd_kafka_conf_set(conf, "linger.ms", "50", err, sizeof(err)) ||
	    rd_kafka_conf_set(conf, "compression.type", "lz4", err, sizeof(err)) ||
	    rd_kafka_conf_set(conf, "batch.num.messages", "10000", err, sizeof(err)) ||
	    rd_kafka_conf_set(conf, "queue.buffering.max.messages", "1000000", err,
			      sizeof(err))) {
		fprintf(stderr, "produce-usage: %s\n", err);
		return 1;
	}
	rd_kafka_conf_set_dr_msg_cb(conf, delivered);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (!rk) {
		fprintf(stderr, "produce-usage: %s\n", err);
		return 1;
	}

	uint64_t t0_ns = ((uint64_t)time(NULL) - (uint64_t)minutes * 60 - 120) * 1000000000ull;
	uint64_t per_host = events / hosts;

	for (unsigned int h = 0; h < hosts; h++) {
		uint64_t n = h + 1 == hosts ? events - per_host * (hosts - 1) : per_host;
		uint64_t e1 = n / 2, replay = e1 / 10;
		struct usage_event *evs = malloc(n * sizeof(*evs));
		uint64_t *order = malloc((n + replay + 1) * sizeof(*order));
		size_t n_order = 0;

		if (!evs || !order)
			return 1;
		for (uint64_t i = 0; i < n; i++) {
			bool first = i < e1;

			make_event(&evs[i], 1000 + h, first ? 1 : 2, first ? i : i - e1, consumers,
				   t0_ns, minutes);
			account(&evs[i]);
		}
		/* epoch 1 without its tail, then the first events of epoch 2, then
		 * epoch 1's tail replayed from the log (some of it sent before
		 * the "crash" too: duplicates), then the rest of epoch 2 */
		for (uint64_t i = 0; i < e1 - replay; i++)
			order[n_order++] = i;
		for (uint64_t i = e1 - replay; i < e1 - replay / 2; i++)
			order[n_order++] = i; /* sent before the crash */
		for (uint64_t i = e1; i < e1 + (n - e1) / 4; i++)
			order[n_order++] = i;
		for (uint64_t i = e1 - replay; i < e1; i++)
			order[n_order++] = i; /* the replay: half of it again */
		for (uint64_t i = e1 + (n - e1) / 4; i < n; i++)
			order[n_order++] = i;
		/* shuffle within runs of 64 */
		for (size_t i = 0; i < n_order; i += 64) {
			size_t len = n_order - i < 64 ? n_order - i : 64;

			for (size_t j = len - 1; j > 0; j--) {
				size_t k = rnd_below((uint32_t)j + 1);
				uint64_t tmp = order[i + j];

				order[i + j] = order[i + k];
				order[i + k] = tmp;
			}
		}
		for (size_t i = 0; i < n_order; i++) {
			send_event(&evs[order[i]]);
			if (dup_pct && rnd_below(100) < dup_pct) {
				/* a duplicate, a little later: an earlier event again */
				size_t back = rnd_below(i < 5000 ? (uint32_t)i + 1 : 5000);

				send_event(&evs[order[i - back]]);
			}
			if ((i & 4095) == 0)
				rd_kafka_poll(rk, 0);
		}
		free(evs);
		free(order);
	}
	for (uint64_t i = 0; i < malformed; i++) {
		static const uint8_t bad_magic[92] = { 0x47, 0x54 };
		static const char bad_json[] = "{\"specversion\":\"1.0\",\"type\":\"tollgate.request\"";
		uint8_t cut[40] = { 0x54, 0x47, 1 };

		switch (i % 3) {
		case 0:
			send_raw(1, bad_magic, sizeof(bad_magic), "application/vnd.tollgate.usage.v1");
			break;
		case 1:
			send_raw(2, cut, sizeof(cut), "application/vnd.tollgate.usage.v1");
			break;
		default:
			send_raw(3, bad_json, strlen(bad_json), "application/cloudevents+json");
		}
	}
	while (rd_kafka_flush(rk, 1000) == RD_KAFKA_RESP_ERR__TIMED_OUT)
		;
	rd_kafka_destroy(rk);
	fprintf(stderr, "produce-usage: %" PRIu64 " messages produced\n", produced);

	if (truth_path) {
		FILE *f = fopen(truth_path, "w");
		uint64_t total = 0;

		if (!f)
			return 1;
		for (uint32_t c = 1; c <= consumers; c++) {
			struct consumer_truth *t = &truth[c];

			total += t->requests;
			if (!t->requests)
				continue;
			fprintf(f,
				"consumer %u %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
				" %" PRIu64 "\n",
				c, t->requests, t->billable, t->bytes_in, t->bytes_out, t->unanswered,
				t->summarized);
			for (int cls = 0; cls < 6; cls++)
				for (int v = 0; v < TG_V_COUNT; v++)
					if (t->by_class[cls][v])
						fprintf(f, "class %u %d %d %" PRIu64 "\n", c, cls, v,
							t->by_class[cls][v]);
			if (t->n_lat) {
				qsort(t->lat, t->n_lat, sizeof(*t->lat), cmp_u32);
				fprintf(f, "pct %u %u %u\n", c, nearest_rank(t->lat, t->n_lat, 0.5),
					nearest_rank(t->lat, t->n_lat, 0.99));
			}
			for (int m = 0; m < 8; m++)
				for (int e = 0; e < 6; e++)
					for (int co = 0; co < 5; co++)
						if (ep_counts[c][m][e][co])
							fprintf(f, "endpoint %u %d %s %s %" PRIu64 "\n",
								c, m, endpoints_text[e], countries[co],
								ep_counts[c][m][e][co]);
		}
		fprintf(f, "total %" PRIu64 "\n", total);
		fclose(f);
	}
	return 0;
}
