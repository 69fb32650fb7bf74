/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * auth.h - who is calling tollgate-api (DESIGN §7): the admin, by the token
 * in api.admin_token_file ("Authorization: Bearer TOKEN", compared in
 * constant time), or a consumer, by one of its own keys ("Authorization:
 * Bearer tg_..." or "X-API-Key: tg_..."): digested with the deployment
 * secrets (DESIGN §8) and looked up in api_keys, where it must be neither
 * revoked nor past its rotation grace period, and its consumer not suspended.
 *
 * Failed authentications are limited per client address (limiter.h, in
 * ctx->limiter): a token bucket of failures refilled at a configurable rate; an address
 * with an empty bucket gets 429 rate_limited with Retry-After for every
 * request carrying credentials, good or bad, until it refills (so guessing
 * keys or the token costs time), while requests without credentials to
 * public routes go on.
 */
#ifndef TG_API_AUTH_H
#define TG_API_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "dashboard-api/request.h"

#define AUTH_TOKEN_MIN 16   /* bytes of an admin token, at least */
#define AUTH_TOKEN_MAX 4096

/*
 * auth_load_admin_token() - the token in @path, trailing whitespace removed,
 * as a malloc'ed string in @ret (free() it). The file must not be open to
 * group or others. -ENOENT etc. (the errno of open), -EPERM (group or others
 * may read it), -EINVAL (shorter than AUTH_TOKEN_MIN bytes or holding
 * whitespace or controls inside), -EFBIG; the reason in @err.
 */
int auth_load_admin_token(const char *path, char **ret, char *err, size_t err_len);

/*
 * auth_authenticate() - fill req->caller and req->caller_scope from the
 * request's credentials. Returns 0 (no credentials: anonymous; or a valid
 * admin token or key), or -EACCES with @rep set to 401 authentication (bad
 * credentials, counted as a failure) or 429 rate_limited (the address is
 * over its limit); -EIO with 500 set when Postgres failed.
 */
int auth_authenticate(struct request *req, struct reply *rep, const struct sockaddr *addr);

/*
 * auth_caller_key() - the raw key the consumer of @req authenticated with
 * (from X-API-Key or "Authorization: Bearer"), pointing into the request's
 * headers; NULL when the caller is not a consumer. For the sandbox, which
 * sends it on (never the admin token).
 */
const char *auth_caller_key(const struct request *req);

#endif /* TG_API_AUTH_H */
