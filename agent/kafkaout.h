/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * kafkaout.h - usage events from the write-ahead log to Kafka (DESIGN §4, §5).
 *
 * One idempotent librdkafka producer (acks=all, lz4, no message timeout: a
 * broker that is away only delays delivery) sends the spool's records in
 * order to kafka.topic_usage, keyed by consumer id, with the content-type
 * header of kafka.format. A record leaves the spool when Kafka acknowledges
 * it. A fatal producer error (idempotence broken) is reported, and the agent
 * exits so that its supervisor restarts it: the spool then sends again what
 * was not acknowledged.
 */
#ifndef TG_AGENT_KAFKAOUT_H
#define TG_AGENT_KAFKAOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/spool.h"
#include "lib/config.h"

#define KAFKAOUT_CT_BINARY "application/vnd.tollgate.usage.v1"
#define KAFKAOUT_CT_JSON "application/cloudevents+json"

struct kafkaout_stats {
	uint64_t produced;  /* handed to librdkafka */
	uint64_t delivered; /* acknowledged by Kafka */
	uint64_t queue_full;
	uint64_t snapshots;	    /* counter snapshots handed to librdkafka */
	uint64_t snapshots_dropped; /* not even queued (the next one supersedes) */
	bool fatal;
	bool broker_up;	    /* false from "all brokers down" to the next delivery */
};

struct kafkaout;

/* kafkaout_new() - a producer for cfg's [kafka] section reading sp. */
int kafkaout_new(const struct config *cfg, struct spool *sp, struct kafkaout **ret, char *err,
		 size_t err_len);

/* kafkaout_pump() - hand the spool's next records to librdkafka, as many as
 * its queue takes, and serve delivery reports. Returns records handed over,
 * or -EIO after a fatal producer error. */
int kafkaout_pump(struct kafkaout *ko);

/* kafkaout_send_snapshot() - one counter snapshot to kafka.topic_counters,
 * not spooled: snapshots are cumulative, the next one supersedes a lost one.
 * Returns 0 or -EAGAIN when librdkafka's queue is full. */
int kafkaout_send_snapshot(struct kafkaout *ko, const char *key, size_t key_len, const char *json,
			   size_t len);

/* kafkaout_flush() - wait up to timeout_ms for every record to be acknowledged. */
void kafkaout_flush(struct kafkaout *ko, int timeout_ms);

const struct kafkaout_stats *kafkaout_stats(const struct kafkaout *ko);

void kafkaout_free(struct kafkaout *ko);

#endif /* TG_AGENT_KAFKAOUT_H */
