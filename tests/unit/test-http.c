// SPDX-License-Identifier: BSD-2-Clause
/*
 * test-http.c - the request parsing of bpf/lib/http.h that tg_skmsg runs on a
 * local proxy's writes (sockmap mode) and the agent's refusal responder runs
 * in userspace: where a proxied head ends, its body length, and the client's
 * address from X-Real-IP or X-Forwarded-For, IPv4 and IPv6 text; and the
 * word scans every request goes through (key token length, request line and
 * path ends), against byte-at-a-time references at every alignment; and the
 * chunk framing tg_skmsg follows in responses (Transfer-Encoding: chunked,
 * chunk-size lines).
 */
#include <arpa/inet.h>
#include <linux/types.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "bpf/tollgate_abi.h"
#ifndef __noinline
#define __noinline __attribute__((noinline))
#endif
#include "bpf/lib/http.h"

/* A proxied request head as tg_skmsg reads it: the request parse (req),
 * the client address from the lines it found (pr); and the head's lines as
 * tg_http_parse_head() reads them window by window (head). */
struct parsed {
	struct tg_http_req req;
	struct tg_proxy_req pr;
	struct tg_proxy_req head;
	__u32 len;
};

static void parse(const char *text, struct parsed *p)
{
	static struct tg_http_buf b;

	memset(&b, 0, sizeof(b));
	memset(p, 0, sizeof(*p));
	p->len = (__u32)strlen(text);
	if (p->len > TG_SCAN_MAX)
		p->len = TG_SCAN_MAX;
	memcpy(b.bytes, text, p->len);
	tg_http_parse_request(&b, p->len, &p->req);
	assert_int_not_equal(p->req.method, TG_M_NONE);
	assert_int_equal(tg_http_proxy_addr(&b, p->len, &p->req, &p->pr), 0);
	assert_int_equal(tg_http_parse_head(&b, p->req.line_end, p->len, &p->head), 0);
	/* both scans agree on where the head ends and what its body is */
	assert_int_equal(p->head.scan.end, p->req.scan.end);
	if (p->req.scan.end)
		assert_true(p->head.body_len == p->req.body_len);
}

/* The client address the head names, as text ("" = none). */
static const char *client(const char *head)
{
	static char out[INET6_ADDRSTRLEN];
	static const __u8 mapped[12] = { [10] = 0xff, [11] = 0xff };
	struct parsed p;

	parse(head, &p);
	if (!p.pr.addr_ok)
		return "";
	if (memcmp(p.pr.addr, mapped, 12) == 0)
		inet_ntop(AF_INET, p.pr.addr + 12, out, sizeof(out));
	else
		inet_ntop(AF_INET6, p.pr.addr, out, sizeof(out));
	return out;
}

#define GET "GET /v1/orders HTTP/1.1\r\nHost: api\r\nX-API-Key: tg_1abc\r\n"

static void test_head_end_and_body_length(void **state)
{
	struct parsed p;
	const char *h = "POST /v1/orders HTTP/1.1\r\nHost: api\r\ncontent-LENGTH:  17 \r\n\r\n{\"GET / HTTP/1.1\"}";

	(void)state;
	parse(h, &p);
	assert_int_equal(p.req.scan.end, strstr(h, "\r\n\r\n") - h + 4);
	assert_int_equal(p.req.body_len, 17);

	parse(GET "\r\n", &p);
	assert_int_equal(p.req.scan.end, strlen(GET "\r\n"));
	assert_int_equal(p.req.body_len, 0);

	/* bare LF line ends too */
	parse("GET / HTTP/1.1\nHost: a\n\nGET / HTTP/1.1\n\n", &p);
	assert_int_equal(p.req.scan.end, strlen("GET / HTTP/1.1\nHost: a\n\n"));
}

static void test_unknown_body_length(void **state)
{
	struct parsed p;

	(void)state;
	parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", &p);
	assert_true(p.req.body_len == TG_BODY_UNKNOWN);
	parse("POST / HTTP/1.1\r\nContent-Length: x5\r\n\r\n", &p);
	assert_true(p.req.body_len == TG_BODY_UNKNOWN);
	parse("POST / HTTP/1.1\r\nContent-Length: 1234567890123456789\r\n\r\n", &p);
	assert_true(p.req.body_len == TG_BODY_UNKNOWN);
	parse("POST / HTTP/1.1\r\nContent-Length: 12x\r\n\r\n", &p);
	assert_true(p.req.body_len == TG_BODY_UNKNOWN);
	parse("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 500\r\n\r\n", &p);
	assert_true(p.req.body_len == TG_BODY_UNKNOWN);
}

/* What XDP reads of a request's body from its head alone (no proxy scan):
 * where the head ends and the body's length, so that later segments inside
 * the body are not taken for requests. */
static void test_request_body_from_head(void **state)
{
	static const struct {
		const char *head;
		__u64 body_len;
	} cases[] = {
		{ GET "\r\n", 0 },
		{ "POST / HTTP/1.1\r\nContent-Length: 17\r\nX-API-Key: tg_1abc\r\n\r\n", 17 },
		{ "POST / HTTP/1.1\r\nX-API-Key: tg_1abc\r\ncontent-length:0\r\n\r\n", 0 },
		{ "POST / HTTP/1.1\r\nContent-Length: 5 \r\n\r\n", 5 },
		{ "POST / HTTP/1.1\nContent-Length: 5\n\n", 5 },
		{ "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", TG_BODY_UNKNOWN },
		{ "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
		  TG_BODY_UNKNOWN },
		{ "POST / HTTP/1.1\r\nContent-Length: 12x\r\n\r\n", TG_BODY_UNKNOWN },
		{ "POST / HTTP/1.1\r\nContent-Length: 1,1\r\n\r\n", TG_BODY_UNKNOWN },
		{ "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", TG_BODY_UNKNOWN },
		/* two lengths: which one a server reads is its own choice */
		{ "POST / HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 500\r\n\r\n",
		  TG_BODY_UNKNOWN },
		{ "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
		  TG_BODY_UNKNOWN },
		/* the head goes on beyond the bytes read */
		{ "POST / HTTP/1.1\r\nContent-Length: 5\r\nAccept: */*\r\n", TG_BODY_UNKNOWN },
		{ "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r", TG_BODY_UNKNOWN },
	};
	static struct tg_http_buf b;
	struct tg_http_req req;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *h = cases[i].head, *end = strstr(h, "\r\n\r\n");
		__u32 n = (__u32)strlen(h);

		memset(&b, 0, sizeof(b));
		memcpy(b.bytes, h, n);
		tg_http_parse_request(&b, n, &req);
		assert_int_not_equal(req.method, TG_M_NONE);
		if (req.body_len != cases[i].body_len)
			fail_msg("%s: body %llu, expected %llu", h, (unsigned long long)req.body_len,
				 (unsigned long long)cases[i].body_len);
		if (!end && (end = strstr(h, "\n\n")))
			end -= 2;
		assert_int_equal(req.scan.end, end ? (__u32)(end - h) + 4 : 0);
	}
}

/* What the bytes at a request position are: a request read (method),
 * the start of one whose line cannot be read in them (unread: refused, as
 * the server would read a request there), or no request (passed). */
static void test_request_line_unread(void **state)
{
	static const struct {
		const char *bytes;
		int what; /* 1 read, 2 unread, 0 no request */
	} cases[] = {
		{ "GET / HTTP/1.1\r\n\r\n", 1 },
		{ "\r\n\r\n\r\n\r\nGET / HTTP/1.0\r\n\r\n", 1 }, /* 8 CRLF bytes skipped */
		{ "OPTIONS * HTTP/1.1\r\n\r\n", 1 },
		{ "G", 2 },
		{ "GE", 2 },
		{ "GET", 2 },
		{ "GET /", 2 },
		{ "PATC", 2 },
		{ "OPTIONS", 2 },
		{ "DELETE /v1/orders/7", 2 },
		{ "\n\nPOST /v1", 2 },
		{ "\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n", 2 }, /* more CRLFs than skipped */
		{ "GET /v1/orders/7\r\nHost: a\r\n\r\n", 2 },	    /* HTTP/0.9 */
		{ "GET  /v1/orders/7 HTTP/1.1\r\n\r\n", 2 },
		{ "GET http://h/v1 HTTP/1.1\r\n\r\n", 2 },
		{ "GET /v1/orders HTTP/2\r\n\r\n", 2 },
		{ "GET /v1/orders/7 HTTP/1.1", 1 }, /* the line is there, the head goes on */
		{ "", 0 },
		{ "\r\n", 0 },
		{ "X", 2 }, /* bytes too few for a line: a method's start, maybe */
		{ "Gx", 2 },
		{ "FOO /v1", 2 },
		{ "PROPFIND ", 2 },
		{ "FOO x", 0 },
		{ "{\"a\": 1}", 0 },
		{ "\x00", 0 },
		{ "GETX / HTTP/1.1\r\n\r\n", 1 }, /* methods of other letters */
		{ "get / HTTP/1.1\r\n\r\n", 1 },
		{ "M-SEARCH * HTTP/1.1\r\n\r\n", 1 },
		{ "VERYLONGMETHOD1 / HTTP/1.1\r\n\r\n", 1 },
		{ "VERYLONGMETHOD12 / HTTP/1.1\r\n\r\n", 0 },
		{ "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 2 },
		{ "FETCH me/v1/orders HTTP/1.1\r\n", 0 },
		{ "Lorem ipsum dolor sit amet\r\n", 0 },
		{ "{\"a\": \"GET /v1 HTTP/1.1\"}", 0 },
		{ "SSH-2.0-OpenSSH_9.2\r\n", 0 },
		{ "POSTAL code", 0 },
	};
	static struct tg_http_buf b;
	struct tg_http_req req;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		__u32 n = (__u32)strlen(cases[i].bytes);
		int what;

		/* what lies beyond the bytes must not count */
		memset(&b, 'P', sizeof(b));
		memcpy(b.bytes, cases[i].bytes, n);
		memset(&req, 0xa5, sizeof(req));
		tg_http_parse_request(&b, n, &req);
		what = req.method != TG_M_NONE ? 1 : req.unread ? 2 : 0;
		if (what != cases[i].what)
			fail_msg("'%s': %d, expected %d", cases[i].bytes, what, cases[i].what);
		if (what != 1) {
			assert_int_equal(req.key_len, 0);
			assert_true(req.body_len == TG_BODY_UNKNOWN);
			assert_int_equal(req.scan.end, 0);
		}
	}
}

/* XDP's look at a segment's first 16 bytes never rules out a method that
 * the parse would read (tg_http_maybe_request or tg_http_maybe_other). */
static void test_maybe_other_method(void **state)
{
	static const char *const texts[] = {
		"FETCH /v1/orders HTTP/1.1\r\n", "get / HTTP/1.1\r\n\r\n",
		"M-SEARCH * HTTP/1.1\r\n\r\n",	  "VERYLONGMETHOD1 / HTTP/1.1\r\n",
		"A / HTTP/1.1\r\nHost: a\r\n",	  "TRACE /x HTTP/1.1\r\n\r\n",
		"PROPFIND /dav HTTP/1.1\r\n\r\n", "X7 /v1 HTTP/1.1\r\n\r\n",
		"Lorem ipsum dolor sit amet\r\n", "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=",
		"{\"a\": 1, \"b\": 2}\r\n",	  "FETCH me/v1/orders HTTP/1.1\r\n",
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x00\x00\x00\x00\x00",
	};
	static struct tg_http_buf b;
	int readable = 0, looked = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		__u32 n = (__u32)strlen(texts[i]);
		struct tg_http_req req;
		__u64 w0, w1;
		bool maybe;

		if (n < 16)
			n = 16; /* the TLS record's zeros */
		memset(&b, 0, sizeof(b));
		memcpy(b.bytes, texts[i], strlen(texts[i]));
		memcpy(&w0, b.bytes, 8);
		memcpy(&w1, b.bytes + 8, 8);
		maybe = tg_http_maybe_request(b.bytes[0]) || tg_http_maybe_other(w0, w1);
		tg_http_parse_request(&b, n, &req);
		if ((req.method != TG_M_NONE || req.unread) && !maybe)
			fail_msg("'%s': read as a request, but the first look passes it", texts[i]);
		readable += req.method != TG_M_NONE;
		looked += maybe;
	}
	/* the cases cover both sides */
	assert_int_equal(readable, 8);
	assert_true(looked < (int)(sizeof(texts) / sizeof(texts[0])));
}

/* Byte-at-a-time reference of tg_path_unsafe(). */
static bool path_unsafe_ref(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c1 = i + 1 < n ? p[i + 1] : 0, c2 = i + 2 < n ? (char)(p[i + 2] | 0x20) : 0;

		if (p[i] == '\\')
			return true;
		if (p[i] == '/' && c1 == '.' && (i + 2 == n || p[i + 2] == '.' || p[i + 2] == '/'))
			return true;
		if (p[i] == '%' && ((c1 == '2' && (c2 == 'e' || c2 == 'f')) || (c1 == '5' && c2 == 'c')))
			return true;
	}
	return false;
}

/* Paths whose literal prefix may not be the route a server serves. */
static void test_path_unsafe(void **state)
{
	static const struct {
		const char *path;
		bool unsafe;
	} cases[] = {
		{ "/health/../v1/orders", true },
		{ "/health/./x", true },
		{ "/v1/orders/7/..", true },
		{ "/v1/orders/7/.", true },
		{ "/..", true },
		{ "/.", true },
		{ "/v1/%2e%2e/x", true },
		{ "/v1/%2E./x", true },
		{ "/health%2f..%2fv1", true },
		{ "/health%5Cx", true },
		{ "/health\\..\\v1", true },
		{ "/v1/orders\\", true },
		{ "/v1/orders/7", false },
		{ "/v1/orders/7.json", false },
		{ "/.well-known/x", false },
		{ "/v1/a..b", false },
		{ "/v1/a%20b%41", false },
		{ "/v1/x.", false },
		{ "/", false },
		{ "/a", false },
	};
	static struct tg_http_buf b;
	char path[200];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		__u32 n = (__u32)strlen(cases[i].path);

		/* at every alignment, with a query after it that would match */
		for (__u32 at = 0; at < 8; at++) {
			memset(&b, 0, sizeof(b));
			memcpy(b.bytes + at, cases[i].path, n);
			memcpy(b.bytes + at + n, "?q=/../%2e\\", 11);
			if ((tg_path_unsafe(&b, at, at + n) == 1) != cases[i].unsafe)
				fail_msg("'%s' at %u: expected %s", cases[i].path, at,
					 cases[i].unsafe ? "unsafe" : "safe");
		}
		assert_true(path_unsafe_ref(cases[i].path, n) == cases[i].unsafe);
	}
	/* against the reference: every placement of the patterns in a long path */
	for (size_t len = 1; len < 40; len++) {
		for (size_t pos = 0; pos < len; pos++) {
			static const char *const pats[] = { "/.", "/..", "/./", "%2e", "%5c", "\\", "./", "%2" };

			for (size_t k = 0; k < sizeof(pats) / sizeof(pats[0]); k++) {
				size_t m = strlen(pats[k]);

				memset(path, 'a', sizeof(path));
				path[0] = '/';
				if (pos + m > len)
					continue;
				memcpy(path + pos, pats[k], m);
				memset(&b, 'x', sizeof(b));
				memcpy(b.bytes + 3, path, len);
				if ((tg_path_unsafe(&b, 3, 3 + (__u32)len) == 1) !=
				    path_unsafe_ref(path, len))
					fail_msg("'%.*s': differs from the reference", (int)len, path);
			}
		}
	}
}

/* The first X-API-Key line counts, wherever the scan goes on to. */
static void test_first_key_line(void **state)
{
	static struct tg_http_buf b;
	const char *h = "GET / HTTP/1.1\r\nX-API-Key: tg_first\r\nx-api-key: tg_second\r\n"
			"Authorization: Bearer tg_third\r\n\r\n";
	struct tg_http_req req;
	__u32 n = (__u32)strlen(h);

	(void)state;
	memset(&b, 0, sizeof(b));
	memcpy(b.bytes, h, n);
	tg_http_parse_request(&b, n, &req);
	assert_int_equal(req.key_len, strlen("tg_first"));
	assert_memory_equal(b.bytes + req.key_off, "tg_first", req.key_len);
	assert_int_equal(req.body_len, 0);
}

static void test_head_not_complete(void **state)
{
	struct parsed p;

	(void)state;
	parse(GET "X-Forwarded-For: 192.0.2.1\r\n", &p);
	assert_int_equal(p.req.scan.end, 0);
	/* the address line is complete, so it is read */
	assert_int_equal(p.pr.addr_ok, 1);
	/* an address line cut short is not */
	parse(GET "X-Forwarded-For: 192.0.2.1", &p);
	assert_int_equal(p.pr.addr_ok, 0);
	/* the last line begun is where the next window of a head starts */
	assert_int_equal(p.head.scan.last, strlen(GET));
	parse(GET "X-Forwarded-For: 192.0.2.1\r\n", &p);
	assert_int_equal(p.head.scan.last, strlen(GET "X-Forwarded-For: 192.0.2.1\r\n"));
	/* a head that ends: its blank line was the last line begun */
	parse(GET "\r\n", &p);
	assert_int_equal(p.head.scan.last, strlen(GET));
}

static void test_forwarded_addresses(void **state)
{
	(void)state;
	assert_string_equal(client(GET "X-Forwarded-For: 192.0.2.1\r\n\r\n"), "192.0.2.1");
	/* the last element: the one the local proxy appended */
	assert_string_equal(client(GET "X-Forwarded-For: 10.0.0.1, 203.0.113.9\r\n\r\n"), "203.0.113.9");
	assert_string_equal(client(GET "X-Forwarded-For:1.1.1.1,2.2.2.2 \r\n\r\n"), "2.2.2.2");
	/* the last line when there are several */
	assert_string_equal(client(GET "X-Forwarded-For: 1.1.1.1\r\nAccept: */*\r\n"
				       "x-forwarded-for: 3.3.3.3\r\n\r\n"),
			    "3.3.3.3");
	/* X-Real-IP wins */
	assert_string_equal(client(GET "X-Forwarded-For: 1.1.1.1\r\nX-Real-IP: 198.51.100.4\r\n\r\n"),
			    "198.51.100.4");
	assert_string_equal(client(GET "\r\n"), "");
}

static void test_address_forms(void **state)
{
	(void)state;
	assert_string_equal(client(GET "X-Real-IP: 2001:db8::2\r\n\r\n"), "2001:db8::2");
	assert_string_equal(client(GET "X-Real-IP: ::1\r\n\r\n"), "::1");
	assert_string_equal(client(GET "X-Real-IP: ::\r\n\r\n"), "::");
	assert_string_equal(client(GET "X-Real-IP: 2001:DB8:0:0:1:0:0:1\r\n\r\n"), "2001:db8::1:0:0:1");
	assert_string_equal(client(GET "X-Real-IP: 1:2:3:4:5:6:7:8\r\n\r\n"), "1:2:3:4:5:6:7:8");
	assert_string_equal(client(GET "X-Real-IP: fe80::\r\n\r\n"), "fe80::");
	assert_string_equal(client(GET "X-Real-IP: [2001:db8::7]\r\n\r\n"), "2001:db8::7");
	assert_string_equal(client(GET "X-Real-IP: 64:ff9b::192.0.2.33\r\n\r\n"), "64:ff9b::c000:221");
	/* v4-mapped text is IPv4 */
	assert_string_equal(client(GET "X-Real-IP: ::ffff:192.0.2.5\r\n\r\n"), "192.0.2.5");
	/* an IPv4 address with a port */
	assert_string_equal(client(GET "X-Forwarded-For: 192.0.2.8:4711\r\n\r\n"), "192.0.2.8");
	assert_string_equal(client(GET "X-Real-IP: 0.0.0.0\r\n\r\n"), "0.0.0.0");
	assert_string_equal(client(GET "X-Real-IP: 255.255.255.255\r\n\r\n"), "255.255.255.255");
}

static void test_not_addresses(void **state)
{
	static const char *const bad[] = {
		"unknown", "1.2.3",	"1.2.3.4.5", "256.1.1.1",    "1..2.3",	     "1.2.3.04a",
		"2001:db8:::1", "::1::", "1:2:3:4:5:6:7:8:9", "12345::1", "[::1", "::1]",
		"1:2:3:4:5:6:7::8:9", "::ffff:1.2.3", "_gateway", "fe80::1%eth0",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char head[256];

		snprintf(head, sizeof(head), GET "X-Real-IP: %s\r\n\r\n", bad[i]);
		if (client(head)[0])
			fail_msg("'%s' parsed as the address %s", bad[i], client(head));
	}
}

static void test_find_lf(void **state)
{
	static struct tg_http_buf b;
	struct tg_proxy_req pr;

	(void)state;
	memcpy(b.bytes, "GET /v1/orders HTT", 18);
	assert_int_equal(tg_http_find_lf(&b, 0, 18, &pr.at), 18);
	memcpy(b.bytes, "GET / HTTP/1.1\r\n", 16);
	assert_int_equal(tg_http_find_lf(&b, 0, 16, &pr.at), 15);
	assert_int_equal(tg_http_find_lf(&b, 15, 16, &pr.at), 15);
	assert_int_equal(tg_http_find_lf(&b, 0, 15, &pr.at), 15);
	assert_int_equal(tg_http_find_lf(&b, 16, 16, &pr.at), 16);
	/* from inside a word, and the match in the next one */
	memcpy(b.bytes, "Host: a\r\nX-Long-Header: yes\r\n", 29);
	assert_int_equal(tg_http_find_lf(&b, 9, 29, &pr.at), 28);
	assert_int_equal(tg_http_find_lf(&b, 3, 29, &pr.at), 8);
}

/* tg_http_chunk_step() on text from the start of a size line: its return,
 * the chunk's size and the bytes read. */
static int chunk_line(const char *text, __u64 *size, __u32 *len)
{
	static struct tg_http_buf b;
	struct tg_chunk_step st = { 0 };
	__u32 n = (__u32)strlen(text);
	int r;

	memset(&b, 0, sizeof(b));
	memcpy(b.bytes, text, n);
	r = tg_http_chunk_step(&b, n, TG_CHUNK_LINE, &st);
	*size = st.size;
	*len = st.used;
	return r;
}

static void test_chunk_line(void **state)
{
	static const char *not_lines[] = { "\r\n", "x5\r\n", "5x\r\n", "123456789\r\n", "-1\r\n",
					   ";ext\r\n", "0x10\r\n" };
	__u64 size;
	__u32 len;

	(void)state;
	assert_int_equal(chunk_line("5\r\nhello\r\n", &size, &len), TG_CHUNK_DATA);
	assert_true(size == 5 && len == 3);
	assert_int_equal(chunk_line("1A\r\n", &size, &len), TG_CHUNK_DATA);
	assert_true(size == 26 && len == 4);
	assert_int_equal(chunk_line("ffffffff\r\n", &size, &len), TG_CHUNK_DATA);
	assert_true(size == 0xffffffffULL && len == 10);
	/* the last chunk: the body ends after the blank line */
	assert_int_equal(chunk_line("0\r\n\r\nHTTP/1.1", &size, &len), TG_CHUNK_END);
	assert_int_equal(len, 5);
	assert_int_equal(chunk_line("0\n\n", &size, &len), TG_CHUNK_END);
	assert_int_equal(len, 3);
	/* extensions and whitespace before them are skipped; a bare LF ends it */
	assert_int_equal(chunk_line("a;name=\"v\"\r\n", &size, &len), TG_CHUNK_DATA);
	assert_true(size == 10 && len == 12);
	assert_int_equal(chunk_line("10 ;x\r\n", &size, &len), TG_CHUNK_DATA);
	assert_true(size == 16 && len == 7);
	assert_int_equal(chunk_line("3\nabc", &size, &len), TG_CHUNK_DATA);
	assert_true(size == 3 && len == 2);
	/* the line goes on in the next piece */
	assert_int_equal(chunk_line("1a", &size, &len), TG_CHUNK_MORE);
	assert_int_equal(chunk_line("1a\r", &size, &len), TG_CHUNK_MORE);
	assert_int_equal(chunk_line("0\r\n\r", &size, &len), TG_CHUNK_MORE);
	for (size_t i = 0; i < sizeof(not_lines) / sizeof(not_lines[0]); i++)
		if (chunk_line(not_lines[i], &size, &len) != -1)
			fail_msg("'%s' taken for a chunk-size line", not_lines[i]);
	/* a CR at the start of a trailer line must be the blank line's */
	assert_int_equal(chunk_line("0\r\n\rX\n", &size, &len), -1);
}

/*
 * Walk the chunked body text[0, len) as tg_skmsg_chunked does: in the pieces
 * (sends) that cuts[0, ncuts) divide it into, each read in windows of at most
 * @window bytes, the framing's state carried from one to the next and chunk
 * data skipped. Returns where the body ends, or -1 where the framing is not
 * followed; *ret_data is the chunks' total size.
 */
static long chunk_walk(const char *text, size_t len, const size_t *cuts, size_t ncuts,
		       size_t window, __u64 *ret_data)
{
	static struct tg_http_buf b;
	struct tg_chunk_step st;
	__u32 state = TG_CHUNK_LINE;
	size_t pos = 0, left = 0;
	__u64 data = 0;

	for (size_t k = 0; k <= ncuts; k++) {
		size_t end = k < ncuts ? cuts[k] : len;

		while (pos < end) {
			size_t n = end - pos < window ? end - pos : window;
			int r;

			if (left) {
				n = end - pos < left ? end - pos : left;
				left -= n;
				pos += n;
				continue;
			}
			memset(&b, 0, sizeof(b));
			memcpy(b.bytes, text + pos, n);
			r = tg_http_chunk_step(&b, (__u32)n, state, &st);
			if (r < 0 || st.used > n || (r == TG_CHUNK_MORE && !st.used))
				return -1;
			pos += st.used;
			state = r == TG_CHUNK_MORE ? st.state : TG_CHUNK_LINE;
			if (r == TG_CHUNK_END) {
				*ret_data = data;
				return (long)pos;
			}
			if (r == TG_CHUNK_DATA) {
				data += st.size;
				left = st.size + 2;
			}
		}
	}
	return -1;
}

/* Chunked framing cut anywhere, once or twice, and read in small windows:
 * the end of the body and the data size are the same as read whole. */
static void test_chunk_framing_in_pieces(void **state)
{
	static const char body[] = "1a;name=\"v\"\r\nabcdefghijklmnopqrstuvwxyz\r\n"
				   "3\r\nxyz\r\n"
				   "0\r\nChecksum: 1f2e\r\nX-Trace: a b\r\n\r\n";
	const char *text = body;
	size_t len = sizeof(body) - 1, cuts[2];
	long want = (long)len;
	__u64 data = 0;

	(void)state;
	/* followed by the next response, which is not the body's */
	assert_int_equal(chunk_walk("0\r\n\r\nHTTP/1.1 200 OK\r\n", 22, NULL, 0, 64, &data), 5);
	assert_int_equal(chunk_walk(text, len, NULL, 0, TG_SCAN_MAX, &data), want);
	assert_int_equal(data, 29);
	for (size_t window = 1; window <= 64; window *= 4) {
		for (cuts[0] = 1; cuts[0] < len; cuts[0]++) {
			data = 0;
			if (chunk_walk(text, len, cuts, 1, window, &data) != want || data != 29)
				fail_msg("cut at %zu (windows of %zu): not followed", cuts[0], window);
			for (cuts[1] = cuts[0] + 1; cuts[1] < len; cuts[1]++) {
				data = 0;
				if (chunk_walk(text, len, cuts, 2, window, &data) != want || data != 29)
					fail_msg("cut at %zu and %zu (windows of %zu): not followed",
						 cuts[0], cuts[1], window);
			}
		}
	}
}

/* A trailer section of more short lines than one window's scan takes: the
 * next window goes on from the last line begun. */
static void test_chunk_many_trailer_lines(void **state)
{
	static char text[4096];
	static struct tg_http_buf b;
	struct tg_chunk_step st;
	size_t len = 0;
	__u64 data = 0;

	(void)state;
	len += (size_t)sprintf(text, "0\r\n");
	for (int i = 0; i < 900; i++)
		len += (size_t)sprintf(text + len, "a\n");
	len += (size_t)sprintf(text + len, "\r\n");
	memcpy(b.bytes, text, TG_SCAN_MAX);
	assert_int_equal(tg_http_chunk_step(&b, TG_SCAN_MAX, TG_CHUNK_LINE, &st), TG_CHUNK_MORE);
	assert_true(st.used < TG_SCAN_MAX && st.state == TG_CHUNK_BOL);
	assert_int_equal(chunk_walk(text, len, NULL, 0, TG_SCAN_MAX, &data), (long)len);
}

/* tg_http_te_chunked() on a response head: its Transfer-Encoding line. */
static bool te_chunked(const char *head)
{
	static struct tg_http_buf b;
	struct tg_proxy_req pr;
	__u32 n = (__u32)strlen(head);

	memset(&b, 0, sizeof(b));
	memcpy(b.bytes, head, n);
	assert_int_equal(tg_http_parse_head(&b, 0, n, &pr), 0);
	return pr.scan.te_line && tg_http_te_chunked(&b, pr.scan.te_line, n, &pr.at);
}

static void test_te_chunked(void **state)
{
	(void)state;
	assert_true(te_chunked("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"));
	assert_true(te_chunked("HTTP/1.1 200 OK\r\ntransfer-encoding:CHUNKED\r\n\r\n"));
	assert_true(te_chunked("HTTP/1.1 200 OK\r\nTransfer-Encoding:  chunked \r\n\r\n"));
	assert_true(te_chunked("HTTP/1.1 200 OK\r\nTransfer-Encoding:chunked\r\n\r\n"));
	assert_true(te_chunked("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\n\n"));
	/* chunked as the final coding of several: chunked framing */
	assert_true(te_chunked("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"));
	assert_true(te_chunked("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip,chunked\t\r\n\r\n"));
	assert_true(te_chunked("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n"
			       "Transfer-Encoding: chunked\r\n\r\n"));
	/* another final coding, or not the coding chunked: the end is not followed */
	assert_false(te_chunked("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"));
	assert_false(te_chunked("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
				"Transfer-Encoding: gzip\r\n\r\n"));
	assert_false(te_chunked("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunkedx\r\n\r\n"));
	assert_false(te_chunked("HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n"));
	assert_false(te_chunked("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip;chunked\r\n\r\n"));
	assert_false(te_chunked("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"));
	assert_false(te_chunked("HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\n\r\n"));
	assert_false(te_chunked("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"));
}

/* The byte-at-a-time definitions the word scans must agree with. */
static __u32 ref_token_len(const __u8 *buf, __u32 off, __u32 len)
{
	__u32 n;

	for (n = 0; n < TG_KEY_MAX && off + n < len; n++) {
		__u8 c = buf[off + n];

		if (c == '\r' || c == '\n' || c == ' ' || c == '\t')
			break;
	}
	return n;
}

static __u32 ref_scan_for(const __u8 *buf, __u32 from, __u32 len, __u8 c1, __u8 c2)
{
	for (__u32 i = from; i < len; i++)
		if (buf[i] == c1 || buf[i] == c2)
			return i;
	return len;
}

/* Every offset, token length, terminator and copied length near them, with
 * terminator bytes planted beyond the copied length (never to be seen). */
static void test_token_len(void **state)
{
	static const __u8 ends[] = { '\r', '\n', ' ', '\t' };
	static struct tg_http_buf b;
	unsigned checked = 0;

	(void)state;
	for (__u32 off = 0; off < 80; off++)
		for (__u32 n = 0; n <= TG_KEY_MAX + 10; n++)
			for (unsigned e = 0; e < sizeof(ends); e++)
				for (__u32 len = off; len <= off + n + 9 && len <= TG_SCAN_MAX; len++) {
					memset(b.bytes, 'k', sizeof(b.bytes));
					b.bytes[off + n] = ends[e];
					for (__u32 j = len; j < sizeof(b.bytes); j += 3)
						b.bytes[j] = ends[(j / 3) % sizeof(ends)];
					if (tg_token_len(b.bytes, off, len) != ref_token_len(b.bytes, off, len))
						fail_msg("off %u token %u end %u len %u: %u, want %u", off, n,
							 ends[e], len, tg_token_len(b.bytes, off, len),
							 ref_token_len(b.bytes, off, len));
					checked++;
				}
	/* the last bytes of the buffer, and an offset past the copied length */
	memset(b.bytes, 'k', sizeof(b.bytes));
	assert_int_equal(tg_token_len(b.bytes, TG_SCAN_MAX - 5, TG_SCAN_MAX), 5);
	assert_int_equal(tg_token_len(b.bytes, 10, 4), 0);
	assert_true(checked > 100000);
}

static void test_scan_for(void **state)
{
	static struct tg_http_buf b;
	__u32 found;

	(void)state;
	for (__u32 from = 0; from < 40; from++)
		for (__u32 at = from; at < from + 40; at++)
			for (__u32 len = from; len <= at + 10; len++) {
				memset(b.bytes, 'a', sizeof(b.bytes));
				b.bytes[at] = (at & 1) ? '?' : '#';
				b.bytes[len] = '?'; /* beyond the copied bytes */
				tg_scan_for(b.bytes, from, len, '?', '#', &found);
				assert_int_equal(found, ref_scan_for(b.bytes, from, len, '?', '#'));
			}
	memset(b.bytes, 'a', sizeof(b.bytes));
	tg_scan_for(b.bytes, 0, TG_SCAN_MAX, ' ', '\n', &found);
	assert_int_equal(found, TG_SCAN_MAX);
}

/* The header lines of b[0, len) walked a byte at a time, as
 * tg_scan_headers() must see them from the request line's SP at sp: the
 * first X-API-Key line and where the head ends (0: not within len). */
static void ref_head_lines(const __u8 *buf, __u32 sp, __u32 len, __u32 *key_line, __u32 *end)
{
	__u32 ls = sp + 1;

	*key_line = 0;
	*end = 0;
	while (ls < len && buf[ls] != '\n')
		ls++;
	for (ls++; ls < len; ls++) {
		if (buf[ls] == '\n' || (buf[ls] == '\r' && ls + 1 < len && buf[ls + 1] == '\n')) {
			*end = ls + (buf[ls] == '\r' ? 2 : 1);
			return;
		}
		if (buf[ls] == '\r')
			return;
		if (!*key_line && len - ls >= 10 && strncasecmp((const char *)buf + ls, "x-api-key:", 10) == 0)
			*key_line = ls;
		while (ls < len && buf[ls] != '\n')
			ls++;
	}
}

/* The header scan finds a line end wherever it falls in the words it reads
 * at a time: heads of random line lengths, CRLF or LF, cut at every length,
 * with line ends in the bytes beyond the copied ones, against the byte at a
 * time walk above. */
static void test_header_lines_at_random(void **state)
{
	static struct tg_http_buf b;
	static const char line_req[] = "GET /v1/orders HTTP/1.1\r\n";
	unsigned long seed = 1, checked = 0, keyed = 0, ended = 0;

	(void)state;
	for (int round = 0; round < 3000; round++) {
		__u32 n = sizeof(line_req) - 1, full, key_line, end;
		int lines, key_at;

		memcpy(b.bytes, line_req, n);
		seed = seed * 6364136223846793005UL + 1442695040888963407UL;
		lines = (int)(seed >> 59) % 12;
		key_at = (int)(seed >> 40) % (lines + 2) - 1;
		for (int l = 0; l < lines && n < TG_SCAN_MAX - 100; l++) {
			__u32 fill;

			seed = seed * 6364136223846793005UL + 1442695040888963407UL;
			fill = (__u32)(seed >> 33) % 70;
			if (l == key_at)
				n += (__u32)sprintf((char *)b.bytes + n, "x-API-key: tg_%u", (unsigned)fill);
			else
				n += (__u32)sprintf((char *)b.bytes + n, "H%u:", (unsigned)l);
			for (__u32 k = 0; k < fill; k++)
				b.bytes[n++] = (__u8)('a' + (seed >> (k % 20)) % 26);
			if ((seed >> 20) & 1)
				b.bytes[n++] = '\r';
			b.bytes[n++] = '\n';
		}
		if ((seed >> 21) & 1)
			b.bytes[n++] = '\r';
		b.bytes[n++] = '\n';
		full = n;
		/* a body with line ends, then more in the slack */
		for (__u32 k = n; k < sizeof(b.bytes); k++)
			b.bytes[k] = (k * 7 + (__u32)seed) % 5 ? 'b' : '\n';
		for (__u32 len = sizeof(line_req) - 1; len <= full + 8 && len <= TG_SCAN_MAX; len++) {
			struct tg_http_req req;

			memset(&req, 0, sizeof(req));
			tg_http_parse_request(&b, len, &req);
			ref_head_lines(b.bytes, 14, len, &key_line, &end);
			if (req.method == TG_M_NONE) /* the request line itself cut short */
				fail_msg("round %d len %u: no request", round, len);
			if (req.scan.key_line != key_line || req.scan.end != end)
				fail_msg("round %d len %u (head %u): key line %u end %u, want %u and %u",
					 round, len, full, req.scan.key_line, req.scan.end, key_line, end);
			keyed += key_line != 0;
			ended += end != 0;
			checked++;
		}
	}
	assert_true(checked > 100000 && keyed > 10000 && ended > 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_head_end_and_body_length),
		cmocka_unit_test(test_unknown_body_length),
		cmocka_unit_test(test_request_body_from_head),
		cmocka_unit_test(test_request_line_unread),
		cmocka_unit_test(test_path_unsafe),
		cmocka_unit_test(test_maybe_other_method),
		cmocka_unit_test(test_first_key_line),
		cmocka_unit_test(test_head_not_complete),
		cmocka_unit_test(test_forwarded_addresses),
		cmocka_unit_test(test_address_forms),
		cmocka_unit_test(test_not_addresses),
		cmocka_unit_test(test_find_lf),
		cmocka_unit_test(test_chunk_line),
		cmocka_unit_test(test_chunk_framing_in_pieces),
		cmocka_unit_test(test_chunk_many_trailer_lines),
		cmocka_unit_test(test_te_chunked),
		cmocka_unit_test(test_token_len),
		cmocka_unit_test(test_scan_for),
		cmocka_unit_test(test_header_lines_at_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
