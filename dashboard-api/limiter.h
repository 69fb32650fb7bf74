/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * limiter.h - token buckets keyed by 16 bytes, for tollgate-api's own
 * limits: failed authentications per client address (auth.h) and sandbox
 * calls per consumer (sandbox.h). A bucket holds up to @burst tokens and
 * refills at @per_minute a minute; a fixed table of LIMITER_SLOTS buckets,
 * the least recently used one forgotten when a new key needs room (a
 * forgotten key starts again with a full bucket). Thread-safe.
 */
#ifndef TG_API_LIMITER_H
#define TG_API_LIMITER_H

#define LIMITER_SLOTS 4096
#define LIMITER_KEY_LEN 16

struct limiter;

/* limiter_new() - buckets of @burst (0 counts as 1) refilled at @per_minute. NULL on -ENOMEM. */
struct limiter *limiter_new(unsigned int burst, unsigned int per_minute);

/* limiter_free() - accepts NULL. */
void limiter_free(struct limiter *l);

/*
 * limiter_wait() - seconds until @key's bucket holds a token (0: it holds
 * one now), without taking it.
 */
unsigned int limiter_wait(struct limiter *l, const unsigned char key[LIMITER_KEY_LEN]);

/* limiter_take() - take a token from @key's bucket if it has one. */
void limiter_take(struct limiter *l, const unsigned char key[LIMITER_KEY_LEN]);

/*
 * limiter_acquire() - take a token from @key's bucket: 0 when there was
 * one, else the seconds until there is (nothing taken).
 */
unsigned int limiter_acquire(struct limiter *l, const unsigned char key[LIMITER_KEY_LEN]);

#endif /* TG_API_LIMITER_H */
