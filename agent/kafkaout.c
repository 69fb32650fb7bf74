/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "agent/kafkaout.h"

struct kafkaout {
	rd_kafka_t *rk;
	struct spool *sp;
	char topic[128];
	char topic_counters[128];
	const char *content_type;
	struct kafkaout_stats stats;
};

/* Delivery reports: the record's segment travels as the message opaque. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct kafkaout *ko = opaque;

	(void)rk;
	if (!m->_private)
		return; /* a counter snapshot: the next one supersedes it */
	if (m->err) {
		/* with no message timeout only fatal errors end here; the
		 * record stays in the spool for the next run */
		ko->stats.fatal = true;
		return;
	}
	ko->stats.delivered++;
	ko->stats.broker_up = true;
	spool_delivered(ko->sp, (uint64_t)(uintptr_t)m->_private);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct kafkaout *ko = opaque;
	char buf[256];

	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		rd_kafka_fatal_error(rk, buf, sizeof(buf));
		ko->stats.fatal = true;
	} else if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
		ko->stats.broker_up = false;
	}
	(void)reason;
}

static int set(rd_kafka_conf_t *conf, const char *name, const char *value, char *err, size_t err_len)
{
	char e[256];

	if (rd_kafka_conf_set(conf, name, value, e, sizeof(e)) != RD_KAFKA_CONF_OK) {
		snprintf(err, err_len, "kafka: %s = %s: %s", name, value, e);
		return -EINVAL;
	}
	return 0;
}

int kafkaout_new(const struct config *cfg, struct spool *sp, struct kafkaout **ret, char *err,
		 size_t err_len)
{
	struct kafkaout *ko = calloc(1, sizeof(*ko));
	rd_kafka_conf_t *conf;
	char e[512];

	if (!ko)
		return -ENOMEM;
	ko->sp = sp;
	snprintf(ko->topic, sizeof(ko->topic), "%s", cfg->kafka.topic_usage);
	snprintf(ko->topic_counters, sizeof(ko->topic_counters), "%s", cfg->kafka.topic_counters);
	ko->content_type = cfg->kafka.format == CONFIG_FORMAT_CLOUDEVENTS ? KAFKAOUT_CT_JSON
									 : KAFKAOUT_CT_BINARY;
	conf = rd_kafka_conf_new();
	if (set(conf, "bootstrap.servers", cfg->kafka.brokers, err, err_len) ||
	    set(conf, "enable.idempotence", "true", err, err_len) ||
	    set(conf, "acks", "all", err, err_len) ||
	    set(conf, "compression.codec", "lz4", err, err_len) ||
	    set(conf, "linger.ms", "5", err, err_len) ||
	    set(conf, "message.timeout.ms", "0", err, err_len) ||
	    set(conf, "queue.buffering.max.messages", "100000", err, err_len) ||
	    set(conf, "log_level", "3", err, err_len)) {
		rd_kafka_conf_destroy(conf);
		free(ko);
		return -EINVAL;
	}
	rd_kafka_conf_set_opaque(conf, ko);
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_error_cb(conf, on_error);
	ko->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof(e));
	if (!ko->rk) {
		snprintf(err, err_len, "kafka: cannot create the producer: %s", e);
		rd_kafka_conf_destroy(conf);
		free(ko);
		return -EINVAL;
	}
	ko->stats.broker_up = true;
	*ret = ko;
	return 0;
}

int kafkaout_pump(struct kafkaout *ko)
{
	char payload[SPOOL_RECORD_MAX], key[16];
	uint64_t segment;
	uint32_t consumer;
	int n = 0, len;

	rd_kafka_poll(ko->rk, 0);
	if (ko->stats.fatal)
		return -EIO;
	while ((len = spool_next(ko->sp, &consumer, payload, &segment)) >= 0) {
		rd_kafka_resp_err_t e;
		int klen = snprintf(key, sizeof(key), "%u", consumer);

		e = rd_kafka_producev(ko->rk, RD_KAFKA_V_TOPIC(ko->topic),
				      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
				      RD_KAFKA_V_KEY(key, (size_t)klen),
				      RD_KAFKA_V_VALUE(payload, (size_t)len),
				      RD_KAFKA_V_HEADER("content-type", ko->content_type, -1),
				      RD_KAFKA_V_OPAQUE((void *)(uintptr_t)segment), RD_KAFKA_V_END);
		if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			spool_unread(ko->sp);
			ko->stats.queue_full++;
			break;
		}
		if (e) {
			spool_unread(ko->sp);
			ko->stats.fatal = true;
			return -EIO;
		}
		ko->stats.produced++;
		n++;
	}
	rd_kafka_poll(ko->rk, 0);
	return n;
}

int kafkaout_send_snapshot(struct kafkaout *ko, const char *key, size_t key_len, const char *json,
			   size_t len)
{
	rd_kafka_resp_err_t e;

	e = rd_kafka_producev(ko->rk, RD_KAFKA_V_TOPIC(ko->topic_counters),
			      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, key_len),
			      RD_KAFKA_V_VALUE((void *)json, len),
			      RD_KAFKA_V_HEADER("content-type", "application/json", -1),
			      RD_KAFKA_V_OPAQUE(NULL), RD_KAFKA_V_END);
	if (e) {
		ko->stats.snapshots_dropped++;
		return -EAGAIN;
	}
	ko->stats.snapshots++;
	return 0;
}

void kafkaout_flush(struct kafkaout *ko, int timeout_ms)
{
	rd_kafka_flush(ko->rk, timeout_ms);
	rd_kafka_poll(ko->rk, 0);
}

const struct kafkaout_stats *kafkaout_stats(const struct kafkaout *ko)
{
	return &ko->stats;
}

void kafkaout_free(struct kafkaout *ko)
{
	if (!ko)
		return;
	rd_kafka_destroy(ko->rk);
	free(ko);
}
