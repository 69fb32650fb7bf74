/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * event.h - usage events: one per request the data plane decided on
 * (DESIGN §5), and their two encodings on the tollgate.usage topic and in the
 * events file:
 *
 *   - binary record v1 (content-type application/vnd.tollgate.usage.v1),
 *     little-endian, a 92-byte header then the endpoint;
 *   - CloudEvents 1.0 structured-mode JSON (application/cloudevents+json),
 *     also the line format of agent.events_file.
 *
 * docs/event-format.md is the reference for both, with the verdict and method
 * codes. An event is identified by "{host_id}-{epoch}-{seq}"; a consumer counts
 * each id once.
 */
#ifndef TG_LIB_EVENT_H
#define TG_LIB_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "../bpf/tollgate_abi.h"

#define EVENT_V1_MAGIC 0x4754 /* "TG" read as a little-endian u16 */
#define EVENT_V1_VERSION 1
#define EVENT_V1_HEADER_LEN 92
#define EVENT_ENDPOINT_MAX TG_PATH_MAX /* 128 */
#define EVENT_V1_MAX (EVENT_V1_HEADER_LEN + EVENT_ENDPOINT_MAX)
#define EVENT_ID_MAX 43	    /* "4294967295-4294967295-18446744073709551615" + NUL */
#define EVENT_IP_MAX 46	    /* INET6_ADDRSTRLEN */
#define EVENT_JSON_MAX 2048 /* any event's JSON form, with its NUL, fits */

/* Offsets of the binary v1 header (docs/event-format.md). */
#define EVENT_V1_OFF_MAGIC 0
#define EVENT_V1_OFF_VERSION 2
#define EVENT_V1_OFF_VERDICT 3
#define EVENT_V1_OFF_FLAGS 4
#define EVENT_V1_OFF_TIME_NS 8
#define EVENT_V1_OFF_HOST_ID 16
#define EVENT_V1_OFF_EPOCH 20
#define EVENT_V1_OFF_SEQ 24
#define EVENT_V1_OFF_CONSUMER_ID 32
#define EVENT_V1_OFF_PLAN_ID 36
#define EVENT_V1_OFF_API_ID 40
#define EVENT_V1_OFF_ROUTE_ID 44
#define EVENT_V1_OFF_KEY_ID 48
#define EVENT_V1_OFF_STATUS 52
#define EVENT_V1_OFF_METHOD 54
#define EVENT_V1_OFF_ENDPOINT_LEN 55
#define EVENT_V1_OFF_LATENCY_US 56
#define EVENT_V1_OFF_REQ_BYTES 60
#define EVENT_V1_OFF_RESP_BYTES 64
#define EVENT_V1_OFF_COUNT 68
#define EVENT_V1_OFF_CLIENT_IP 72
#define EVENT_V1_OFF_COUNTRY 88
#define EVENT_V1_OFF_RESERVED 90
#define EVENT_V1_OFF_ENDPOINT 92

struct usage_event {
	uint64_t time_ns;     /* when XDP saw the request, Unix epoch ns, UTC */
	uint32_t host_id;     /* agent.host_id */
	uint32_t epoch;	      /* agent start counter, persisted in agent.state_dir */
	uint64_t seq;	      /* per host and epoch */
	uint32_t consumer_id; /* ids are >= 1; 0 = none (e.g. missing_key) */
	uint32_t plan_id;
	uint32_t api_id;
	uint32_t route_id;
	uint32_t key_id;
	uint16_t status;     /* HTTP status; 0 = unanswered or refused */
	uint8_t method;	     /* enum tg_method */
	uint8_t verdict;     /* enum tg_verdict */
	uint32_t flags;	     /* TG_EF_UNANSWERED | TG_EF_SUMMARY | TG_EF_UNATTRIBUTED */
	uint32_t latency_us; /* request to first response byte */
	uint32_t req_bytes;
	uint32_t resp_bytes;
	uint32_t count;			       /* 1, or N for a summary event */
	uint8_t client_ip[16];		       /* IPv6, IPv4 as v4-mapped (::ffff:a.b.c.d) */
	char country[2];		       /* ISO 3166-1 alpha-2, "--" unknown */
	char endpoint[EVENT_ENDPOINT_MAX + 1]; /* template (endpoint.h), NUL-terminated */
	uint8_t endpoint_len;		       /* bytes of endpoint, <= EVENT_ENDPOINT_MAX */
};

/*
 * event_method_name() - "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD",
 * "OPTIONS" for the enum tg_method codes, "" for TG_M_NONE, NULL for an
 * unknown code. Static strings.
 */
const char *event_method_name(unsigned int method);

/* event_verdict_name() - as config_verdict_name(): "admitted" ... NULL. */
const char *event_verdict_name(unsigned int verdict);

/*
 * event_id() - "{host_id}-{epoch}-{seq}" in decimal into @buf (@size bytes,
 * EVENT_ID_MAX always fits), NUL-terminated. Returns the length, or -ENOSPC
 * (@buf then holds no partial id when @size > 0: it is "").
 */
int event_id(const struct usage_event *ev, char *buf, size_t size);

/*
 * event_format_ip() - @ip as text into @buf (@size bytes, EVENT_IP_MAX always
 * fits): a v4-mapped address as a dotted quad ("192.0.2.1"), any other as
 * RFC 5952 IPv6 ("2001:db8::1", lowercase, longest zero run compressed).
 * Returns the length, or -ENOSPC.
 */
int event_format_ip(const uint8_t ip[16], char *buf, size_t size);

/*
 * event_to_json() - the CloudEvents 1.0 structured-mode JSON object of @ev,
 * one line without a newline, NUL-terminated in @buf (@size bytes;
 * EVENT_JSON_MAX always fits):
 *
 *   {"specversion":"1.0","type":"tollgate.request",
 *    "source":"tollgate-agent/<host_id>","id":"<event id>",
 *    "time":"<RFC 3339 UTC, 9 fractional digits>Z","subject":"<consumer_id>",
 *    "datacontenttype":"application/json","data":{...}}
 *
 * data holds the fields of DESIGN §5 by name: consumer_id, plan_id, api_id,
 * route_id, key_id (decimal strings), endpoint (string), method (name),
 * status, latency_us, req_bytes, resp_bytes (numbers), client_ip (string),
 * country (2 letters, "--" unless both are A-Z), verdict (name), flags
 * ({"unanswered","summary","unattributed"} booleans), count (number).
 * The endpoint is escaped for JSON ('"', '\\', control characters and DEL as
 * \u00XX); valid UTF-8 is kept, any byte that is not part of valid UTF-8 is
 * written percent-encoded ("%FF"), as it would be in a URL.
 * Returns the length without the NUL, -ENOSPC if @buf is too small, or
 * -EINVAL for an event that cannot be encoded (endpoint_len above
 * EVENT_ENDPOINT_MAX, unknown verdict or method).
 */
int event_to_json(const struct usage_event *ev, char *buf, size_t size);

/*
 * event_encode_v1() - the binary v1 record of @ev into @buf (@size bytes).
 * Returns the bytes written, EVENT_V1_HEADER_LEN + endpoint_len; -ENOSPC if
 * @size is less; -EINVAL for an event that cannot be encoded (as above).
 * The reserved field is written as zero.
 */
int event_encode_v1(const struct usage_event *ev, uint8_t *buf, size_t size);

/*
 * event_decode_v1() - parse one binary v1 record of exactly @len bytes.
 * Returns 0, or -EBADMSG if the magic or version is wrong, @len is not
 * EVENT_V1_HEADER_LEN + endpoint_len, endpoint_len is above
 * EVENT_ENDPOINT_MAX, or the verdict or method code is unknown. Unknown flag
 * bits and the reserved field are ignored. @ret is written only on success,
 * its endpoint NUL-terminated.
 */
int event_decode_v1(const uint8_t *buf, size_t len, struct usage_event *ret);

/*
 * event_from_json() - parse the CloudEvents JSON of one event, as
 * event_to_json() writes it (@len bytes, not necessarily NUL-terminated).
 * Required: specversion "1.0", type "tollgate.request", id
 * "{host_id}-{epoch}-{seq}", time (RFC 3339 UTC with 'Z', up to 9 fractional
 * digits, 1970..2262), and data with every field of event_to_json() (ids as
 * decimal strings, numbers in range, method and verdict by name, flags as
 * booleans, endpoint at most EVENT_ENDPOINT_MAX bytes). Unknown attributes
 * and data fields are ignored, so later versions can add some.
 * Returns 0 with @ret filled; -EBADMSG with a one-line reason in @err
 * (@err_len bytes; "data.status: not a number 0..65535") for anything else;
 * -ENOMEM. @ret is written only on success.
 */
int event_from_json(const char *json, size_t len, struct usage_event *ret, char *err,
		    size_t err_len);

#endif /* TG_LIB_EVENT_H */
