/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sandbox.h - POST /v1/sandbox/requests, the developer portal's "try it"
 * (DESIGN §7): tollgate-api sends one request to the API's sandbox_url and
 * tells the consumer what came back, and whether the tollgate gateway
 * refused it.
 *
 * Who: a consumer, with its own key, which is what goes out in X-API-Key.
 * The admin cannot call it (404, as for every consumer-only route): raw keys
 * are never stored, so there is no consumer key to send on its behalf, and
 * the admin token never leaves the server.
 *
 * Body: {"api_id": "1", "method": "GET", "path": "/v1/orders?limit=2",
 *        "headers": {"Accept": "application/json"}, "body": "..."}
 *   api_id   required; an unknown API is 404 naming it, one without a
 *            sandbox_url 400 naming it;
 *   method   required; GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS;
 *   path     required; starts with '/', at most SANDBOX_PATH_MAX bytes of
 *            URL characters (RFC 3986: percent-encode the rest), no
 *            fragment; appended to sandbox_url as it is;
 *   headers  optional object of strings: names are HTTP tokens, values
 *            printable (tab allowed), at most SANDBOX_HEADERS_MAX of them;
 *            Host, X-API-Key, Authorization and the framing and hop-by-hop
 *            headers (Content-Length, Transfer-Encoding, Connection, Expect,
 *            Upgrade, TE, Trailer, Keep-Alive, Proxy-*) cannot be set
 *            (400 naming "headers.NAME");
 *   body     optional: a string is sent as it is; any other JSON value is
 *            sent as compact JSON, with Content-Type: application/json
 *            unless headers has one; at most SANDBOX_REQUEST_BODY_MAX bytes.
 *
 * The call: libcurl, http and https only, no redirects followed (a 3xx is
 * the answer), no proxy, SANDBOX_CONNECT_TIMEOUT_MS to connect and
 * SANDBOX_TIMEOUT_MS in all, at most SANDBOX_BODY_MAX bytes of the answer's
 * body read. Calls are limited per consumer: a bucket of --sandbox-burst
 * calls refilled at --sandbox-per-min a minute (429 rate_limited with
 * Retry-After); a request refused for its input does not count.
 *
 * Reply 200:
 *   {"object": "sandbox_response", "api_id": "1", "method": "GET",
 *    "url": "http://sandbox.example/v1/orders?limit=2",
 *    "status": 200, "headers": {"content-type": "text/plain", ...},
 *    "body": "...", "body_truncated": false, "latency_ms": 12.5,
 *    "verdict": "admitted"}
 * headers: names in lower case, repeated ones joined with ", " (at most
 * SANDBOX_HEADERS_MAX kept; headers_truncated says when more came). body:
 * the answer as UTF-8 text (invalid bytes become U+FFFD), cut at
 * SANDBOX_BODY_MAX bytes with body_truncated true. latency_ms: from the
 * start of the call to the end of the answer (or of the part read).
 * verdict: "admitted" for an answer of the API itself; the gateway's
 * verdict ("missing_key", "unknown_key", "revoked_key", "suspended",
 * "forbidden_api", "over_limit", "quota_exhausted") when the answer is
 * what the tollgate kernel writes for a refusal (bpf/lib/reply.h): that
 * verdict's status (401, 403, 429), Content-Type application/json, the body
 * exactly {"error":"NAME"}, and for a 429 the Retry-After, RateLimit-Policy
 * and RateLimit headers; "no_response" when nothing usable came back
 * (connection refused, timeout, a broken answer), with status null and the
 * reason in "error".
 */
#ifndef TG_API_SANDBOX_H
#define TG_API_SANDBOX_H

#include "dashboard-api/request.h"

#define SANDBOX_TIMEOUT_MS 5000
#define SANDBOX_CONNECT_TIMEOUT_MS 2000
#define SANDBOX_BODY_MAX (64 * 1024)
#define SANDBOX_REQUEST_BODY_MAX (256 * 1024)
#define SANDBOX_PATH_MAX 2048
#define SANDBOX_HEADERS_MAX 50
#define SANDBOX_HEADER_VALUE_MAX 4096
#define SANDBOX_BURST_DEFAULT 10   /* calls a consumer may make at once */
#define SANDBOX_PER_MIN_DEFAULT 20 /* and how fast that refills */

/* POST /v1/sandbox/requests */
int sandbox_request(struct request *req, struct reply *rep);

#endif /* TG_API_SANDBOX_H */
