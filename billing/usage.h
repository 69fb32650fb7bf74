/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * usage.h - one micro-batch of tollgate-billing (DESIGN §6): the usage events
 * and counter snapshots read since the last commit, aggregated into minute,
 * hour and day rollups, and written to Postgres in ONE transaction together
 * with the offsets they came from and the dedupe state of the event streams
 * they touched. Either all of it lands or none of it, so a crash anywhere
 * loses nothing and counts nothing twice.
 *
 * Offsets are fenced: the commit updates a partition's row only where
 * next_offset still holds the value this member read when it was assigned the
 * partition (or last committed); if another member moved it, the whole
 * transaction rolls back and usage_batch_commit() says -ESTALE.
 *
 * Dedupe (an event id twice in Kafka counts once): per (partition, host,
 * epoch) the highest seq applied and a bitmap of the USAGE_DEDUPE_WINDOW seqs
 * at and below it. An id always lands in one partition (the message key is
 * the consumer id), so the state is exact per partition and members never
 * share it. Events more than the window behind the highest seq of their
 * stream cannot be told apart from duplicates: they go to the dead-letter
 * table ("seq below the dedupe window"), never silently.
 */
#ifndef TG_BILLING_USAGE_H
#define TG_BILLING_USAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <libpq-fe.h>

#include "lib/event.h"

#define USAGE_DEDUPE_WINDOW (1u << 17) /* seqs; 16 KiB of bitmap per stream */

struct usage_batch;

struct usage_stats {
	uint64_t events;     /* applied to the batch */
	uint64_t duplicates; /* ids already applied, skipped */
	uint64_t dead;	     /* dead letters */
	uint64_t snapshots;  /* counter snapshots */
	uint64_t rows_minute, rows_hour, rows_day; /* distinct rollup rows */
};

/*
 * usage_batch_new() - an empty batch. @minute_retention_days: minute rows for
 * older events are not written (hour and day rows are). Returns 0 or -ENOMEM.
 */
int usage_batch_new(unsigned int minute_retention_days, struct usage_batch **ret);

/*
 * usage_batch_new_replay() - a batch for `replay`: events before @from
 * (seconds, the start of a UTC day) are skipped, dedupe starts empty rather
 * than from the live state, and it is written with usage_batch_replace().
 */
int usage_batch_new_replay(unsigned int minute_retention_days, time_t from,
			   struct usage_batch **ret);

/*
 * usage_batch_prepare_partitions() - create the rollup partitions the batch's
 * rows need (outside a transaction: it takes strong locks). 0 or -EIO.
 */
int usage_batch_prepare_partitions(struct usage_batch *b, PGconn *c);

/*
 * usage_batch_replace() - inside the caller's transaction, delete every
 * rollup row from the replay's start on and write the batch's rows instead.
 * Offsets and dedupe state are not touched. 0, -EINVAL for a live batch, or
 * -EIO.
 */
int usage_batch_replace(struct usage_batch *b, PGconn *c);

/* usage_batch_free() - @b may be NULL. */
void usage_batch_free(struct usage_batch *b);

/*
 * usage_batch_fence() - this member owns (@topic, @partition) and the row of
 * consumer_offsets says @next_offset: the commit will require that value.
 * Called on assignment (after reading the row) and by the commit itself.
 */
int usage_batch_fence(struct usage_batch *b, const char *topic, int32_t partition,
		      int64_t next_offset);

/* usage_batch_release() - forget every fence and every pending change. */
void usage_batch_release(struct usage_batch *b);

/*
 * usage_batch_add_event() - apply one decoded event read at @offset of
 * @partition of the usage topic @topic: dedupe (the stream's state is read
 * from Postgres through @c the first time), then aggregate. Returns 1 when
 * applied, 0 for a duplicate, -EBADMSG when it went to the dead letters
 * instead (reason recorded), -ENOMEM or -EIO (reading dedupe state).
 */
int usage_batch_add_event(struct usage_batch *b, PGconn *c, const char *topic, int32_t partition,
			  int64_t offset, const struct usage_event *ev);

/*
 * usage_batch_add_snapshot() - one message of the counters topic (lib/snapshot.h
 * JSON). Returns 1, or -EBADMSG when it went to the dead letters.
 */
int usage_batch_add_snapshot(struct usage_batch *b, const char *topic, int32_t partition,
			     int64_t offset, const void *payload, size_t len);

/*
 * usage_batch_add_dead() - a message that could not be decoded: kept with its
 * place, key, payload and @reason. Returns 0 or -ENOMEM.
 */
int usage_batch_add_dead(struct usage_batch *b, const char *topic, int32_t partition,
			 int64_t offset, const char *reason, const void *key, size_t key_len,
			 const void *payload, size_t len);

/*
 * usage_batch_consumed() - the message at @offset was read (whatever became
 * of it): the commit moves the partition's next_offset past it.
 */
void usage_batch_consumed(struct usage_batch *b, const char *topic, int32_t partition,
			  int64_t offset);

/* usage_batch_messages() - messages consumed since the last commit. */
uint64_t usage_batch_messages(const struct usage_batch *b);

/*
 * usage_batch_commit() - write everything in one transaction and start an
 * empty batch. Returns 0; -ESTALE when a fence failed (another member owns a
 * partition now: nothing was written, the caller re-reads its assignment);
 * -EIO on a Postgres error (nothing was written). After an error the batch's
 * changes are dropped and its dedupe state forgotten (re-read on next use):
 * the caller must seek its partitions back to the fenced offsets.
 */
int usage_batch_commit(struct usage_batch *b, PGconn *c);

/*
 * usage_batch_next_offset() - the fenced next offset of a partition this
 * member owns (-1 = from the beginning), for seeking after a failed commit;
 * -ENOENT when not owned.
 */
int usage_batch_next_offset(const struct usage_batch *b, const char *topic, int32_t partition,
			    int64_t *ret);

/*
 * usage_batch_expected_offset() - the offset the next message of a partition
 * this member owns should have: past the last one consumed, else the fenced
 * one; -1 when unknown (reading from the beginning). -ENOENT when not owned.
 */
int usage_batch_expected_offset(const struct usage_batch *b, const char *topic, int32_t partition,
				int64_t *ret);

/*
 * usage_drop_expired() - drop the rollup partitions past their retention
 * (DESIGN §6): minute partitions (a day each) ending more than
 * @minute_retention_days before @now, hour partitions (a month each) ending
 * more than 13 months before it. Day rows are kept for ever. Returns the
 * number of partitions dropped, or -EIO.
 */
int usage_drop_expired(PGconn *c, unsigned int minute_retention_days, time_t now);

/* usage_batch_stats() - cumulative counts since usage_batch_new(). */
const struct usage_stats *usage_batch_stats(const struct usage_batch *b);

#endif /* TG_BILLING_USAGE_H */
