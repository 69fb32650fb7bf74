/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * jsonin.h - the fields of a request body, checked: each reader takes the
 * body object and a field name, and on a bad value sets @rep to 400
 * invalid_request naming the field as "param" and returns -EINVAL (which a
 * handler returns as it is: see request.h). An absent field is not an error
 * unless JSONIN_REQUIRED; JSON null is accepted only with JSONIN_NULLABLE and
 * reads as "absent but present" (@ret_set true, the value NULL/empty).
 */
#ifndef TG_API_JSONIN_H
#define TG_API_JSONIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "dashboard-api/request.h"

#define JSONIN_REQUIRED 1u
#define JSONIN_NULLABLE 2u
#define JSONIN_TIME_MAX 32 /* "2026-11-28T10:05:00.123456Z" with its NUL */

/* jsonin_only() - -EINVAL (400 naming it) if @obj has a key not in the NULL-terminated @allowed. */
int jsonin_only(struct reply *rep, const json_t *obj, const char *const *allowed);

/*
 * jsonin_string() - a string of 1..@max_len bytes (0..@max_len with
 * @allow_empty set in @flags as JSONIN_EMPTY) of valid UTF-8 without NUL.
 * @ret points into @obj (NULL when absent or null). @ret_set: whether the
 * field was there (may be NULL).
 */
#define JSONIN_EMPTY 4u
int jsonin_string(struct reply *rep, const json_t *obj, const char *name, unsigned int flags,
		  size_t max_len, const char **ret, bool *ret_set);

/*
 * jsonin_id() - an object id: a decimal string "1".."4294967295" (ids are
 * strings, DESIGN §5); a JSON integer in that range is accepted too. @ret
 * gets the canonical text ("" when absent or null).
 */
int jsonin_id(struct reply *rep, const json_t *obj, const char *name, unsigned int flags,
	      char ret[REQUEST_ID_MAX], bool *ret_set);

/* jsonin_uint() - an integer in [@min, @max]. @ret untouched when absent. */
int jsonin_uint(struct reply *rep, const json_t *obj, const char *name, unsigned int flags,
		uint64_t min, uint64_t max, uint64_t *ret, bool *ret_set);

/*
 * jsonin_decimal() - a number, or a decimal string, in [@min, @max] with at
 * most @frac_digits fractional digits, as canonical decimal text in @ret
 * (size @size; "" when absent or null).
 */
int jsonin_decimal(struct reply *rep, const json_t *obj, const char *name, unsigned int flags,
		   double min, double max, unsigned int frac_digits, char *ret, size_t size,
		   bool *ret_set);

/* jsonin_bool() - true or false. @ret untouched when absent. */
int jsonin_bool(struct reply *rep, const json_t *obj, const char *name, unsigned int flags,
		bool *ret, bool *ret_set);

/*
 * jsonin_time() - an RFC 3339 date-time ("2026-11-28T10:05:00Z", with
 * fraction or offset), checked for real dates, copied to @ret ("" when
 * absent or null) for Postgres to read.
 */
int jsonin_time(struct reply *rep, const json_t *obj, const char *name, unsigned int flags,
		char ret[JSONIN_TIME_MAX], bool *ret_set);

/* jsonin_url() - an http:// or https:// URL of at most @max_len bytes, no spaces or controls. */
int jsonin_url(struct reply *rep, const json_t *obj, const char *name, unsigned int flags,
	       size_t max_len, const char **ret, bool *ret_set);

#endif /* TG_API_JSONIN_H */
