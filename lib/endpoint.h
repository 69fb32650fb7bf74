/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * endpoint.h - endpoint templates for analytics (DESIGN §4, "Events").
 *
 * Usage is grouped by endpoint, so the per-request parts of a path must not
 * make every request an endpoint of its own: "/v1/orders/12345?x=1" and
 * "/v1/orders/67890" are both "/v1/orders/{id}".
 */
#ifndef TG_LIB_ENDPOINT_H
#define TG_LIB_ENDPOINT_H

#include <stddef.h>

#define ENDPOINT_MAX 128       /* longest template, = TG_PATH_MAX */
#define ENDPOINT_ID "{id}"     /* what an identifier segment becomes */
#define ENDPOINT_HEX_ID_MIN 16 /* hex segments this long or longer are ids */

/*
 * endpoint_normalize() - the template of the request target @path[0..@len).
 *
 * The query ("?...") and fragment ("#...") are dropped; so are the scheme and
 * authority of an absolute-form target ("http://host/x" -> "/x"). Each
 * '/'-separated segment that is
 *   - all decimal digits ("12345"),
 *   - a UUID (8-4-4-4-12 hex digits, either case), or
 *   - ENDPOINT_HEX_ID_MIN or more hex digits (a digest, an object id)
 * becomes "{id}". Nothing else changes: no percent-decoding, empty segments
 * ("//") and a trailing '/' are kept, and the path is not required to start
 * with '/' ("*" stays "*"). An empty path is "/". The input stops early at a
 * NUL byte.
 *
 * Writes at most min(@out_size - 1, ENDPOINT_MAX) bytes and a NUL to @out
 * (nothing if @out_size is 0); a longer template is cut. Returns the number
 * of bytes written, without the NUL.
 */
size_t endpoint_normalize(const char *path, size_t len, char *out, size_t out_size);

#endif /* TG_LIB_ENDPOINT_H */
