/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "agent/evtail.h"
#include "lib/event.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void print_header(void)
{
	printf("%-30s %-24s %-9s %-5s %-7s %-28s %6s %9s %-15s %-13s %s\n", "TIME", "ID", "CONSUMER",
	       "API", "METHOD", "ENDPOINT", "STATUS", "LATENCY", "VERDICT", "FLAGS", "COUNT");
}

static void print_row(const char *time, const char *id, const char *consumer, const char *api,
		      const char *method, const char *endpoint, long long status, long long latency,
		      const char *verdict, const char *flags, long long count)
{
	printf("%-30s %-24s %-9s %-5s %-7s %-28s %6lld %9lld %-15s %-13s %lld\n", time, id, consumer,
	       api, method && *method ? method : "-", endpoint && *endpoint ? endpoint : "-", status,
	       latency, verdict, *flags ? flags : "-", count);
}

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "?";
}

/* One CloudEvents JSON event: printed as is, or as a row. */
static void show_json(const char *line, size_t len, bool json)
{
	json_error_t jerr;
	json_t *root, *data, *flags;
	char f[40] = "";

	if (json) {
		printf("%.*s\n", (int)len, line);
		return;
	}
	root = json_loadb(line, len, 0, &jerr);
	if (!root) {
		fprintf(stderr, "tollgatectl: skipping a line that is not JSON: %s\n", jerr.text);
		return;
	}
	data = json_object_get(root, "data");
	flags = json_object_get(data, "flags");
	if (json_is_true(json_object_get(flags, "unanswered")))
		strcat(f, "unanswered ");
	if (json_is_true(json_object_get(flags, "summary")))
		strcat(f, "summary ");
	if (json_is_true(json_object_get(flags, "unattributed")))
		strcat(f, "unattributed ");
	print_row(str(root, "time"), str(root, "id"), str(data, "consumer_id"), str(data, "api_id"),
		  str(data, "method"), str(data, "endpoint"),
		  json_integer_value(json_object_get(data, "status")),
		  json_integer_value(json_object_get(data, "latency_us")), str(data, "verdict"), f,
		  json_integer_value(json_object_get(data, "count")));
	json_decref(root);
}

/* One binary v1 record: as its CloudEvents form, or as a row. */
static void show_v1(const void *buf, size_t len, bool json)
{
	struct usage_event ev;
	char out[EVENT_JSON_MAX];
	int n;

	if (event_decode_v1(buf, len, &ev) < 0) {
		fprintf(stderr, "tollgatectl: skipping a record that is not binary v1\n");
		return;
	}
	n = event_to_json(&ev, out, sizeof(out));
	if (n > 0)
		show_json(out, (size_t)n, json);
}

static int tail_file(const struct config *cfg, bool follow, bool json, char *err, size_t err_len)
{
	FILE *f = fopen(cfg->agent.events_file, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!f) {
		int r = -errno;

		snprintf(err, err_len, "agent.events_file: cannot read '%s': %s", cfg->agent.events_file,
			 strerror(-r));
		return r;
	}
	while (!stop) {
		n = getline(&line, &cap, f);
		if (n > 0) {
			if (line[n - 1] == '\n')
				n--;
			show_json(line, (size_t)n, json);
			continue;
		}
		if (!follow)
			break;
		fflush(stdout);
		clearerr(f);
		usleep(200000);
	}
	free(line);
	fclose(f);
	return 0;
}

static int tail_kafka(const struct config *cfg, bool follow, bool json, char *err, size_t err_len)
{
	char e[512], group[64];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_topic_partition_list_t *parts;
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt;
	rd_kafka_t *rk;
	int n_parts = 0, eofs = 0, r = 0;

	snprintf(group, sizeof(group), "tollgatectl-%d", (int)getpid());
	if (rd_kafka_conf_set(conf, "bootstrap.servers", cfg->kafka.brokers, e, sizeof(e)) ||
	    rd_kafka_conf_set(conf, "group.id", group, e, sizeof(e)) ||
	    rd_kafka_conf_set(conf, "enable.partition.eof", "true", e, sizeof(e)) ||
	    rd_kafka_conf_set(conf, "enable.auto.commit", "false", e, sizeof(e)) ||
	    rd_kafka_conf_set(conf, "log_level", "3", e, sizeof(e))) {
		snprintf(err, err_len, "kafka: %s", e);
		rd_kafka_conf_destroy(conf);
		return -EINVAL;
	}
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof(e));
	if (!rk) {
		snprintf(err, err_len, "kafka: %s", e);
		rd_kafka_conf_destroy(conf);
		return -EINVAL;
	}
	rkt = rd_kafka_topic_new(rk, cfg->kafka.topic_usage, NULL);
	if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) || md->topic_cnt != 1 || md->topics[0].err) {
		snprintf(err, err_len, "kafka: no metadata for topic %s from %s", cfg->kafka.topic_usage,
			 cfg->kafka.brokers);
		r = -EIO;
		goto out;
	}
	n_parts = md->topics[0].partition_cnt;
	parts = rd_kafka_topic_partition_list_new(n_parts);
	for (int i = 0; i < n_parts; i++)
		rd_kafka_topic_partition_list_add(parts, cfg->kafka.topic_usage, i)->offset =
			follow ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_assign(rk, parts);
	rd_kafka_topic_partition_list_destroy(parts);
	while (!stop && (follow || eofs < n_parts)) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
		const void *ct = NULL;
		size_t ct_len = 0;
		rd_kafka_headers_t *hdrs;

		if (!m) {
			fflush(stdout);
			continue;
		}
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			eofs++;
		} else if (m->err) {
			fprintf(stderr, "tollgatectl: kafka: %s\n", rd_kafka_message_errstr(m));
		} else {
			if (rd_kafka_message_headers(m, &hdrs) == 0)
				rd_kafka_header_get_last(hdrs, "content-type", &ct, &ct_len);
			if (ct && ct_len == strlen("application/cloudevents+json") &&
			    memcmp(ct, "application/cloudevents+json", ct_len) == 0)
				show_json(m->payload, m->len, json);
			else
				show_v1(m->payload, m->len, json);
		}
		rd_kafka_message_destroy(m);
	}
out:
	if (md)
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return r;
}

int evtail_run(const struct config *cfg, bool follow, bool json, char *err, size_t err_len)
{
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (!json)
		print_header();
	if (cfg->kafka.brokers[0])
		return tail_kafka(cfg, follow, json, err, err_len);
	return tail_file(cfg, follow, json, err, err_len);
}
