// SPDX-License-Identifier: BSD-2-Clause
/*
 * event.c - usage event encodings (see event.h, docs/event-format.md).
 *
 * The binary form is written byte by byte in little-endian order rather than
 * by casting a packed struct, so it reads the same on any host and the
 * layout in docs/event-format.md is the code below, offset for offset.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "config.h"
#include "decimal.h"
#include "event.h"

static const char *const method_names[] = {
	[TG_M_NONE] = "",     [TG_M_GET] = "GET",	  [TG_M_POST] = "POST",
	[TG_M_PUT] = "PUT",   [TG_M_PATCH] = "PATCH",	  [TG_M_DELETE] = "DELETE",
	[TG_M_HEAD] = "HEAD", [TG_M_OPTIONS] = "OPTIONS",
};

#define N_METHODS (sizeof(method_names) / sizeof(method_names[0]))

const char *event_method_name(unsigned int method)
{
	return method < N_METHODS ? method_names[method] : NULL;
}

const char *event_verdict_name(unsigned int verdict)
{
	return config_verdict_name(verdict);
}

static bool event_valid(const struct usage_event *ev)
{
	return ev->endpoint_len <= EVENT_ENDPOINT_MAX && ev->verdict < TG_V_COUNT &&
	       ev->method < N_METHODS;
}

int event_id(const struct usage_event *ev, char *buf, size_t size)
{
	char text[EVENT_ID_MAX], *p = text;
	size_t n;

	p = decimal_u64(p, ev->host_id);
	*p++ = '-';
	p = decimal_u64(p, ev->epoch);
	*p++ = '-';
	p = decimal_u64(p, ev->seq);
	n = (size_t)(p - text);
	if (n >= size) {
		if (size > 0)
			buf[0] = '\0';
		return -ENOSPC;
	}
	memcpy(buf, text, n);
	buf[n] = '\0';
	return (int)n;
}

/*
 * @ip as text at @p, which has EVENT_IP_MAX bytes (see event_format_ip()):
 * the end of the text, not NUL-terminated, or NULL with errno set. The JSON
 * writer below puts it straight into the event.
 */
static char *put_addr(char *p, const uint8_t ip[16])
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (!memcmp(ip, v4mapped, sizeof(v4mapped))) {
		for (int i = 12; i < 16; i++) {
			p = decimal_u64(p, ip[i]);
			if (i < 15)
				*p++ = '.';
		}
		return p;
	}
	if (!memcmp(ip, v4mapped, 10) && !ip[10] && !ip[11] && (ip[12] || ip[13]))
		/* ::/96 with a non-zero 7th group: glibc writes the deprecated
		 * IPv4-compatible "::1.2.3.4", RFC 5952 wants "::102:304" */
		return p + snprintf(p, EVENT_IP_MAX, "::%x:%x", ip[12] << 8 | ip[13],
				    ip[14] << 8 | ip[15]);
	if (!inet_ntop(AF_INET6, ip, p, EVENT_IP_MAX))
		return NULL;
	return p + strlen(p);
}

int event_format_ip(const uint8_t ip[16], char *buf, size_t size)
{
	char text[EVENT_IP_MAX], *end = put_addr(text, ip);
	size_t len;

	if (!end)
		return -errno;
	len = (size_t)(end - text);
	if (len >= size)
		return -ENOSPC;
	memcpy(buf, text, len);
	buf[len] = '\0';
	return (int)len;
}

/* Length of the valid UTF-8 sequence at s[0..len) (RFC 3629), 0 if none. */
static size_t utf8_len(const uint8_t *s, size_t len)
{
	uint8_t lo = 0x80, hi = 0xbf;
	size_t n;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (len < n)
		return 0;

	/* the second byte excludes overlong forms, surrogates and > U+10FFFF */
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/*
 * The JSON writer of event_to_json(). It writes into a buffer it knows has
 * EVENT_JSON_MAX bytes, so no append checks for room: the longest event (an
 * endpoint of EVENT_ENDPOINT_MAX bytes, each escaped to 6, and every number at
 * its widest) is under 1,500 bytes. Each put_*() returns the end of what it
 * wrote. This runs once per request: no printf, no strlen of literals.
 */
#define PUT_LIT(p, s) ((char *)memcpy((p), (s), sizeof(s) - 1) + sizeof(s) - 1)

static char *put_str(char *p, const char *s)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	return p + n;
}

static char *put_hex2(char *p, uint8_t b, const char *digits)
{
	p[0] = digits[b >> 4];
	p[1] = digits[b & 15];
	return p + 2;
}

/* @str as a JSON string (see event_to_json()). */
static char *put_json_string(char *p, const char *str, size_t len)
{
	const uint8_t *s = (const uint8_t *)str;
	size_t i = 0, n;

	*p++ = '"';
	while (i < len) {
		if (s[i] == '"' || s[i] == '\\') {
			*p++ = '\\';
			*p++ = (char)s[i++];
		} else if (s[i] < 0x20 || s[i] == 0x7f) {
			p = PUT_LIT(p, "\\u00");
			p = put_hex2(p, s[i++], "0123456789abcdef");
		} else if (s[i] < 0x80) {
			*p++ = (char)s[i++];
		} else if ((n = utf8_len(s + i, len - i)) > 0) {
			memcpy(p, s + i, n);
			p += n;
			i += n;
		} else {
			*p++ = '%';
			p = put_hex2(p, s[i++], "0123456789ABCDEF");
		}
	}
	*p++ = '"';
	return p;
}

/* "123": ids are decimal strings (DESIGN §5). */
static char *put_id(char *p, uint32_t v)
{
	*p++ = '"';
	p = decimal_u64(p, v);
	*p++ = '"';
	return p;
}

/* "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ"; the calendar part is cached per second
 * (events come in bursts of the same second, and gmtime_r is not free).
 * NULL for a time gmtime_r cannot take. */
static char *put_time(char *p, uint64_t time_ns)
{
	static __thread time_t cached_secs = (time_t)-1;
	static __thread char cached[32];
	static __thread size_t cached_len;
	time_t secs = (time_t)(time_ns / 1000000000);
	uint64_t frac = time_ns % 1000000000;
	struct tm tm;
	int n;

	if (secs != cached_secs) {
		if (!gmtime_r(&secs, &tm))
			return NULL;
		n = snprintf(cached, sizeof(cached), "\"%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900,
			     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
		if (n < 0 || (size_t)n >= sizeof(cached))
			return NULL;
		cached_secs = secs;
		cached_len = (size_t)n;
	}
	memcpy(p, cached, cached_len);
	p += cached_len;
	for (int i = 8; i >= 0; i--) {
		p[i] = (char)('0' + frac % 10);
		frac /= 10;
	}
	return PUT_LIT(p + 9, "Z\"");
}

static char *put_bool(char *p, bool b)
{
	return b ? PUT_LIT(p, "true") : PUT_LIT(p, "false");
}

/* Every event of one agent run starts with the same bytes, up to its
 * sequence number; they are kept per (host_id, epoch). */
static char *put_head(char *p, uint32_t host_id, uint32_t epoch)
{
	static __thread char cached[128];
	static __thread size_t cached_len;
	static __thread uint32_t cached_host, cached_epoch;
	char *q = cached;

	if (!cached_len || host_id != cached_host || epoch != cached_epoch) {
		q = PUT_LIT(q, "{\"specversion\":\"1.0\",\"type\":\"tollgate.request\"");
		q = PUT_LIT(q, ",\"source\":\"tollgate-agent/");
		q = decimal_u64(q, host_id);
		q = PUT_LIT(q, "\",\"id\":\"");
		q = decimal_u64(q, host_id); /* the event id (event_id()) */
		*q++ = '-';
		q = decimal_u64(q, epoch);
		*q++ = '-';
		cached_len = (size_t)(q - cached);
		cached_host = host_id;
		cached_epoch = epoch;
	}
	memcpy(p, cached, cached_len);
	return p + cached_len;
}

/* event_to_json() into @buf, which has EVENT_JSON_MAX bytes: the length, or
 * -EINVAL. */
static int event_to_json_max(const struct usage_event *ev, char *buf)
{
	char *p = buf;

	p = put_head(p, ev->host_id, ev->epoch);
	p = decimal_u64(p, ev->seq);
	p = PUT_LIT(p, "\",\"time\":");
	p = put_time(p, ev->time_ns);
	if (!p)
		return -EINVAL;
	p = PUT_LIT(p, ",\"subject\":");
	p = put_id(p, ev->consumer_id);
	p = PUT_LIT(p, ",\"datacontenttype\":\"application/json\",\"data\":{\"consumer_id\":");
	p = put_id(p, ev->consumer_id);
	p = PUT_LIT(p, ",\"plan_id\":");
	p = put_id(p, ev->plan_id);
	p = PUT_LIT(p, ",\"api_id\":");
	p = put_id(p, ev->api_id);
	p = PUT_LIT(p, ",\"route_id\":");
	p = put_id(p, ev->route_id);
	p = PUT_LIT(p, ",\"key_id\":");
	p = put_id(p, ev->key_id);
	p = PUT_LIT(p, ",\"endpoint\":");
	p = put_json_string(p, ev->endpoint, ev->endpoint_len);
	p = PUT_LIT(p, ",\"method\":\"");
	p = put_str(p, event_method_name(ev->method));
	p = PUT_LIT(p, "\",\"status\":");
	p = decimal_u64(p, ev->status);
	p = PUT_LIT(p, ",\"latency_us\":");
	p = decimal_u64(p, ev->latency_us);
	p = PUT_LIT(p, ",\"req_bytes\":");
	p = decimal_u64(p, ev->req_bytes);
	p = PUT_LIT(p, ",\"resp_bytes\":");
	p = decimal_u64(p, ev->resp_bytes);
	p = PUT_LIT(p, ",\"client_ip\":\"");
	p = put_addr(p, ev->client_ip);
	if (!p)
		return -EINVAL;
	p = PUT_LIT(p, "\",\"country\":\"");
	if (ev->country[0] >= 'A' && ev->country[0] <= 'Z' && ev->country[1] >= 'A' &&
	    ev->country[1] <= 'Z') {
		*p++ = ev->country[0];
		*p++ = ev->country[1];
	} else {
		p = PUT_LIT(p, "--");
	}
	p = PUT_LIT(p, "\",\"verdict\":\"");
	p = put_str(p, event_verdict_name(ev->verdict));
	p = PUT_LIT(p, "\",\"flags\":{\"unanswered\":");
	p = put_bool(p, ev->flags & TG_EF_UNANSWERED);
	p = PUT_LIT(p, ",\"summary\":");
	p = put_bool(p, ev->flags & TG_EF_SUMMARY);
	p = PUT_LIT(p, ",\"unattributed\":");
	p = put_bool(p, ev->flags & TG_EF_UNATTRIBUTED);
	p = PUT_LIT(p, "},\"count\":");
	p = decimal_u64(p, ev->count);
	p = PUT_LIT(p, "}}");
	*p = '\0';
	return (int)(p - buf);
}

int event_to_json(const struct usage_event *ev, char *buf, size_t size)
{
	char tmp[EVENT_JSON_MAX];
	int n;

	if (!event_valid(ev))
		return -EINVAL;
	if (size >= EVENT_JSON_MAX)
		return event_to_json_max(ev, buf);
	if (size == 0)
		return -ENOSPC;
	n = event_to_json_max(ev, tmp);
	if (n < 0 || (size_t)n >= size) {
		buf[0] = '\0';
		return n < 0 ? n : -ENOSPC;
	}
	memcpy(buf, tmp, (size_t)n + 1);
	return n;
}

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

int event_encode_v1(const struct usage_event *ev, uint8_t *buf, size_t size)
{
	size_t len;

	if (!event_valid(ev))
		return -EINVAL;
	len = EVENT_V1_HEADER_LEN + (size_t)ev->endpoint_len;
	if (size < len)
		return -ENOSPC;

	put_le16(buf + EVENT_V1_OFF_MAGIC, EVENT_V1_MAGIC);
	buf[EVENT_V1_OFF_VERSION] = EVENT_V1_VERSION;
	buf[EVENT_V1_OFF_VERDICT] = ev->verdict;
	put_le32(buf + EVENT_V1_OFF_FLAGS, ev->flags);
	put_le64(buf + EVENT_V1_OFF_TIME_NS, ev->time_ns);
	put_le32(buf + EVENT_V1_OFF_HOST_ID, ev->host_id);
	put_le32(buf + EVENT_V1_OFF_EPOCH, ev->epoch);
	put_le64(buf + EVENT_V1_OFF_SEQ, ev->seq);
	put_le32(buf + EVENT_V1_OFF_CONSUMER_ID, ev->consumer_id);
	put_le32(buf + EVENT_V1_OFF_PLAN_ID, ev->plan_id);
	put_le32(buf + EVENT_V1_OFF_API_ID, ev->api_id);
	put_le32(buf + EVENT_V1_OFF_ROUTE_ID, ev->route_id);
	put_le32(buf + EVENT_V1_OFF_KEY_ID, ev->key_id);
	put_le16(buf + EVENT_V1_OFF_STATUS, ev->status);
	buf[EVENT_V1_OFF_METHOD] = ev->method;
	buf[EVENT_V1_OFF_ENDPOINT_LEN] = ev->endpoint_len;
	put_le32(buf + EVENT_V1_OFF_LATENCY_US, ev->latency_us);
	put_le32(buf + EVENT_V1_OFF_REQ_BYTES, ev->req_bytes);
	put_le32(buf + EVENT_V1_OFF_RESP_BYTES, ev->resp_bytes);
	put_le32(buf + EVENT_V1_OFF_COUNT, ev->count);
	memcpy(buf + EVENT_V1_OFF_CLIENT_IP, ev->client_ip, 16);
	memcpy(buf + EVENT_V1_OFF_COUNTRY, ev->country, 2);
	put_le16(buf + EVENT_V1_OFF_RESERVED, 0);
	memcpy(buf + EVENT_V1_OFF_ENDPOINT, ev->endpoint, ev->endpoint_len);
	return (int)len;
}

int event_decode_v1(const uint8_t *buf, size_t len, struct usage_event *ret)
{
	struct usage_event ev;

	if (len < EVENT_V1_HEADER_LEN || get_le16(buf + EVENT_V1_OFF_MAGIC) != EVENT_V1_MAGIC ||
	    buf[EVENT_V1_OFF_VERSION] != EVENT_V1_VERSION)
		return -EBADMSG;
	memset(&ev, 0, sizeof(ev));
	ev.endpoint_len = buf[EVENT_V1_OFF_ENDPOINT_LEN];
	if (ev.endpoint_len > EVENT_ENDPOINT_MAX ||
	    len != EVENT_V1_HEADER_LEN + (size_t)ev.endpoint_len)
		return -EBADMSG;

	ev.verdict = buf[EVENT_V1_OFF_VERDICT];
	ev.flags = get_le32(buf + EVENT_V1_OFF_FLAGS);
	ev.time_ns = get_le64(buf + EVENT_V1_OFF_TIME_NS);
	ev.host_id = get_le32(buf + EVENT_V1_OFF_HOST_ID);
	ev.epoch = get_le32(buf + EVENT_V1_OFF_EPOCH);
	ev.seq = get_le64(buf + EVENT_V1_OFF_SEQ);
	ev.consumer_id = get_le32(buf + EVENT_V1_OFF_CONSUMER_ID);
	ev.plan_id = get_le32(buf + EVENT_V1_OFF_PLAN_ID);
	ev.api_id = get_le32(buf + EVENT_V1_OFF_API_ID);
	ev.route_id = get_le32(buf + EVENT_V1_OFF_ROUTE_ID);
	ev.key_id = get_le32(buf + EVENT_V1_OFF_KEY_ID);
	ev.status = get_le16(buf + EVENT_V1_OFF_STATUS);
	ev.method = buf[EVENT_V1_OFF_METHOD];
	ev.latency_us = get_le32(buf + EVENT_V1_OFF_LATENCY_US);
	ev.req_bytes = get_le32(buf + EVENT_V1_OFF_REQ_BYTES);
	ev.resp_bytes = get_le32(buf + EVENT_V1_OFF_RESP_BYTES);
	ev.count = get_le32(buf + EVENT_V1_OFF_COUNT);
	memcpy(ev.client_ip, buf + EVENT_V1_OFF_CLIENT_IP, 16);
	memcpy(ev.country, buf + EVENT_V1_OFF_COUNTRY, 2);
	memcpy(ev.endpoint, buf + EVENT_V1_OFF_ENDPOINT, ev.endpoint_len);
	ev.endpoint[ev.endpoint_len] = '\0';
	if (!event_valid(&ev))
		return -EBADMSG;

	memcpy(ret, &ev, sizeof(ev));
	return 0;
}

/* --- CloudEvents JSON, read back ----------------------------------------- */

#include <jansson.h>

struct json_in {
	char *err;
	size_t err_len;
};

static __attribute__((format(printf, 2, 3))) int json_fail(struct json_in *in, const char *fmt,
							   ...)
{
	va_list ap;

	if (in->err_len) {
		va_start(ap, fmt);
		vsnprintf(in->err, in->err_len, fmt, ap);
		va_end(ap);
	}
	return -EBADMSG;
}

static int json_decimal(const char *s, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;

	if (!*s || (s[0] == '0' && s[1]))
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (max - (uint64_t)(*s - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*ret = v;
	return 0;
}

static int json_id_field(struct json_in *in, json_t *data, const char *name, uint32_t *ret)
{
	json_t *v = json_object_get(data, name);
	uint64_t n;

	if (!json_is_string(v) || json_decimal(json_string_value(v), UINT32_MAX, &n))
		return json_fail(in, "data.%s: not a decimal string id", name);
	*ret = (uint32_t)n;
	return 0;
}

static int json_num_field(struct json_in *in, json_t *data, const char *name, uint64_t max,
			  uint64_t *ret)
{
	json_t *v = json_object_get(data, name);

	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > max)
		return json_fail(in, "data.%s: not a number 0..%" PRIu64, name, max);
	*ret = (uint64_t)json_integer_value(v);
	return 0;
}

/* "2026-11-28T20:01:02.123456789Z" -> ns since the epoch */
static int json_time(const char *s, uint64_t *ret)
{
	struct tm tm = { 0 };
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	uint64_t ns = 0;
	int digits = 0;
	time_t t;

	if (!p || tm.tm_year < 70 || tm.tm_year > 362)
		return -EINVAL;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++) {
			if (++digits > 9)
				return -EINVAL;
			ns = ns * 10 + (uint64_t)(*p - '0');
		}
		if (!digits)
			return -EINVAL;
		for (int i = digits; i < 9; i++)
			ns *= 10;
	}
	if (strcmp(p, "Z"))
		return -EINVAL;
	t = timegm(&tm);
	if (t < 0 || (uint64_t)t > UINT64_MAX / 1000000000ull - 1)
		return -EINVAL;
	*ret = (uint64_t)t * 1000000000ull + ns;
	return 0;
}

static int json_method(const char *name)
{
	for (unsigned int i = 0; i < N_METHODS; i++)
		if (!strcmp(name, method_names[i]))
			return (int)i;
	return -1;
}

static int json_verdict(const char *name)
{
	for (unsigned int i = 0; i < TG_V_COUNT; i++)
		if (!strcmp(name, config_verdict_name(i)))
			return (int)i;
	return -1;
}

static int event_from_object(struct json_in *in, json_t *root, struct usage_event *ev)
{
	static const struct {
		const char *name;
		uint32_t bit;
	} flag_names[] = {
		{ "unanswered", TG_EF_UNANSWERED },
		{ "summary", TG_EF_SUMMARY },
		{ "unattributed", TG_EF_UNATTRIBUTED },
	};
	const char *id, *s;
	json_t *data, *v, *flags;
	unsigned int host, epoch;
	unsigned long long seq;
	uint64_t n;
	int pos = 0, m;

	if (!json_is_object(root))
		return json_fail(in, "not a JSON object");
	s = json_string_value(json_object_get(root, "specversion"));
	if (!s || strcmp(s, "1.0"))
		return json_fail(in, "specversion: not \"1.0\"");
	s = json_string_value(json_object_get(root, "type"));
	if (!s || strcmp(s, "tollgate.request"))
		return json_fail(in, "type: not \"tollgate.request\"");
	id = json_string_value(json_object_get(root, "id"));
	if (!id || sscanf(id, "%u-%u-%llu%n", &host, &epoch, &seq, &pos) != 3 || id[pos] ||
	    !(id[0] >= '0' && id[0] <= '9'))
		return json_fail(in, "id: not \"{host_id}-{epoch}-{seq}\"");
	ev->host_id = host;
	ev->epoch = epoch;
	ev->seq = seq;
	s = json_string_value(json_object_get(root, "time"));
	if (!s || json_time(s, &ev->time_ns))
		return json_fail(in, "time: not an RFC 3339 UTC time");
	data = json_object_get(root, "data");
	if (!json_is_object(data))
		return json_fail(in, "data: not an object");
	if (json_id_field(in, data, "consumer_id", &ev->consumer_id) ||
	    json_id_field(in, data, "plan_id", &ev->plan_id) ||
	    json_id_field(in, data, "api_id", &ev->api_id) ||
	    json_id_field(in, data, "route_id", &ev->route_id) ||
	    json_id_field(in, data, "key_id", &ev->key_id))
		return -EBADMSG;
	if (json_num_field(in, data, "status", UINT16_MAX, &n))
		return -EBADMSG;
	ev->status = (uint16_t)n;
	if (json_num_field(in, data, "latency_us", UINT32_MAX, &n))
		return -EBADMSG;
	ev->latency_us = (uint32_t)n;
	if (json_num_field(in, data, "req_bytes", UINT32_MAX, &n))
		return -EBADMSG;
	ev->req_bytes = (uint32_t)n;
	if (json_num_field(in, data, "resp_bytes", UINT32_MAX, &n))
		return -EBADMSG;
	ev->resp_bytes = (uint32_t)n;
	if (json_num_field(in, data, "count", UINT32_MAX, &n))
		return -EBADMSG;
	ev->count = (uint32_t)n;
	s = json_string_value(json_object_get(data, "method"));
	if (!s || (m = json_method(s)) < 0)
		return json_fail(in, "data.method: not a method name");
	ev->method = (uint8_t)m;
	s = json_string_value(json_object_get(data, "verdict"));
	if (!s || (m = json_verdict(s)) < 0)
		return json_fail(in, "data.verdict: not a verdict name");
	ev->verdict = (uint8_t)m;
	v = json_object_get(data, "endpoint");
	if (!json_is_string(v) || json_string_length(v) > EVENT_ENDPOINT_MAX ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return json_fail(in, "data.endpoint: not a string of at most %d bytes",
				 EVENT_ENDPOINT_MAX);
	ev->endpoint_len = (uint8_t)json_string_length(v);
	memcpy(ev->endpoint, json_string_value(v), ev->endpoint_len);
	ev->endpoint[ev->endpoint_len] = '\0';
	s = json_string_value(json_object_get(data, "client_ip"));
	if (!s)
		return json_fail(in, "data.client_ip: not an address");
	if (inet_pton(AF_INET6, s, ev->client_ip) != 1) {
		struct in_addr a4;

		if (inet_pton(AF_INET, s, &a4) != 1)
			return json_fail(in, "data.client_ip: not an address");
		memset(ev->client_ip, 0, 10);
		ev->client_ip[10] = ev->client_ip[11] = 0xff;
		memcpy(ev->client_ip + 12, &a4, 4);
	}
	s = json_string_value(json_object_get(data, "country"));
	if (!s || strlen(s) != 2)
		return json_fail(in, "data.country: not 2 letters");
	memcpy(ev->country, s, 2);
	flags = json_object_get(data, "flags");
	if (!json_is_object(flags))
		return json_fail(in, "data.flags: not an object");
	for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++) {
		v = json_object_get(flags, flag_names[i].name);
		if (!json_is_boolean(v))
			return json_fail(in, "data.flags.%s: not a boolean", flag_names[i].name);
		if (json_is_true(v))
			ev->flags |= flag_names[i].bit;
	}
	return 0;
}

int event_from_json(const char *json, size_t len, struct usage_event *ret, char *err,
		    size_t err_len)
{
	struct json_in in = { err, err_len };
	struct usage_event ev = { 0 };
	json_error_t jerr;
	json_t *root;
	int r;

	if (err_len)
		err[0] = '\0';
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return json_fail(&in, "not JSON: %s", jerr.text);
	r = event_from_object(&in, root, &ev);
	json_decref(root);
	if (r)
		return r;
	*ret = ev;
	return 0;
}
