// SPDX-License-Identifier: BSD-2-Clause
/*
 * endpoint.c - endpoint templates (see endpoint.h).
 *
 * The agent runs this for every drained event, so it is one pass over at most
 * a few hundred bytes, without allocation.
 */
#include <stdbool.h>
#include <string.h>

#include "endpoint.h"

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool all_digits(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!is_digit(s[i]))
			return false;
	return len > 0;
}

static bool all_hex(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!is_hex(s[i]))
			return false;
	return len > 0;
}

/* 8-4-4-4-12 hex digits. */
static bool is_uuid(const char *s, size_t len)
{
	if (len != 36)
		return false;
	for (size_t i = 0; i < len; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !is_hex(s[i]))
			return false;
	}
	return true;
}

static bool is_id(const char *s, size_t len)
{
	return all_digits(s, len) || is_uuid(s, len) ||
	       (len >= ENDPOINT_HEX_ID_MIN && all_hex(s, len));
}

/* Append @len bytes of @s, as many as fit. */
static void put(char *out, size_t cap, size_t *n, const char *s, size_t len)
{
	if (len > cap - *n)
		len = cap - *n;
	memcpy(out + *n, s, len);
	*n += len;
}

size_t endpoint_normalize(const char *path, size_t len, char *out, size_t out_size)
{
	size_t cap, n = 0, end;

	if (out_size == 0)
		return 0;
	cap = out_size - 1 < ENDPOINT_MAX ? out_size - 1 : ENDPOINT_MAX;

	end = path ? strnlen(path, len) : 0;
	for (size_t i = 0; i < end; i++) {
		if (path[i] == '?' || path[i] == '#') {
			end = i;
			break;
		}
	}

	/* absolute-form: "scheme://authority/path" -> "/path" */
	for (size_t i = 0; i + 2 < end && path[i] != '/'; i++) {
		if (path[i] == ':' && path[i + 1] == '/' && path[i + 2] == '/') {
			const char *slash = memchr(path + i + 3, '/', end - i - 3);

			if (!slash) {
				end = 0;
				break;
			}
			end -= (size_t)(slash - path);
			path = slash;
			break;
		}
	}

	if (end == 0)
		put(out, cap, &n, "/", 1);

	for (size_t pos = 0; pos < end && n < cap;) {
		const char *seg = path + pos;
		const char *slash = memchr(seg, '/', end - pos);
		size_t seg_len = slash ? (size_t)(slash - seg) : end - pos;

		if (is_id(seg, seg_len))
			put(out, cap, &n, ENDPOINT_ID, strlen(ENDPOINT_ID));
		else
			put(out, cap, &n, seg, seg_len);
		pos += seg_len;
		if (slash) {
			put(out, cap, &n, "/", 1);
			pos++;
		}
	}
	out[n] = '\0';
	return n;
}
