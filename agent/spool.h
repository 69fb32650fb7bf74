/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * spool.h - the agent's write-ahead log of usage events (DESIGN §4).
 *
 * Every event is appended here before it goes to librdkafka, and stays until
 * Kafka has acknowledged it; an agent that starts finds the events of the
 * previous run still here and sends them again, first. Kafka may then hold an
 * event twice; billing counts each event id once (DESIGN §5).
 *
 * The log is a directory of segment files "wal-<id>.log" (id in hex,
 * increasing); a record is [u32 length][u32 CRC-32 of the rest][u32 key]
 * [payload], little-endian, where the key is the Kafka message key (the
 * consumer id). A record cut short by a crash, or with a bad CRC, ends its
 * segment. A segment is deleted once it is sealed (a newer one is being
 * written) and every record in it is delivered.
 *
 * Records are read back in order through a cursor (spool_next) that runs
 * behind the appends; delivery is acknowledged per segment (spool_delivered).
 */
#ifndef TG_AGENT_SPOOL_H
#define TG_AGENT_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#define SPOOL_RECORD_MAX 4096		   /* payload bytes */
#define SPOOL_SEGMENT_BYTES (16u << 20)	   /* a segment is sealed past this */

struct spool;

struct spool_stats {
	uint64_t bytes;		/* on disk, all segments */
	uint64_t segments;
	uint64_t appended;	/* records appended by this process */
	uint64_t recovered;	/* records found from earlier runs */
	uint64_t delivered;
	uint64_t corrupt_tails; /* segments cut at a bad record */
};

/*
 * spool_open() - open (creating) the log in dir; segments of earlier runs
 * are scanned and queued before anything appended now. max_bytes bounds
 * spool_append(). Returns 0 or -errno; *ret is freed with spool_free().
 */
int spool_open(const char *dir, uint64_t max_bytes, struct spool **ret);

/*
 * spool_append() - add one record, durable against a crash of the agent
 * (not of the host: spool_sync() makes it so). Returns 0, -ENOSPC when the
 * log holds max_bytes already, -EMSGSIZE for a payload over
 * SPOOL_RECORD_MAX, or -errno.
 */
int spool_append(struct spool *sp, uint32_t key, const void *payload, size_t len);

/* spool_full() - true when appends would be refused. */
int spool_full(const struct spool *sp);

/*
 * spool_next() - the next record not yet handed out: its key, payload (into
 * buf, SPOOL_RECORD_MAX bytes) and the segment to acknowledge it with.
 * Returns the payload length, -EAGAIN when there is none, or -errno.
 * spool_unread() puts the last record back (librdkafka's queue was full).
 */
int spool_next(struct spool *sp, uint32_t *ret_key, void *buf, uint64_t *ret_segment);
void spool_unread(struct spool *sp);

/* spool_delivered() - one record of the segment was acknowledged. */
void spool_delivered(struct spool *sp, uint64_t segment);

/* spool_sync() - fsync the segment being written. */
int spool_sync(struct spool *sp);

/* spool_pending() - records handed out or waiting, not yet acknowledged. */
uint64_t spool_pending(const struct spool *sp);

const struct spool_stats *spool_stats(const struct spool *sp);

void spool_free(struct spool *sp);

#endif /* TG_AGENT_SPOOL_H */
