/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * replay.h - `tollgate-billing replay --from TIME`: rebuild the rollups from
 * TIME (rounded down to the start of its UTC day) out of the raw events still
 * in Kafka, e.g. after a fix to aggregation or a restore of Postgres.
 *
 * It reads tollgate.usage up to the offsets the consumer group has committed
 * (the live members keep running), then, in one transaction that holds those
 * offsets' rows locked, reads whatever the group committed meanwhile, deletes
 * the rollup rows from TIME on and writes the rebuilt ones. The live members'
 * commits wait for that transaction, then add their batches on top, so every
 * event id counts once, before and after. Offsets and dedupe state are not
 * changed. Rows before TIME are untouched; minute rows older than
 * billing.minute_retention are not rebuilt. Events that left Kafka through
 * its retention cannot be replayed: choose TIME within the topic's retention
 * (when a partition must be read from its start and that start is not offset
 * 0, the log says so).
 */
#ifndef TG_BILLING_REPLAY_H
#define TG_BILLING_REPLAY_H

#include <time.h>

#include "lib/config.h"

/* replay_main() - as above. 0, or -errno (logged). */
int replay_main(const struct config *cfg, time_t from);

/*
 * replay_parse_time() - "YYYY-MM-DD", "YYYY-MM-DDTHH:MM:SSZ" or Unix seconds.
 * 0 or -EINVAL.
 */
int replay_parse_time(const char *s, time_t *ret);

#endif /* TG_BILLING_REPLAY_H */
