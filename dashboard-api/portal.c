/* SPDX-License-Identifier: BSD-2-Clause */
#include <stdint.h>
#include <string.h>

#include "dashboard-api/portal.h"

/* one embedded asset; the table ends with name NULL (scripts/gen-portal-embed.sh) */
struct portal_file {
	const char *name;
	const unsigned char *data;
	uint64_t len;
	const char *etag; /* with its quotes: "\"3f2a...\"" */
};

extern const struct portal_file portal_files[];

/*
 * The same policy as the page's: scripts, styles, fetches only from this
 * origin; no inline script or style attribute can run, so API output that
 * slipped through unescaped could still not execute.
 */
#define PORTAL_CSP                                                                             \
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "        \
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

static const struct {
	const char *suffix;
	const char *type;
} content_types[] = {
	{ ".html", "text/html; charset=utf-8" },
	{ ".js", "text/javascript; charset=utf-8" },
	{ ".mjs", "text/javascript; charset=utf-8" },
	{ ".css", "text/css; charset=utf-8" },
	{ ".svg", "image/svg+xml" },
	{ ".png", "image/png" },
	{ ".ico", "image/x-icon" },
	{ ".json", "application/json" },
	{ ".txt", "text/plain; charset=utf-8" },
};

bool portal_path(const char *url)
{
	size_t n = strlen(PORTAL_PREFIX);

	return strncmp(url, PORTAL_PREFIX, n) == 0 && (url[n] == '\0' || url[n] == '/');
}

static const char *content_type(const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < sizeof(content_types) / sizeof(content_types[0]); i++) {
		size_t slen = strlen(content_types[i].suffix);

		if (len > slen && strcmp(name + len - slen, content_types[i].suffix) == 0)
			return content_types[i].type;
	}
	return "application/octet-stream";
}

static const struct portal_file *find_file(const char *name)
{
	for (const struct portal_file *f = portal_files; f->name; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

/* whether If-None-Match names @etag (or is "*"); weak forms compare equal too */
static bool etag_matches(const char *if_none_match, const char *etag)
{
	return if_none_match &&
	       (strcmp(if_none_match, "*") == 0 || strstr(if_none_match, etag) != NULL);
}

static void security_headers(struct MHD_Response *resp)
{
	MHD_add_response_header(resp, "Content-Security-Policy", PORTAL_CSP);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
}

static enum MHD_Result queue(struct MHD_Connection *conn, unsigned int status,
			     struct MHD_Response *resp, unsigned int *ret_status)
{
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;
	security_headers(resp);
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	*ret_status = status;
	return ret;
}

static enum MHD_Result reply_plain(struct MHD_Connection *conn, unsigned int status,
				   const char *text, unsigned int *ret_status)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);

	if (resp) {
		MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
		MHD_add_response_header(resp, "Cache-Control", "no-store");
		if (status == 405)
			MHD_add_response_header(resp, "Allow", "GET, HEAD");
	}
	return queue(conn, status, resp, ret_status);
}

enum MHD_Result portal_reply(struct MHD_Connection *conn, const char *method, const char *url,
			     unsigned int *ret_status)
{
	const char *name = url + strlen(PORTAL_PREFIX);
	const struct portal_file *f;
	struct MHD_Response *resp;

	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply_plain(conn, 405,
				   "405 method not allowed: the portal's files are read with GET\n",
				   ret_status);
	if (*name == '\0') {
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
		if (resp)
			MHD_add_response_header(resp, "Location", PORTAL_PREFIX "/");
		return queue(conn, 308, resp, ret_status);
	}
	name++; /* the '/' */
	f = find_file(*name ? name : "index.html");
	if (!f)
		return reply_plain(conn, 404, "404 not found: no such file in the portal\n",
				   ret_status);
	if (etag_matches(MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_IF_NONE_MATCH),
			 f->etag)) {
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
		if (resp) {
			MHD_add_response_header(resp, "ETag", f->etag);
			MHD_add_response_header(resp, "Cache-Control", "no-cache");
		}
		return queue(conn, 304, resp, ret_status);
	}
	resp = MHD_create_response_from_buffer((size_t)f->len, (void *)f->data,
					       MHD_RESPMEM_PERSISTENT);
	if (resp) {
		MHD_add_response_header(resp, "Content-Type", content_type(f->name));
		MHD_add_response_header(resp, "ETag", f->etag);
		MHD_add_response_header(resp, "Cache-Control", "no-cache");
	}
	return queue(conn, 200, resp, ret_status);
}
