// SPDX-License-Identifier: BSD-2-Clause
/*
 * test-event.c - usage event encodings (lib/event.h): the CloudEvents JSON that
 * the events file and Kafka carry, parsed back with jansson field by field, and
 * the binary v1 record byte for byte against the layout of DESIGN §5.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/event.h"

/* The example of docs/event-format.md. */
static const char golden_v1_hex[] =
	"544701000000000015cd853dfe9c971707000000030000002a000000000000000c00000002000000"
	"05000000090000001f000000c800010f2a0700009c010000001400000100000000000000000000"
	"000000ffffc0000201444500002f76312f6f72646572732f7b69647d";

static void set_endpoint(struct usage_event *ev, const char *s, size_t len)
{
	memcpy(ev->endpoint, s, len);
	ev->endpoint[len] = '\0';
	ev->endpoint_len = (uint8_t)len;
}

static void set_ipv4(uint8_t ip[16], uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	memset(ip, 0, 16);
	ip[10] = 0xff;
	ip[11] = 0xff;
	ip[12] = a;
	ip[13] = b;
	ip[14] = c;
	ip[15] = d;
}

/* The example event of docs/event-format.md. */
static void example_event(struct usage_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->time_ns = 1700000000123456789ULL;
	ev->host_id = 7;
	ev->epoch = 3;
	ev->seq = 42;
	ev->consumer_id = 12;
	ev->plan_id = 2;
	ev->api_id = 5;
	ev->route_id = 9;
	ev->key_id = 31;
	ev->status = 200;
	ev->method = TG_M_GET;
	ev->verdict = TG_V_ADMITTED;
	ev->flags = 0;
	ev->latency_us = 1834;
	ev->req_bytes = 412;
	ev->resp_bytes = 5120;
	ev->count = 1;
	set_ipv4(ev->client_ip, 192, 0, 2, 1);
	memcpy(ev->country, "DE", 2);
	set_endpoint(ev, "/v1/orders/{id}", 15);
}

/* Every field distinct and wide, so a misplaced byte shows. */
static void wide_event(struct usage_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->time_ns = 0x0102030405060708ULL;
	ev->host_id = 0x11121314;
	ev->epoch = 0x21222324;
	ev->seq = 0x3132333435363738ULL;
	ev->consumer_id = 0x41424344;
	ev->plan_id = 0x51525354;
	ev->api_id = 0x61626364;
	ev->route_id = 0x71727374;
	ev->key_id = 0x81828384;
	ev->status = 0x9192;
	ev->method = TG_M_OPTIONS;
	ev->verdict = TG_V_QUOTA_EXHAUSTED;
	ev->flags = TG_EF_UNANSWERED | TG_EF_SUMMARY | TG_EF_UNATTRIBUTED;
	ev->latency_us = 0xa1a2a3a4;
	ev->req_bytes = 0xb1b2b3b4;
	ev->resp_bytes = 0xc1c2c3c4;
	ev->count = 0xd1d2d3d4;
	for (int i = 0; i < 16; i++)
		ev->client_ip[i] = (uint8_t)(0xe0 + i);
	memcpy(ev->country, "FR", 2);
	set_endpoint(ev, "/v2/items/{id}/parts", 20);
}

static json_t *to_json(const struct usage_event *ev, char *buf, size_t size)
{
	json_error_t error;
	json_t *root;
	int n;

	n = event_to_json(ev, buf, size);
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(buf));
	assert_null(strchr(buf, '\n'));
	root = json_loads(buf, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &error);
	if (!root)
		fail_msg("invalid JSON: %s: %s", error.text, buf);
	assert_true(json_is_object(root));
	return root;
}

static const char *get_string(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_string(v))
		fail_msg("'%s' is not a string", key);
	return json_string_value(v);
}

static json_int_t get_int(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_integer(v))
		fail_msg("'%s' is not an integer", key);
	return json_integer_value(v);
}

static bool get_bool(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_boolean(v))
		fail_msg("'%s' is not a boolean", key);
	return json_is_true(v);
}

/* ---- names and ids ------------------------------------------------------ */

static void test_method_names(void **state)
{
	(void)state;
	assert_string_equal(event_method_name(TG_M_NONE), "");
	assert_string_equal(event_method_name(TG_M_GET), "GET");
	assert_string_equal(event_method_name(TG_M_POST), "POST");
	assert_string_equal(event_method_name(TG_M_PUT), "PUT");
	assert_string_equal(event_method_name(TG_M_PATCH), "PATCH");
	assert_string_equal(event_method_name(TG_M_DELETE), "DELETE");
	assert_string_equal(event_method_name(TG_M_HEAD), "HEAD");
	assert_string_equal(event_method_name(TG_M_OPTIONS), "OPTIONS");
	assert_null(event_method_name(8));
	assert_null(event_method_name(255));
}

static void test_verdict_names(void **state)
{
	(void)state;
	assert_string_equal(event_verdict_name(TG_V_ADMITTED), "admitted");
	assert_string_equal(event_verdict_name(TG_V_MISSING_KEY), "missing_key");
	assert_string_equal(event_verdict_name(TG_V_UNKNOWN_KEY), "unknown_key");
	assert_string_equal(event_verdict_name(TG_V_REVOKED_KEY), "revoked_key");
	assert_string_equal(event_verdict_name(TG_V_SUSPENDED), "suspended");
	assert_string_equal(event_verdict_name(TG_V_FORBIDDEN_API), "forbidden_api");
	assert_string_equal(event_verdict_name(TG_V_OVER_LIMIT), "over_limit");
	assert_string_equal(event_verdict_name(TG_V_QUOTA_EXHAUSTED), "quota_exhausted");
	assert_null(event_verdict_name(TG_V_COUNT));
}

static void test_event_id(void **state)
{
	struct usage_event ev;
	char buf[EVENT_ID_MAX];

	(void)state;
	example_event(&ev);
	assert_int_equal(event_id(&ev, buf, sizeof(buf)), 6);
	assert_string_equal(buf, "7-3-42");

	ev.host_id = UINT32_MAX;
	ev.epoch = UINT32_MAX;
	ev.seq = UINT64_MAX;
	assert_int_equal(event_id(&ev, buf, sizeof(buf)), EVENT_ID_MAX - 1);
	assert_string_equal(buf, "4294967295-4294967295-18446744073709551615");

	ev.host_id = 0;
	ev.epoch = 0;
	ev.seq = 0;
	assert_int_equal(event_id(&ev, buf, sizeof(buf)), 5);
	assert_string_equal(buf, "0-0-0");

	assert_int_equal(event_id(&ev, buf, 5), -ENOSPC);
	assert_string_equal(buf, "");
	assert_int_equal(event_id(&ev, buf, 6), 5);
	assert_int_equal(event_id(&ev, NULL, 0), -ENOSPC);
}

static void check_ip(const uint8_t ip[16], const char *expected)
{
	char buf[EVENT_IP_MAX];

	assert_int_equal(event_format_ip(ip, buf, sizeof(buf)), (int)strlen(expected));
	assert_string_equal(buf, expected);
}

static void check_ip6(const char *text, const char *expected)
{
	uint8_t ip[16];

	assert_int_equal(inet_pton(AF_INET6, text, ip), 1);
	check_ip(ip, expected);
}

static void test_format_ip(void **state)
{
	uint8_t ip[16];
	char buf[EVENT_IP_MAX];

	(void)state;
	set_ipv4(ip, 192, 0, 2, 1);
	check_ip(ip, "192.0.2.1");
	set_ipv4(ip, 255, 255, 255, 255);
	check_ip(ip, "255.255.255.255");
	set_ipv4(ip, 0, 0, 0, 0);
	check_ip(ip, "0.0.0.0");

	/* RFC 5952: lowercase, longest zero run (first on a tie), not a single 0 */
	check_ip6("::", "::");
	check_ip6("::1", "::1");
	check_ip6("2001:DB8::1", "2001:db8::1");
	check_ip6("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1");
	check_ip6("2001:db8:0:0:0:1:0:0", "2001:db8::1:0:0");
	check_ip6("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1");
	check_ip6("2001:0db8:0000:0000:0000:0000:0002:0001", "2001:db8::2:1");
	check_ip6("fe80::1", "fe80::1");
	check_ip6("64:ff9b::192.0.2.33", "64:ff9b::c000:221");
	/* deprecated IPv4-compatible form is written in hex */
	check_ip6("::1.2.3.4", "::102:304");
	check_ip6("::0.0.1.2", "::102");
	check_ip6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");

	/* small buffers */
	set_ipv4(ip, 192, 0, 2, 1);
	assert_int_equal(event_format_ip(ip, buf, 9), -ENOSPC);
	assert_int_equal(event_format_ip(ip, buf, 10), 9);
}

/* ---- JSON --------------------------------------------------------------- */

static void test_json_example(void **state)
{
	static const char *const top_keys[] = {
		"specversion", "type", "source", "id", "time", "subject", "datacontenttype", "data",
	};
	static const char *const data_keys[] = {
		"consumer_id", "plan_id", "api_id",	"route_id",  "key_id",	   "endpoint",
		"method",      "status",  "latency_us", "req_bytes", "resp_bytes", "client_ip",
		"country",     "verdict", "flags",	"count",
	};
	struct usage_event ev;
	char buf[EVENT_JSON_MAX];
	json_t *root, *data, *flags;

	(void)state;
	example_event(&ev);
	root = to_json(&ev, buf, sizeof(buf));

	assert_int_equal(json_object_size(root), 8);
	for (size_t i = 0; i < sizeof(top_keys) / sizeof(top_keys[0]); i++)
		assert_non_null(json_object_get(root, top_keys[i]));
	assert_string_equal(get_string(root, "specversion"), "1.0");
	assert_string_equal(get_string(root, "type"), "tollgate.request");
	assert_string_equal(get_string(root, "source"), "tollgate-agent/7");
	assert_string_equal(get_string(root, "id"), "7-3-42");
	assert_string_equal(get_string(root, "time"), "2023-11-14T22:13:20.123456789Z");
	assert_string_equal(get_string(root, "subject"), "12");
	assert_string_equal(get_string(root, "datacontenttype"), "application/json");

	data = json_object_get(root, "data");
	assert_true(json_is_object(data));
	assert_int_equal(json_object_size(data), 16);
	for (size_t i = 0; i < sizeof(data_keys) / sizeof(data_keys[0]); i++)
		assert_non_null(json_object_get(data, data_keys[i]));
	assert_string_equal(get_string(data, "consumer_id"), "12");
	assert_string_equal(get_string(data, "plan_id"), "2");
	assert_string_equal(get_string(data, "api_id"), "5");
	assert_string_equal(get_string(data, "route_id"), "9");
	assert_string_equal(get_string(data, "key_id"), "31");
	assert_string_equal(get_string(data, "endpoint"), "/v1/orders/{id}");
	assert_string_equal(get_string(data, "method"), "GET");
	assert_int_equal(get_int(data, "status"), 200);
	assert_int_equal(get_int(data, "latency_us"), 1834);
	assert_int_equal(get_int(data, "req_bytes"), 412);
	assert_int_equal(get_int(data, "resp_bytes"), 5120);
	assert_string_equal(get_string(data, "client_ip"), "192.0.2.1");
	assert_string_equal(get_string(data, "country"), "DE");
	assert_string_equal(get_string(data, "verdict"), "admitted");
	assert_int_equal(get_int(data, "count"), 1);

	flags = json_object_get(data, "flags");
	assert_true(json_is_object(flags));
	assert_int_equal(json_object_size(flags), 3);
	assert_false(get_bool(flags, "unanswered"));
	assert_false(get_bool(flags, "summary"));
	assert_false(get_bool(flags, "unattributed"));
	json_decref(root);

	/* the exact text of docs/event-format.md */
	assert_string_equal(
		buf, "{\"specversion\":\"1.0\",\"type\":\"tollgate.request\","
		     "\"source\":\"tollgate-agent/7\",\"id\":\"7-3-42\","
		     "\"time\":\"2023-11-14T22:13:20.123456789Z\",\"subject\":\"12\","
		     "\"datacontenttype\":\"application/json\",\"data\":{\"consumer_id\":\"12\","
		     "\"plan_id\":\"2\",\"api_id\":\"5\",\"route_id\":\"9\",\"key_id\":\"31\","
		     "\"endpoint\":\"/v1/orders/{id}\",\"method\":\"GET\",\"status\":200,"
		     "\"latency_us\":1834,\"req_bytes\":412,\"resp_bytes\":5120,"
		     "\"client_ip\":\"192.0.2.1\",\"country\":\"DE\",\"verdict\":\"admitted\","
		     "\"flags\":{\"unanswered\":false,\"summary\":false,\"unattributed\":false},"
		     "\"count\":1}}");
}

static void test_json_wide_values(void **state)
{
	struct usage_event ev;
	char buf[EVENT_JSON_MAX];
	json_t *root, *data, *flags;

	(void)state;
	wide_event(&ev);
	root = to_json(&ev, buf, sizeof(buf));
	assert_string_equal(get_string(root, "source"), "tollgate-agent/286397204");
	assert_string_equal(get_string(root, "id"), "286397204-555885348-3544952156018063160");
	assert_string_equal(get_string(root, "subject"), "1094861636");
	/* 0x0102030405060708 ns */
	assert_string_equal(get_string(root, "time"), "1972-04-20T13:17:39.790382856Z");

	data = json_object_get(root, "data");
	assert_string_equal(get_string(data, "consumer_id"), "1094861636");
	assert_string_equal(get_string(data, "plan_id"), "1364349780");
	assert_string_equal(get_string(data, "api_id"), "1633837924");
	assert_string_equal(get_string(data, "route_id"), "1903326068");
	assert_string_equal(get_string(data, "key_id"), "2172814212");
	assert_string_equal(get_string(data, "method"), "OPTIONS");
	assert_int_equal(get_int(data, "status"), 0x9192);
	assert_int_equal(get_int(data, "latency_us"), 0xa1a2a3a4);
	assert_int_equal(get_int(data, "req_bytes"), 0xb1b2b3b4);
	assert_int_equal(get_int(data, "resp_bytes"), 0xc1c2c3c4);
	assert_int_equal(get_int(data, "count"), 0xd1d2d3d4);
	assert_string_equal(get_string(data, "client_ip"),
			    "e0e1:e2e3:e4e5:e6e7:e8e9:eaeb:eced:eeef");
	assert_string_equal(get_string(data, "country"), "FR");
	assert_string_equal(get_string(data, "verdict"), "quota_exhausted");
	flags = json_object_get(data, "flags");
	assert_true(get_bool(flags, "unanswered"));
	assert_true(get_bool(flags, "summary"));
	assert_true(get_bool(flags, "unattributed"));
	json_decref(root);
}

static void test_json_flags_and_names(void **state)
{
	struct usage_event ev;
	char buf[EVENT_JSON_MAX];
	json_t *root, *data, *flags;

	(void)state;
	for (unsigned int f = 0; f < 8; f++) {
		example_event(&ev);
		ev.flags = f | 0xf0; /* unknown bits are not reported */
		root = to_json(&ev, buf, sizeof(buf));
		flags = json_object_get(json_object_get(root, "data"), "flags");
		assert_int_equal(json_object_size(flags), 3);
		assert_int_equal(get_bool(flags, "unanswered"), !!(f & TG_EF_UNANSWERED));
		assert_int_equal(get_bool(flags, "summary"), !!(f & TG_EF_SUMMARY));
		assert_int_equal(get_bool(flags, "unattributed"), !!(f & TG_EF_UNATTRIBUTED));
		json_decref(root);
	}
	for (unsigned int v = 0; v < TG_V_COUNT; v++) {
		example_event(&ev);
		ev.verdict = (uint8_t)v;
		root = to_json(&ev, buf, sizeof(buf));
		data = json_object_get(root, "data");
		assert_string_equal(get_string(data, "verdict"), event_verdict_name(v));
		json_decref(root);
	}
	for (unsigned int m = 0; m <= TG_M_OPTIONS; m++) {
		example_event(&ev);
		ev.method = (uint8_t)m;
		root = to_json(&ev, buf, sizeof(buf));
		data = json_object_get(root, "data");
		assert_string_equal(get_string(data, "method"), event_method_name(m));
		json_decref(root);
	}
}

static void test_json_summary_event(void **state)
{
	struct usage_event ev;
	char buf[EVENT_JSON_MAX];
	json_t *root, *data;

	(void)state;
	/* a summary carries a count and no detail */
	memset(&ev, 0, sizeof(ev));
	ev.time_ns = 0;
	ev.consumer_id = 12;
	ev.api_id = 5;
	ev.flags = TG_EF_SUMMARY;
	ev.count = 1500;
	memcpy(ev.country, "--", 2);
	root = to_json(&ev, buf, sizeof(buf));
	assert_string_equal(get_string(root, "time"), "1970-01-01T00:00:00.000000000Z");
	data = json_object_get(root, "data");
	assert_string_equal(get_string(data, "endpoint"), "");
	assert_string_equal(get_string(data, "method"), "");
	assert_string_equal(get_string(data, "client_ip"), "::");
	assert_string_equal(get_string(data, "country"), "--");
	assert_string_equal(get_string(data, "plan_id"), "0");
	assert_int_equal(get_int(data, "count"), 1500);
	assert_true(get_bool(json_object_get(data, "flags"), "summary"));
	json_decref(root);
}

static void test_json_country(void **state)
{
	static const struct {
		char in[2];
		const char *out;
	} cases[] = {
		{ "US", "US" }, { "--", "--" },	 { { 0, 0 }, "--" },
		{ "us", "--" }, { "U\"", "--" }, { "A1", "--" },
	};
	struct usage_event ev;
	char buf[EVENT_JSON_MAX];
	json_t *root;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		example_event(&ev);
		memcpy(ev.country, cases[i].in, 2);
		root = to_json(&ev, buf, sizeof(buf));
		assert_string_equal(get_string(json_object_get(root, "data"), "country"),
				    cases[i].out);
		json_decref(root);
	}
}

static void check_endpoint_json(const char *endpoint, size_t len, const char *raw,
				const char *decoded, size_t decoded_len)
{
	struct usage_event ev;
	char buf[EVENT_JSON_MAX];
	json_t *root, *value;

	example_event(&ev);
	set_endpoint(&ev, endpoint, len);
	root = to_json(&ev, buf, sizeof(buf));
	if (raw && !strstr(buf, raw))
		fail_msg("'%s' not in %s", raw, buf);
	value = json_object_get(json_object_get(root, "data"), "endpoint");
	assert_true(json_is_string(value));
	assert_int_equal(json_string_length(value), decoded_len);
	assert_memory_equal(json_string_value(value), decoded, decoded_len);
	json_decref(root);
}

static void test_json_escaping(void **state)
{
	(void)state;
	check_endpoint_json("/a\"b", 4, "\"endpoint\":\"/a\\\"b\"", "/a\"b", 4);
	check_endpoint_json("/a\\b", 4, "\"endpoint\":\"/a\\\\b\"", "/a\\b", 4);
	check_endpoint_json("/a\nb", 4, "\"endpoint\":\"/a\\u000ab\"", "/a\nb", 4);
	check_endpoint_json("/a\tb\r", 5, "\"endpoint\":\"/a\\u0009b\\u000d\"", "/a\tb\r", 5);
	check_endpoint_json("/\x01\x1f\x7f", 4, "\"endpoint\":\"/\\u0001\\u001f\\u007f\"",
			    "/\x01\x1f\x7f", 4);
	check_endpoint_json("/a\0b", 4, "\"endpoint\":\"/a\\u0000b\"", "/a\0b", 4);
	check_endpoint_json("/</script>", 10, NULL, "/</script>", 10);
}

static void test_json_unicode(void **state)
{
	(void)state;
	/* valid UTF-8 is kept as is: 2, 3 and 4 bytes */
	check_endpoint_json("/caf\xc3\xa9", 6, "\"endpoint\":\"/caf\xc3\xa9\"", "/caf\xc3\xa9", 6);
	check_endpoint_json("/\xe2\x82\xac/\xf0\x9f\x98\x80", 9, NULL,
			    "/\xe2\x82\xac/\xf0\x9f\x98\x80", 9);
	check_endpoint_json("/\xef\xbf\xbf\xf4\x8f\xbf\xbf", 8, NULL,
			    "/\xef\xbf\xbf\xf4\x8f\xbf\xbf", 8);

	/* bytes that are not UTF-8 are percent-encoded, as in a URL */
	check_endpoint_json("/\xff", 2, "\"endpoint\":\"/%FF\"", "/%FF", 4);
	check_endpoint_json("/caf\xc3", 5, NULL, "/caf%C3", 7);		 /* cut sequence */
	check_endpoint_json("/\xc3(", 3, NULL, "/%C3(", 5);		 /* bad continuation */
	check_endpoint_json("/\xc0\xaf", 3, NULL, "/%C0%AF", 7);	 /* overlong '/' */
	check_endpoint_json("/\xe0\x80\xaf", 4, NULL, "/%E0%80%AF", 10); /* overlong */
	check_endpoint_json("/\xed\xa0\x80", 4, NULL, "/%ED%A0%80", 10); /* surrogate */
	check_endpoint_json("/\xf4\x90\x80\x80", 5, NULL, "/%F4%90%80%80", 13); /* > U+10FFFF */
	check_endpoint_json("/\x80z", 3, NULL, "/%80z", 5);
}

static void test_json_worst_case_fits(void **state)
{
	struct usage_event ev;
	char buf[EVENT_JSON_MAX], endpoint[EVENT_ENDPOINT_MAX];
	json_t *root;
	int n;

	(void)state;
	wide_event(&ev);
	ev.host_id = UINT32_MAX;
	ev.epoch = UINT32_MAX;
	ev.seq = UINT64_MAX;
	ev.time_ns = UINT64_MAX;
	ev.status = UINT16_MAX;
	ev.latency_us = ev.req_bytes = ev.resp_bytes = ev.count = UINT32_MAX;
	ev.consumer_id = ev.plan_id = ev.api_id = ev.route_id = ev.key_id = UINT32_MAX;
	ev.method = TG_M_OPTIONS;
	ev.verdict = TG_V_QUOTA_EXHAUSTED;
	memset(ev.client_ip, 0xff, 16);
	memset(endpoint, 0x01, sizeof(endpoint)); /* 6 bytes each */
	set_endpoint(&ev, endpoint, sizeof(endpoint));

	n = event_to_json(&ev, buf, sizeof(buf));
	assert_true(n > 0 && n < EVENT_JSON_MAX);
	root = to_json(&ev, buf, sizeof(buf));
	assert_string_equal(get_string(root, "time"), "2554-07-21T23:34:33.709551615Z");
	json_decref(root);
}

/* Each event's source and id follow its own host and epoch, however the
 * encoder keeps what repeats between events. */
static void test_json_host_and_epoch_change(void **state)
{
	static const struct {
		uint32_t host_id, epoch;
		uint64_t seq;
		const char *source, *id;
	} cases[] = {
		{ 7, 3, 42, "tollgate-agent/7", "7-3-42" },
		{ 7, 4, 0, "tollgate-agent/7", "7-4-0" },
		{ 8, 4, 1, "tollgate-agent/8", "8-4-1" },
		{ 7, 3, 43, "tollgate-agent/7", "7-3-43" },
	};
	struct usage_event ev;
	char buf[EVENT_JSON_MAX];
	json_t *root;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		example_event(&ev);
		ev.host_id = cases[i].host_id;
		ev.epoch = cases[i].epoch;
		ev.seq = cases[i].seq;
		root = to_json(&ev, buf, sizeof(buf));
		assert_string_equal(get_string(root, "source"), cases[i].source);
		assert_string_equal(get_string(root, "id"), cases[i].id);
		json_decref(root);
	}
}

static void test_json_buffer_too_small(void **state)
{
	struct usage_event ev;
	char buf[EVENT_JSON_MAX], small[EVENT_JSON_MAX];
	int n;

	(void)state;
	example_event(&ev);
	n = event_to_json(&ev, buf, sizeof(buf));
	assert_true(n > 0);
	for (int size = 0; size <= n; size++)
		assert_int_equal(event_to_json(&ev, small, (size_t)size), -ENOSPC);
	assert_int_equal(event_to_json(&ev, small, (size_t)n + 1), n);
	assert_string_equal(small, buf);
}

static void test_json_rejects_invalid_event(void **state)
{
	struct usage_event ev;
	char buf[EVENT_JSON_MAX];

	(void)state;
	example_event(&ev);
	ev.endpoint_len = EVENT_ENDPOINT_MAX + 1;
	assert_int_equal(event_to_json(&ev, buf, sizeof(buf)), -EINVAL);
	example_event(&ev);
	ev.verdict = TG_V_COUNT;
	assert_int_equal(event_to_json(&ev, buf, sizeof(buf)), -EINVAL);
	example_event(&ev);
	ev.method = TG_M_OPTIONS + 1;
	assert_int_equal(event_to_json(&ev, buf, sizeof(buf)), -EINVAL);
}

/* ---- binary v1 ---------------------------------------------------------- */

static uint64_t le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void test_v1_layout(void **state)
{
	struct usage_event ev;
	uint8_t buf[EVENT_V1_MAX];

	(void)state;
	wide_event(&ev);
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(event_encode_v1(&ev, buf, sizeof(buf)), 92 + 20);

	/* offsets as DESIGN §5 lists the fields, written out independently */
	assert_int_equal(le(buf + 0, 2), 0x4754);
	assert_int_equal(buf[0], 0x54); /* 'T' */
	assert_int_equal(buf[1], 0x47); /* 'G' */
	assert_int_equal(buf[2], 1);
	assert_int_equal(buf[3], TG_V_QUOTA_EXHAUSTED);
	assert_int_equal(le(buf + 4, 4), 7);
	assert_int_equal(le(buf + 8, 8), 0x0102030405060708ULL);
	assert_int_equal(le(buf + 16, 4), 0x11121314);
	assert_int_equal(le(buf + 20, 4), 0x21222324);
	assert_int_equal(le(buf + 24, 8), 0x3132333435363738ULL);
	assert_int_equal(le(buf + 32, 4), 0x41424344);
	assert_int_equal(le(buf + 36, 4), 0x51525354);
	assert_int_equal(le(buf + 40, 4), 0x61626364);
	assert_int_equal(le(buf + 44, 4), 0x71727374);
	assert_int_equal(le(buf + 48, 4), 0x81828384);
	assert_int_equal(le(buf + 52, 2), 0x9192);
	assert_int_equal(buf[54], TG_M_OPTIONS);
	assert_int_equal(buf[55], 20);
	assert_int_equal(le(buf + 56, 4), 0xa1a2a3a4);
	assert_int_equal(le(buf + 60, 4), 0xb1b2b3b4);
	assert_int_equal(le(buf + 64, 4), 0xc1c2c3c4);
	assert_int_equal(le(buf + 68, 4), 0xd1d2d3d4);
	for (int i = 0; i < 16; i++)
		assert_int_equal(buf[72 + i], 0xe0 + i);
	assert_memory_equal(buf + 88, "FR", 2);
	assert_int_equal(le(buf + 90, 2), 0);
	assert_memory_equal(buf + 92, "/v2/items/{id}/parts", 20);
	assert_int_equal(buf[112], 0xee); /* nothing written beyond */

	/* the header's named offsets agree */
	assert_int_equal(EVENT_V1_OFF_FLAGS, 4);
	assert_int_equal(EVENT_V1_OFF_SEQ, 24);
	assert_int_equal(EVENT_V1_OFF_STATUS, 52);
	assert_int_equal(EVENT_V1_OFF_CLIENT_IP, 72);
	assert_int_equal(EVENT_V1_OFF_ENDPOINT, EVENT_V1_HEADER_LEN);
}

static void test_v1_golden_bytes(void **state)
{
	struct usage_event ev, back;
	uint8_t buf[EVENT_V1_MAX], golden[EVENT_V1_MAX];
	size_t golden_len = strlen(golden_v1_hex) / 2;

	(void)state;
	for (size_t i = 0; i < golden_len; i++)
		assert_int_equal(sscanf(golden_v1_hex + 2 * i, "%2hhx", &golden[i]), 1);
	example_event(&ev);
	assert_int_equal(event_encode_v1(&ev, buf, sizeof(buf)), golden_len);
	assert_int_equal(golden_len, 107);
	assert_memory_equal(buf, golden, golden_len);

	assert_int_equal(event_decode_v1(golden, golden_len, &back), 0);
	assert_memory_equal(&back, &ev, sizeof(ev));
}

static void assert_events_equal(const struct usage_event *a, const struct usage_event *b)
{
	assert_int_equal(a->time_ns, b->time_ns);
	assert_int_equal(a->host_id, b->host_id);
	assert_int_equal(a->epoch, b->epoch);
	assert_int_equal(a->seq, b->seq);
	assert_int_equal(a->consumer_id, b->consumer_id);
	assert_int_equal(a->plan_id, b->plan_id);
	assert_int_equal(a->api_id, b->api_id);
	assert_int_equal(a->route_id, b->route_id);
	assert_int_equal(a->key_id, b->key_id);
	assert_int_equal(a->status, b->status);
	assert_int_equal(a->method, b->method);
	assert_int_equal(a->verdict, b->verdict);
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->latency_us, b->latency_us);
	assert_int_equal(a->req_bytes, b->req_bytes);
	assert_int_equal(a->resp_bytes, b->resp_bytes);
	assert_int_equal(a->count, b->count);
	assert_memory_equal(a->client_ip, b->client_ip, 16);
	assert_memory_equal(a->country, b->country, 2);
	assert_int_equal(a->endpoint_len, b->endpoint_len);
	assert_memory_equal(a->endpoint, b->endpoint, a->endpoint_len);
	assert_int_equal(b->endpoint[b->endpoint_len], '\0');
}

static void test_v1_round_trip(void **state)
{
	struct usage_event ev, back;
	uint8_t buf[EVENT_V1_MAX];
	char endpoint[EVENT_ENDPOINT_MAX];
	int n;

	(void)state;
	wide_event(&ev);
	n = event_encode_v1(&ev, buf, sizeof(buf));
	assert_int_equal(n, 112);
	memset(&back, 0x55, sizeof(back));
	assert_int_equal(event_decode_v1(buf, (size_t)n, &back), 0);
	assert_events_equal(&ev, &back);

	/* empty and longest endpoints, raw bytes included */
	for (int len = 0; len <= EVENT_ENDPOINT_MAX; len += 1) {
		for (int i = 0; i < len; i++)
			endpoint[i] = (char)(i * 37 + len);
		example_event(&ev);
		set_endpoint(&ev, endpoint, (size_t)len);
		n = event_encode_v1(&ev, buf, sizeof(buf));
		assert_int_equal(n, 92 + len);
		assert_int_equal(event_decode_v1(buf, (size_t)n, &back), 0);
		assert_events_equal(&ev, &back);
	}
}

/* JSON read back: what the agent writes, billing reads, field for field */
static void test_json_round_trip(void **state)
{
	struct usage_event ev, back;
	char buf[EVENT_JSON_MAX], err[256];
	int n;

	(void)state;
	wide_event(&ev);
	n = event_to_json(&ev, buf, sizeof(buf));
	assert_true(n > 0);
	memset(&back, 0x55, sizeof(back));
	assert_int_equal(event_from_json(buf, (size_t)n, &back, err, sizeof(err)), 0);
	assert_events_equal(&ev, &back);

	example_event(&ev);
	ev.flags = TG_EF_UNANSWERED | TG_EF_UNATTRIBUTED;
	ev.client_ip[10] = 0x20; /* an IPv6 client */
	n = event_to_json(&ev, buf, sizeof(buf));
	assert_int_equal(event_from_json(buf, (size_t)n, &back, err, sizeof(err)), 0);
	assert_events_equal(&ev, &back);
}

static void test_json_read_rejects(void **state)
{
	static const struct {
		const char *from, *to, *why;
	} edits[] = {
		{ "\"specversion\":\"1.0\"", "\"specversion\":\"0.3\"", "specversion" },
		{ "\"type\":\"tollgate.request\"", "\"type\":\"x\"", "type" },
		{ "\"id\":\"7-3-42\"", "\"id\":\"7-3\"", "id" },
		{ "\"id\":\"7-3-42\"", "\"id\":\"-7-3-42\"", "id" },
		{ "22:13:20.123456789Z", "22:13:20.1234567891Z", "time" },
		{ "22:13:20.123456789Z", "22:13:20.123456789+01:00", "time" },
		{ "\"consumer_id\":\"12\"", "\"consumer_id\":12", "data.consumer_id" },
		{ "\"plan_id\":\"2\"", "\"plan_id\":\"4294967296\"", "data.plan_id" },
		{ "\"plan_id\":\"2\"", "\"plan_id\":\"02\"", "data.plan_id" },
		{ "\"status\":200", "\"status\":70000", "data.status" },
		{ "\"status\":200", "\"status\":-1", "data.status" },
		{ "\"latency_us\":1834", "\"latency_us\":\"1834\"", "data.latency_us" },
		{ "\"method\":\"GET\"", "\"method\":\"BREW\"", "data.method" },
		{ "\"verdict\":\"admitted\"", "\"verdict\":\"maybe\"", "data.verdict" },
		{ "\"client_ip\":\"192.0.2.1\"", "\"client_ip\":\"192.0.2\"", "data.client_ip" },
		{ "\"country\":\"DE\"", "\"country\":\"DEU\"", "data.country" },
		{ "\"unanswered\":false", "\"unanswered\":0", "data.flags.unanswered" },
		{ ",\"count\":1", "", "data.count" },
		{ "\"specversion\"", "\"specversion\":\"1.0\",\"specversion\"", "not JSON" },
	};
	struct usage_event ev, back;
	char buf[EVENT_JSON_MAX], edited[EVENT_JSON_MAX + 64], err[256];

	(void)state;
	example_event(&ev);
	assert_true(event_to_json(&ev, buf, sizeof(buf)) > 0);
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		const char *at = strstr(buf, edits[i].from);

		assert_non_null(at);
		snprintf(edited, sizeof(edited), "%.*s%s%s", (int)(at - buf), buf, edits[i].to,
			 at + strlen(edits[i].from));
		memset(&back, 0x55, sizeof(back));
		assert_int_equal(event_from_json(edited, strlen(edited), &back, err, sizeof(err)),
				 -EBADMSG);
		if (!strstr(err, edits[i].why))
			fail_msg("edit %zu: '%s' does not name %s", i, err, edits[i].why);
	}
	assert_int_equal(event_from_json("[]", 2, &back, err, sizeof(err)), -EBADMSG);
	assert_int_equal(event_from_json("{", 1, &back, err, sizeof(err)), -EBADMSG);
	/* a prefix only: the length given is what is read */
	assert_int_equal(event_from_json(buf, 10, &back, err, sizeof(err)), -EBADMSG);
}

static void test_v1_encode_errors(void **state)
{
	struct usage_event ev;
	uint8_t buf[EVENT_V1_MAX];

	(void)state;
	example_event(&ev);
	assert_int_equal(event_encode_v1(&ev, buf, 106), -ENOSPC);
	assert_int_equal(event_encode_v1(&ev, buf, 0), -ENOSPC);
	assert_int_equal(event_encode_v1(&ev, buf, 107), 107);

	ev.endpoint_len = EVENT_ENDPOINT_MAX + 1;
	assert_int_equal(event_encode_v1(&ev, buf, sizeof(buf)), -EINVAL);
	example_event(&ev);
	ev.verdict = 8;
	assert_int_equal(event_encode_v1(&ev, buf, sizeof(buf)), -EINVAL);
	example_event(&ev);
	ev.method = 8;
	assert_int_equal(event_encode_v1(&ev, buf, sizeof(buf)), -EINVAL);
}

static void test_v1_decode_rejects(void **state)
{
	struct usage_event ev, out, orig;
	uint8_t good[EVENT_V1_MAX], bad[EVENT_V1_MAX + 8];
	int n;

	(void)state;
	example_event(&ev);
	n = event_encode_v1(&ev, good, sizeof(good));
	assert_int_equal(n, 107);
	memset(&out, 0x5a, sizeof(out));
	memcpy(&orig, &out, sizeof(out));

#define REJECT(len)                                                                                \
	do {                                                                                       \
		assert_int_equal(event_decode_v1(bad, (len), &out), -EBADMSG);                     \
		assert_memory_equal(&out, &orig, sizeof(out));                                     \
	} while (0)

	/* short: nothing, a partial header, the header without the endpoint */
	memcpy(bad, good, (size_t)n);
	REJECT(0);
	REJECT(1);
	REJECT(91);
	REJECT(92);
	REJECT(106);
	/* trailing bytes */
	bad[107] = 0;
	REJECT(108);

	/* magic */
	memcpy(bad, good, (size_t)n);
	bad[0] = 0x47;
	bad[1] = 0x54;
	REJECT(107);
	memcpy(bad, good, (size_t)n);
	bad[1] = 0;
	REJECT(107);

	/* version */
	for (int v = 0; v < 256; v++) {
		if (v == 1)
			continue;
		memcpy(bad, good, (size_t)n);
		bad[2] = (uint8_t)v;
		REJECT(107);
	}

	/* endpoint_len above 128, even with the bytes present */
	memset(bad, 'a', sizeof(bad));
	memcpy(bad, good, 92);
	bad[55] = 129;
	REJECT(92 + 129);
	bad[55] = 255;
	REJECT(92 + 255 < (int)sizeof(bad) ? 92 + 255 : (int)sizeof(bad));

	/* endpoint_len disagreeing with the length */
	memcpy(bad, good, (size_t)n);
	bad[55] = 14;
	REJECT(107);
	bad[55] = 16;
	REJECT(107);

	/* unknown verdict and method codes */
	memcpy(bad, good, (size_t)n);
	bad[3] = TG_V_COUNT;
	REJECT(107);
	memcpy(bad, good, (size_t)n);
	bad[54] = TG_M_OPTIONS + 1;
	REJECT(107);
#undef REJECT

	/* unknown flag bits and a non-zero reserved field are accepted */
	memcpy(bad, good, (size_t)n);
	bad[7] = 0x80;
	bad[90] = 1;
	assert_int_equal(event_decode_v1(bad, 107, &out), 0);
	assert_int_equal(out.flags, 0x80000000u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_method_names),
		cmocka_unit_test(test_verdict_names),
		cmocka_unit_test(test_event_id),
		cmocka_unit_test(test_format_ip),
		cmocka_unit_test(test_json_example),
		cmocka_unit_test(test_json_wide_values),
		cmocka_unit_test(test_json_flags_and_names),
		cmocka_unit_test(test_json_summary_event),
		cmocka_unit_test(test_json_country),
		cmocka_unit_test(test_json_escaping),
		cmocka_unit_test(test_json_unicode),
		cmocka_unit_test(test_json_worst_case_fits),
		cmocka_unit_test(test_json_host_and_epoch_change),
		cmocka_unit_test(test_json_buffer_too_small),
		cmocka_unit_test(test_json_rejects_invalid_event),
		cmocka_unit_test(test_v1_layout),
		cmocka_unit_test(test_v1_golden_bytes),
		cmocka_unit_test(test_v1_round_trip),
		cmocka_unit_test(test_json_round_trip),
		cmocka_unit_test(test_json_read_rejects),
		cmocka_unit_test(test_v1_encode_errors),
		cmocka_unit_test(test_v1_decode_rejects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
