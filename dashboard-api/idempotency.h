/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * idempotency.h - Idempotency-Key on POST (DESIGN §7), scoped per (caller,
 * key) for IDEMPOTENCY_TTL: the same key with the same request (method, path,
 * body) answers what the first one answered; with another request, 409
 * conflict. Both calls run inside the request's transaction (server.c), so
 * a concurrent request with the same key waits on the row and then replays,
 * and a request that fails leaves no record. Only answers below 400 are
 * recorded: a refused request may be retried with the same key.
 */
#ifndef TG_API_IDEMPOTENCY_H
#define TG_API_IDEMPOTENCY_H

#include <stdbool.h>
#include <stddef.h>

#include "dashboard-api/request.h"

#define IDEMPOTENCY_KEY_MAX 255
#define IDEMPOTENCY_TTL "24 hours" /* an SQL interval */

/* idempotency_key_valid() - 1..IDEMPOTENCY_KEY_MAX printable ASCII characters. */
bool idempotency_key_valid(const char *key);

/*
 * idempotency_claim() - claim @key for @req, whose body is @body (NUL
 * terminated). Returns 0 with *@ret_replied false when the request is to
 * run; 0 with *@ret_replied true and @rep set when it was answered before
 * (the stored answer) or conflicts (409); -EIO.
 */
int idempotency_claim(struct request *req, const char *key, const char *body, struct reply *rep,
		      bool *ret_replied);

/*
 * idempotency_store() - record @rep (or its replay answer, when it holds a
 * secret) as the answer to @key. 0 or -EIO.
 */
int idempotency_store(struct request *req, const char *key, const struct reply *rep);

/* idempotency_expire() - delete records older than IDEMPOTENCY_TTL; the count or -EIO. */
int idempotency_expire(PGconn *c);

#endif /* TG_API_IDEMPOTENCY_H */
