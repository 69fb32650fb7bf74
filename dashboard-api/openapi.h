/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * openapi.h - the OpenAPI 3.1 document of tollgate-api (GET /openapi.json),
 * generated from the routing table (routes.h) so that it describes every
 * route and no other: path and query parameters, Idempotency-Key on POST,
 * request and response schemas (a row's schema names; "FooList" is the list
 * of "Foo"), the error replies, and the security each access rule needs.
 */
#ifndef TG_API_OPENAPI_H
#define TG_API_OPENAPI_H

#include <stddef.h>

/*
 * openapi_document() - the document as compact JSON, malloc'ed in @ret
 * (free() it) with its length. 0, -ENOMEM, or -EINVAL when a route names a
 * query parameter or schema the generator does not know (a bug caught by
 * the tests).
 */
int openapi_document(char **ret, size_t *ret_len);

#endif /* TG_API_OPENAPI_H */
