/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * run.h - `tollgate-billing run`: a member of the consumer group kafka.group
 * on kafka.topic_usage and kafka.topic_counters that writes micro-batches to
 * Postgres exactly once (billing/usage.h), every billing.batch_interval
 * seconds or billing.batch_max_events events, whichever comes first.
 *
 * Offsets live in Postgres (consumer_offsets), never in Kafka: on assignment
 * the member reads them and seeks there; a batch that fails to commit is
 * dropped and its partitions are read again from the committed offsets. So
 * SIGKILL at any moment, a Postgres restart or a rebalance costs re-reading,
 * never a lost or doubled count.
 *
 * Between batches a member also takes invoice run requests, invoices the
 * previous month, evaluates SLA windows, sends deprecation notices and
 * webhooks, and charges finalized invoices (billing/run.c: run_jobs()).
 */
#ifndef TG_BILLING_RUN_H
#define TG_BILLING_RUN_H

#include <librdkafka/rdkafka.h>

#include "lib/config.h"
#include "lib/event.h"

/*
 * run_main() - run until SIGTERM or SIGINT (the open batch is committed
 * first). Returns 0, or -errno for a setup failure (logged).
 */
int run_main(const struct config *cfg);

/*
 * run_decode_usage() - one message of the usage topic, binary v1 or
 * CloudEvents JSON by its content-type header (by its first byte without
 * one). 0; -EBADMSG with the reason in @reason; -ENOMEM.
 */
int run_decode_usage(const rd_kafka_message_t *m, struct usage_event *ret, char *reason,
		     size_t reason_len);

#endif /* TG_BILLING_RUN_H */
