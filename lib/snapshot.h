/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * snapshot.h - the JSON form of one (consumer, api) entry of the kernel's
 * cumulative counters (tg_counters): the messages of the tollgate.counters
 * topic (DESIGN §5) and the output of `tollgatectl counters --json`.
 *
 *   {"host_id":"7","pin_generation":"00ab…","time":"…Z","consumer_id":"12",
 *    "api_id":"3","requests":N,"refused":{"missing_key":N,…},
 *    "status":{"1xx":N,…,"5xx":N},"unanswered":N,"unattributed":N,
 *    "bytes_in":N,"bytes_out":N,"latency_us_sum":N,"events_lost":N}
 *
 * Counters are cumulative for the life of the pins (one pin generation): a
 * reader takes differences between snapshots of the same generation.
 */
#ifndef TG_LIB_SNAPSHOT_H
#define TG_LIB_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "../bpf/tollgate_abi.h"

#define SNAPSHOT_JSON_MAX 1024 /* any snapshot's JSON, with its NUL, fits */
#define SNAPSHOT_KEY_MAX 64    /* "{host_id}:{pin_generation}:{consumer}:{api}" */

/*
 * snapshot_to_json() - the JSON above into buf (size bytes), NUL-terminated,
 * one line. Returns its length or -ENOSPC.
 */
int snapshot_to_json(uint32_t host_id, uint64_t pin_generation, uint64_t time_ns,
		     const struct tg_counter_key *key, const struct tg_counters *c, char *buf,
		     size_t size);

/* snapshot_key() - the Kafka message key of a snapshot; its length or -ENOSPC. */
int snapshot_key(uint32_t host_id, uint64_t pin_generation, const struct tg_counter_key *key,
		 char *buf, size_t size);

#endif /* TG_LIB_SNAPSHOT_H */
