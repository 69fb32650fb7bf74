/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * keys.h - a consumer's API keys (DESIGN §7, §8): /v1/consumers/{id}/keys.
 * A key is {id, consumer_id, prefix, plan_id, created_at, revoked_at,
 * expires_at, last_used_at, replaced_by}; creating or rotating one answers
 * 201 with the raw key in "key", the only time it is shown: only its digest
 * is stored, and an Idempotency-Key replay answers 409 with the key's id
 * instead. Rotation makes a new key on the same plan and keeps the old one
 * valid for grace_period seconds (default KEYS_GRACE_DEFAULT). Every change
 * reaches Redis (apikey:{digest}, tollgate:keys) through the outbox.
 * Handlers as request.h describes.
 */
#ifndef TG_API_KEYS_H
#define TG_API_KEYS_H

#include "dashboard-api/request.h"

#define KEYS_GRACE_DEFAULT 86400
#define KEYS_GRACE_MAX (30 * 86400)

int keys_list(struct request *req, struct reply *rep);
int keys_create(struct request *req, struct reply *rep);
int keys_revoke(struct request *req, struct reply *rep);
int keys_rotate(struct request *req, struct reply *rep);

/*
 * keys_newest_version() - the secret version new keys are issued under: the
 * version of the last secret line of the file at @path (keydigest.h: the
 * newest). 1..9, or -errno.
 */
int keys_newest_version(const char *path);

#endif /* TG_API_KEYS_H */
