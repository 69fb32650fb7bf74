/* SPDX-License-Identifier: BSD-2-Clause */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dashboard-api/jsonin.h"

int jsonin_only(struct reply *rep, const json_t *obj, const char *const *allowed)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)obj, key, v) {
		size_t i;

		for (i = 0; allowed[i] && strcmp(allowed[i], key); i++)
			;
		if (!allowed[i])
			return reply_error(rep, 400, "invalid_request", key,
					   "%s: unknown parameter", key);
	}
	return 0;
}

/*
 * The field @name of @obj: 1 and *ret_v when there is a non-null value; 0
 * when absent or null and that is allowed; -EINVAL (replied) otherwise.
 */
static int field(struct reply *rep, const json_t *obj, const char *name, unsigned int flags,
		 json_t **ret_v, bool *ret_set)
{
	json_t *v = json_object_get(obj, name);

	if (ret_set)
		*ret_set = v != NULL;
	if (!v) {
		if (flags & JSONIN_REQUIRED)
			return reply_error(rep, 400, "invalid_request", name, "%s: required", name);
		return 0;
	}
	if (json_is_null(v)) {
		if (!(flags & JSONIN_NULLABLE))
			return reply_error(rep, 400, "invalid_request", name,
					   "%s: must not be null", name);
		return 0;
	}
	*ret_v = v;
	return 1;
}

int jsonin_string(struct reply *rep, const json_t *obj, const char *name, unsigned int flags,
		  size_t max_len, const char **ret, bool *ret_set)
{
	json_t *v;
	int r = field(rep, obj, name, flags, &v, ret_set);
	size_t len;

	*ret = NULL;
	if (r <= 0)
		return r;
	if (!json_is_string(v))
		return reply_error(rep, 400, "invalid_request", name, "%s: must be a string", name);
	len = json_string_length(v);
	if (memchr(json_string_value(v), '\0', len))
		return reply_error(rep, 400, "invalid_request", name,
				   "%s: must not contain NUL characters", name);
	if (len > max_len || (len == 0 && !(flags & JSONIN_EMPTY)))
		return reply_error(rep, 400, "invalid_request", name,
				   "%s: must be %s1 to %zu bytes long", name,
				   flags & JSONIN_EMPTY ? "0 or " : "", max_len);
	*ret = json_string_value(v);
	return 0;
}

static bool id_text(const char *s, char ret[REQUEST_ID_MAX])
{
	size_t len = strlen(s), i;
	unsigned long long v;

	for (i = 0; i < len && isdigit((unsigned char)s[i]); i++)
		;
	if (len == 0 || len > 10 || i != len || s[0] == '0')
		return false;
	v = strtoull(s, NULL, 10);
	if (v > 4294967295ULL)
		return false;
	snprintf(ret, REQUEST_ID_MAX, "%llu", v);
	return true;
}

int jsonin_id(struct reply *rep, const json_t *obj, const char *name, unsigned int flags,
	      char ret[REQUEST_ID_MAX], bool *ret_set)
{
	json_t *v;
	int r = field(rep, obj, name, flags, &v, ret_set);

	ret[0] = '\0';
	if (r <= 0)
		return r;
	if (json_is_integer(v) && json_integer_value(v) >= 1 &&
	    json_integer_value(v) <= 4294967295LL) {
		snprintf(ret, REQUEST_ID_MAX, "%lld", (long long)json_integer_value(v));
		return 0;
	}
	if (json_is_string(v) && id_text(json_string_value(v), ret))
		return 0;
	ret[0] = '\0';
	return reply_error(rep, 400, "invalid_request", name,
			   "%s: must be an id, a decimal string from \"1\" to \"4294967295\"",
			   name);
}

int jsonin_uint(struct reply *rep, const json_t *obj, const char *name, unsigned int flags,
		uint64_t min, uint64_t max, uint64_t *ret, bool *ret_set)
{
	json_t *v;
	int r = field(rep, obj, name, flags, &v, ret_set);

	if (r <= 0)
		return r;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) < min || (uint64_t)json_integer_value(v) > max)
		return reply_error(rep, 400, "invalid_request", name,
				   "%s: must be an integer from %llu to %llu", name,
				   (unsigned long long)min, (unsigned long long)max);
	*ret = (uint64_t)json_integer_value(v);
	return 0;
}

/* a plain decimal: digits, at most one '.', at most @frac fractional digits */
static bool decimal_text(const char *s, unsigned int frac)
{
	const char *dot = strchr(s, '.');
	size_t i, len = strlen(s);

	if (len == 0 || len > 40)
		return false;
	for (i = 0; i < len; i++)
		if (!isdigit((unsigned char)s[i]) && s + i != dot)
			return false;
	if (dot && (dot == s || !dot[1] || strlen(dot + 1) > frac))
		return false;
	return true;
}

int jsonin_decimal(struct reply *rep, const json_t *obj, const char *name, unsigned int flags,
		   double min, double max, unsigned int frac_digits, char *ret, size_t size,
		   bool *ret_set)
{
	json_t *v;
	int r = field(rep, obj, name, flags, &v, ret_set);
	char buf[64];
	double d;

	ret[0] = '\0';
	if (r <= 0)
		return r;
	if (json_is_integer(v)) {
		snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
	} else if (json_is_real(v)) {
		/* shortest text that reads back as the same double */
		for (int prec = 1; prec <= 17; prec++) {
			snprintf(buf, sizeof(buf), "%.*g", prec, json_real_value(v));
			if (strtod(buf, NULL) == json_real_value(v))
				break;
		}
		if (strchr(buf, 'e') || strchr(buf, 'E'))
			snprintf(buf, sizeof(buf), "%.*f", frac_digits, json_real_value(v));
	} else if (json_is_string(v) && json_string_length(v) < sizeof(buf)) {
		snprintf(buf, sizeof(buf), "%s", json_string_value(v));
	} else {
		goto bad;
	}
	if (!decimal_text(buf, frac_digits))
		goto bad;
	d = strtod(buf, NULL);
	if (!(d >= min && d <= max) || strlen(buf) >= size)
		goto bad;
	snprintf(ret, size, "%s", buf);
	return 0;
bad:
	return reply_error(rep, 400, "invalid_request", name,
			   "%s: must be a number from %g to %g with at most %u decimals", name, min,
			   max, frac_digits);
}

int jsonin_bool(struct reply *rep, const json_t *obj, const char *name, unsigned int flags,
		bool *ret, bool *ret_set)
{
	json_t *v;
	int r = field(rep, obj, name, flags, &v, ret_set);

	if (r <= 0)
		return r;
	if (!json_is_boolean(v))
		return reply_error(rep, 400, "invalid_request", name, "%s: must be true or false",
				   name);
	*ret = json_is_true(v);
	return 0;
}

static int digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* RFC 3339 date-time, full form */
static bool rfc3339_valid(const char *s)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, mo, d, h, mi, sec;
	const char *p;

	if (strlen(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
	    s[13] != ':' || s[16] != ':')
		return false;
	y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
	h = digits(s + 11, 2), mi = digits(s + 14, 2), sec = digits(s + 17, 2);
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h < 0 || h > 23 ||
	    mi < 0 || mi > 59 || sec < 0 || sec > 59)
		return false;
	if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return false;
	p = s + 19;
	if (*p == '.') {
		int n = 0;

		for (p++; isdigit((unsigned char)*p); p++)
			n++;
		if (n < 1 || n > 6)
			return false;
	}
	if ((*p == 'Z' || *p == 'z') && !p[1])
		return true;
	if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
		int oh = digits(p + 1, 2), om = digits(p + 4, 2);

		return oh >= 0 && oh <= 23 && om >= 0 && om <= 59;
	}
	return false;
}

int jsonin_time(struct reply *rep, const json_t *obj, const char *name, unsigned int flags,
		char ret[JSONIN_TIME_MAX], bool *ret_set)
{
	json_t *v;
	int r = field(rep, obj, name, flags, &v, ret_set);

	ret[0] = '\0';
	if (r <= 0)
		return r;
	if (!json_is_string(v) || json_string_length(v) >= JSONIN_TIME_MAX ||
	    !rfc3339_valid(json_string_value(v)))
		return reply_error(rep, 400, "invalid_request", name,
				   "%s: must be an RFC 3339 time such as \"2026-11-28T10:05:00Z\"",
				   name);
	snprintf(ret, JSONIN_TIME_MAX, "%s", json_string_value(v));
	return 0;
}

int jsonin_url(struct reply *rep, const json_t *obj, const char *name, unsigned int flags,
	       size_t max_len, const char **ret, bool *ret_set)
{
	int r = jsonin_string(rep, obj, name, flags, max_len, ret, ret_set);
	const char *s = *ret, *host;

	if (r || !s)
		return r;
	host = !strncmp(s, "http://", 7) ? s + 7 : !strncmp(s, "https://", 8) ? s + 8 : NULL;
	if (host && *host && *host != '/') {
		for (const char *p = s; *p; p++)
			if ((unsigned char)*p <= ' ' || *p == 0x7f)
				goto bad;
		return 0;
	}
bad:
	*ret = NULL;
	return reply_error(rep, 400, "invalid_request", name, "%s: must be an http(s) URL", name);
}
