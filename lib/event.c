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

int event_format_ip(const uint8_t ip[16], char *buf, size_t size)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	char text[EVENT_IP_MAX];
	size_t len;

	if (!memcmp(ip, v4mapped, sizeof(v4mapped))) {
		char *p = text;

		for (int i = 12; i < 16; i++) {
			p = decimal_u64(p, ip[i]);
			*p++ = i < 15 ? '.' : '\0';
		}
	} else if (!memcmp(ip, v4mapped, 10) && !ip[10] && !ip[11] && (ip[12] || ip[13])) {
		/* ::/96 with a non-zero 7th group: glibc writes the deprecated
		 * IPv4-compatible "::1.2.3.4", RFC 5952 wants "::102:304" */
		snprintf(text, sizeof(text), "::%x:%x", ip[12] << 8 | ip[13], ip[14] << 8 | ip[15]);
	} else if (!inet_ntop(AF_INET6, ip, text, sizeof(text))) {
		return -errno;
	}

	len = strlen(text);
	if (len >= size)
		return -ENOSPC;
	memcpy(buf, text, len + 1);
	return (int)len;
}

/* A JSON writer into a fixed buffer; overflow is sticky and checked once. */
struct json_out {
	char *buf;
	size_t size;
	size_t len;
	bool overflow;
};

static void out_bytes(struct json_out *out, const char *s, size_t len)
{
	if (out->overflow || len >= out->size - out->len) {
		out->overflow = true;
		return;
	}
	memcpy(out->buf + out->len, s, len);
	out->len += len;
}

static void out_str(struct json_out *out, const char *s)
{
	out_bytes(out, s, strlen(s));
}

static __attribute__((format(printf, 2, 3))) void out_fmt(struct json_out *out, const char *fmt,
							  ...)
{
	char tmp[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		out->overflow = true;
		return;
	}
	out_bytes(out, tmp, (size_t)n);
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

static void out_json_string(struct json_out *out, const char *str, size_t len)
{
	const uint8_t *s = (const uint8_t *)str;

	out_bytes(out, "\"", 1);
	for (size_t i = 0; i < len;) {
		size_t n;

		if (s[i] == '"' || s[i] == '\\') {
			out_bytes(out, "\\", 1);
			out_bytes(out, (const char *)&s[i], 1);
			i++;
		} else if (s[i] < 0x20 || s[i] == 0x7f) {
			out_fmt(out, "\\u%04x", s[i]);
			i++;
		} else if (s[i] < 0x80) {
			out_bytes(out, (const char *)&s[i], 1);
			i++;
		} else if ((n = utf8_len(s + i, len - i)) > 0) {
			out_bytes(out, (const char *)&s[i], n);
			i += n;
		} else {
			out_fmt(out, "%%%02X", s[i]);
			i++;
		}
	}
	out_bytes(out, "\"", 1);
}

/* Decimal digits of v, no padding. */
static void out_u64(struct json_out *out, uint64_t v)
{
	char tmp[DECIMAL_U64_MAX];

	out_bytes(out, tmp, (size_t)(decimal_u64(tmp, v) - tmp));
}

/* ,"name":"123" - ids are decimal strings (DESIGN §5). */
static void out_id_field(struct json_out *out, const char *name, uint32_t v)
{
	out_str(out, name);
	out_bytes(out, "\"", 1);
	out_u64(out, v);
	out_bytes(out, "\"", 1);
}

/* ,"name":123 */
static void out_num_field(struct json_out *out, const char *name, uint64_t v)
{
	out_str(out, name);
	out_u64(out, v);
}

/* "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ"; the calendar part is cached per second
 * (events come in bursts of the same second, and gmtime_r is not free). */
static void out_time(struct json_out *out, uint64_t time_ns)
{
	static __thread time_t cached_secs = (time_t)-1;
	static __thread char cached[32];
	time_t secs = (time_t)(time_ns / 1000000000);
	uint64_t frac = time_ns % 1000000000;
	char digits[9];
	struct tm tm;

	if (secs != cached_secs) {
		if (!gmtime_r(&secs, &tm) ||
		    snprintf(cached, sizeof(cached), "\"%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900,
			     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec) >= (int)sizeof(cached)) {
			out->overflow = true;
			return;
		}
		cached_secs = secs;
	}
	out_str(out, cached);
	for (int i = 8; i >= 0; i--) {
		digits[i] = (char)('0' + frac % 10);
		frac /= 10;
	}
	out_bytes(out, digits, sizeof(digits));
	out_bytes(out, "Z\"", 2);
}

static const char *json_bool(bool b)
{
	return b ? "true" : "false";
}

int event_to_json(const struct usage_event *ev, char *buf, size_t size)
{
	struct json_out out = { .buf = buf, .size = size };
	char id[EVENT_ID_MAX], ip[EVENT_IP_MAX], country[3] = "--";
	int r;

	if (!event_valid(ev))
		return -EINVAL;
	if (size == 0)
		return -ENOSPC;
	event_id(ev, id, sizeof(id));
	r = event_format_ip(ev->client_ip, ip, sizeof(ip));
	if (r < 0)
		return r;
	if (ev->country[0] >= 'A' && ev->country[0] <= 'Z' && ev->country[1] >= 'A' &&
	    ev->country[1] <= 'Z')
		memcpy(country, ev->country, 2);

	/* hand-rolled rather than printf: this runs once per request */
	out_str(&out, "{\"specversion\":\"1.0\",\"type\":\"tollgate.request\"");
	out_str(&out, ",\"source\":\"tollgate-agent/");
	out_u64(&out, ev->host_id);
	out_str(&out, "\",\"id\":\"");
	out_str(&out, id);
	out_str(&out, "\",\"time\":");
	out_time(&out, ev->time_ns);
	out_id_field(&out, ",\"subject\":", ev->consumer_id);
	out_str(&out, ",\"datacontenttype\":\"application/json\",\"data\":{");
	out_id_field(&out, "\"consumer_id\":", ev->consumer_id);
	out_id_field(&out, ",\"plan_id\":", ev->plan_id);
	out_id_field(&out, ",\"api_id\":", ev->api_id);
	out_id_field(&out, ",\"route_id\":", ev->route_id);
	out_id_field(&out, ",\"key_id\":", ev->key_id);
	out_str(&out, ",\"endpoint\":");
	out_json_string(&out, ev->endpoint, ev->endpoint_len);
	out_str(&out, ",\"method\":\"");
	out_str(&out, event_method_name(ev->method));
	out_num_field(&out, "\",\"status\":", ev->status);
	out_num_field(&out, ",\"latency_us\":", ev->latency_us);
	out_num_field(&out, ",\"req_bytes\":", ev->req_bytes);
	out_num_field(&out, ",\"resp_bytes\":", ev->resp_bytes);
	out_str(&out, ",\"client_ip\":\"");
	out_str(&out, ip);
	out_str(&out, "\",\"country\":\"");
	out_str(&out, country);
	out_str(&out, "\",\"verdict\":\"");
	out_str(&out, event_verdict_name(ev->verdict));
	out_str(&out, "\",\"flags\":{\"unanswered\":");
	out_str(&out, json_bool(ev->flags & TG_EF_UNANSWERED));
	out_str(&out, ",\"summary\":");
	out_str(&out, json_bool(ev->flags & TG_EF_SUMMARY));
	out_str(&out, ",\"unattributed\":");
	out_str(&out, json_bool(ev->flags & TG_EF_UNATTRIBUTED));
	out_num_field(&out, "},\"count\":", ev->count);
	out_str(&out, "}}");

	if (out.overflow) {
		buf[0] = '\0';
		return -ENOSPC;
	}
	buf[out.len] = '\0';
	return (int)out.len;
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
