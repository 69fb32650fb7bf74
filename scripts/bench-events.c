/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * bench-events.c - usage events per second through the agent's drain on one
 * core (issue 3's benchmark): synthetic ring-buffer records (struct
 * tg_event, as tg_skmsg writes them) go through drain_record(), the code
 * every drained record takes: endpoint template, id, encoding, sink.
 *
 *   bench-events [--count N] [--brokers HOST:PORT,...]
 *
 *   json to a null sink     CloudEvents lines into /dev/null (standalone mode)
 *   binary to the spool     binary v1 into the write-ahead log on tmpfs
 *                           (Kafka mode, without the producer)
 *   binary to the broker    the same, then produced and acknowledged by
 *                           --brokers (the dev broker)
 *
 * Prints one markdown row per case: events, seconds, events per second.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "agent/drain.h"
#include "agent/kafkaout.h"
#include "agent/spool.h"
#include "lib/config.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void synthetic(struct tg_event *ev, unsigned long i)
{
	static const char *const paths[] = { "/v1/orders/12345", "/v1/users/7/profile",
					     "/v1/items/0f3c2a9b8d7e6f5a4b3c", "/v1/search" };
	const char *p = paths[i % 4];

	memset(ev, 0, sizeof(*ev));
	ev->start_ns = 1000000000ULL + i * 1000;
	ev->consumer_id = 1 + i % 1000;
	ev->plan_id = 1;
	ev->api_id = 1 + i % 3;
	ev->route_id = 1;
	ev->key_id = ev->consumer_id;
	ev->status = 200;
	ev->method = TG_M_GET;
	ev->latency_us = 250 + i % 1000;
	ev->req_bytes = 400;
	ev->resp_bytes = 1200;
	ev->count = 1;
	ev->client_addr[10] = ev->client_addr[11] = 0xff;
	ev->client_addr[12] = 10;
	ev->client_addr[15] = (unsigned char)i;
	ev->path_len = (unsigned char)strlen(p);
	memcpy(ev->path, p, ev->path_len);
}

static int run(const char *name, struct config *cfg, struct spool *sp, const char *brokers,
	       unsigned long count)
{
	struct drain *d;
	struct kafkaout *ko = NULL;
	struct tg_event ev;
	char err[512];
	int rb = bpf_map_create(BPF_MAP_TYPE_RINGBUF, NULL, 0, 0, 4096, NULL);
	int counters = bpf_map_create(BPF_MAP_TYPE_HASH, NULL, sizeof(struct tg_counter_key),
				      sizeof(struct tg_counters), 16, NULL);
	double t0, t1;

	if (rb < 0 || counters < 0) {
		fprintf(stderr, "bench-events: cannot create maps: %s\n", strerror(errno));
		return 1;
	}
	if (drain_new(cfg, rb, counters, 1, 1, 1, sp, &d, err, sizeof(err))) {
		fprintf(stderr, "bench-events: %s\n", err);
		return 1;
	}
	if (brokers && kafkaout_new(cfg, sp, &ko, err, sizeof(err))) {
		fprintf(stderr, "bench-events: %s\n", err);
		return 1;
	}
	drain_consume(d); /* takes the clock pair */
	t0 = now_s();
	for (unsigned long i = 0; i < count; i++) {
		synthetic(&ev, i);
		if (drain_record(d, &ev) < 0) {
			fprintf(stderr, "bench-events: %s: the sink refused event %lu\n", name, i);
			return 1;
		}
		if (ko && (i & 1023) == 0)
			kafkaout_pump(ko);
	}
	if (ko) {
		while (kafkaout_stats(ko)->delivered < count && now_s() - t0 < 120) {
			kafkaout_pump(ko);
			kafkaout_flush(ko, 100);
		}
	}
	t1 = now_s();
	printf("| %s | %lu | %.3f | %.0f |\n", name, ko ? kafkaout_stats(ko)->delivered : count,
	       t1 - t0, (ko ? kafkaout_stats(ko)->delivered : count) / (t1 - t0));
	kafkaout_free(ko);
	drain_free(d);
	close(rb);
	close(counters);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "brokers", required_argument, NULL, 'b' },
		{ 0 },
	};
	unsigned long count = 1000000;
	const char *brokers = NULL;
	char dir[] = "/dev/shm/tg-bench-events.XXXXXX", cmd[128];
	struct config *cfg = malloc(sizeof(*cfg));
	struct spool *sp;
	int opt, r = 0;

	while ((opt = getopt_long(argc, argv, "n:b:", opts, NULL)) != -1) {
		if (opt == 'n')
			count = strtoul(optarg, NULL, 10);
		else if (opt == 'b')
			brokers = optarg;
		else
			return 2;
	}
	if (!cfg || !mkdtemp(dir))
		return 1;
	config_init(cfg);
	snprintf(cfg->agent.events_file, sizeof(cfg->agent.events_file), "/dev/null");
	snprintf(cfg->agent.state_dir, sizeof(cfg->agent.state_dir), "%s", dir);
	printf("| path | events | seconds | events/s |\n|---|---:|---:|---:|\n");
	r |= run("json to a null sink (/dev/null)", cfg, NULL, NULL, count);

	cfg->kafka.format = CONFIG_FORMAT_BINARY;
	if (spool_open(dir, 1ULL << 40, &sp) == 0) {
		r |= run("binary v1 to the spool (tmpfs)", cfg, sp, NULL, count);
		spool_free(sp);
	}
	if (brokers) {
		snprintf(cfg->kafka.brokers, sizeof(cfg->kafka.brokers), "%s", brokers);
		snprintf(cmd, sizeof(cmd), "rm -f %s/wal-*.log", dir);
		if (system(cmd) == 0 && spool_open(dir, 1ULL << 40, &sp) == 0) {
			r |= run("binary v1 through the spool to the dev broker", cfg, sp, brokers,
				 count / 4);
			spool_free(sp);
		}
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		r = 1;
	free(cfg);
	return r;
}
