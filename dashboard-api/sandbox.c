/* SPDX-License-Identifier: BSD-2-Clause */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "dashboard-api/auth.h"
#include "dashboard-api/db.h"
#include "dashboard-api/jsonin.h"
#include "dashboard-api/limiter.h"
#include "dashboard-api/sandbox.h"
#include "lib/log.h"

#define HEADER_LINE_MAX 8192

static const char *const methods[] = { "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE",
				       "OPTIONS", NULL };

/* headers the caller may not set: credentials, routing, framing, hop-by-hop */
static const char *const forbidden_headers[] = {
	"host",	      "x-api-key", "authorization",	"content-length", "transfer-encoding",
	"connection", "expect",	   "upgrade",		"te",		  "trailer",
	"keep-alive", NULL,
};

/* what the tollgate kernel answers for each refusal (bpf/lib/reply.h) */
static const struct {
	const char *verdict;
	long status;
} refusals[] = {
	{ "missing_key", 401 },	  { "unknown_key", 401 }, { "revoked_key", 401 },
	{ "suspended", 403 },	  { "forbidden_api", 403 }, { "over_limit", 429 },
	{ "quota_exhausted", 429 },
};

/* the answer being received */
struct answer {
	char *body;
	size_t len;
	bool truncated;
	json_t *headers; /* lower-case name -> value */
	bool headers_truncated;
	char content_type[128];
};

static bool method_valid(const char *method)
{
	for (size_t i = 0; methods[i]; i++)
		if (!strcmp(methods[i], method))
			return true;
	return false;
}

static bool is_tchar(char c)
{
	return isalnum((unsigned char)c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool token_valid(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!is_tchar(*s))
			return false;
	return true;
}

/* RFC 3986 path and query characters: unreserved, sub-delims, ":@/?" and '%' */
static bool path_valid(const char *s)
{
	if (s[0] != '/')
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("-._~!$&'()*+,;=:@/?%", *s))
			return false;
	return true;
}

static bool header_value_valid(const char *s)
{
	for (; *s; s++)
		if (((unsigned char)*s < ' ' && *s != '\t') || *s == 0x7f)
			return false;
	return true;
}

static bool header_forbidden(const char *name)
{
	if (!strncasecmp(name, "proxy-", 6))
		return true;
	for (size_t i = 0; forbidden_headers[i]; i++)
		if (!strcasecmp(name, forbidden_headers[i]))
			return true;
	return false;
}

/* "headers": the curl list of "Name: value" lines in @ret; 400 naming the bad one */
static int read_headers(struct reply *rep, const json_t *obj, struct curl_slist **ret,
			bool *ret_content_type, bool *ret_user_agent)
{
	const json_t *headers = json_object_get(obj, "headers"), *value;
	struct curl_slist *list = NULL, *l;
	const char *name;
	char line[HEADER_LINE_MAX + 64], param[96];

	*ret = NULL;
	if (!headers || json_is_null(headers))
		return 0;
	if (!json_is_object(headers))
		return reply_error(rep, 400, "invalid_request", "headers",
				   "headers: must be an object of header names to strings");
	if (json_object_size(headers) > SANDBOX_HEADERS_MAX)
		return reply_error(rep, 400, "invalid_request", "headers",
				   "headers: at most %d headers", SANDBOX_HEADERS_MAX);
	json_object_foreach((json_t *)headers, name, value) {
		const char *v = json_string_value(value);

		snprintf(param, sizeof(param), "headers.%.80s", name);
		if (!token_valid(name) || strlen(name) > 64) {
			curl_slist_free_all(list);
			return reply_error(rep, 400, "invalid_request", "headers",
					   "headers: a header name must be an HTTP token of at "
					   "most 64 characters");
		}
		if (header_forbidden(name)) {
			curl_slist_free_all(list);
			return reply_error(rep, 400, "invalid_request", param,
					   "%s: cannot be set; the sandbox sends the caller's key "
					   "in X-API-Key to the API's sandbox_url",
					   param);
		}
		if (!v || json_string_length(value) > SANDBOX_HEADER_VALUE_MAX ||
		    strlen(v) != json_string_length(value) || !header_value_valid(v)) {
			curl_slist_free_all(list);
			return reply_error(rep, 400, "invalid_request", param,
					   "%s: must be a string of at most %d printable "
					   "characters",
					   param, SANDBOX_HEADER_VALUE_MAX);
		}
		if (!strcasecmp(name, "content-type"))
			*ret_content_type = true;
		if (!strcasecmp(name, "user-agent"))
			*ret_user_agent = true;
		/* "Name:" alone would make curl drop the header: "Name;" sends it empty */
		snprintf(line, sizeof(line), v[0] ? "%s: %s" : "%s;", name, v);
		l = curl_slist_append(list, line);
		if (!l) {
			curl_slist_free_all(list);
			return -ENOMEM;
		}
		list = l;
	}
	*ret = list;
	return 0;
}

static size_t on_body(char *data, size_t size, size_t n, void *cls)
{
	struct answer *a = cls;
	size_t len = size * n, room = SANDBOX_BODY_MAX - a->len;

	if (len > room) {
		len = room;
		a->truncated = true;
	}
	if (len) {
		char *nb = realloc(a->body, a->len + len + 1);

		if (!nb)
			return 0;
		memcpy(nb + a->len, data, len);
		a->len += len;
		nb[a->len] = '\0';
		a->body = nb;
	}
	/* stop reading at the limit: curl ends the transfer (CURLE_WRITE_ERROR) */
	return a->truncated ? 0 : size * n;
}

/* one header line; a status line starts the headers afresh (after a 1xx) */
static size_t on_header(char *data, size_t size, size_t n, void *cls)
{
	struct answer *a = cls;
	size_t len = size * n, nlen;
	char name[128], *lname, value[HEADER_LINE_MAX];
	const char *colon, *v, *end;
	json_t *old;

	if (len >= 5 && !memcmp(data, "HTTP/", 5)) {
		json_object_clear(a->headers);
		a->headers_truncated = false;
		a->content_type[0] = '\0';
		return len;
	}
	colon = memchr(data, ':', len);
	if (!colon)
		return len; /* the blank line, or a folded continuation: ignored */
	nlen = (size_t)(colon - data);
	if (nlen == 0 || nlen >= sizeof(name))
		return len;
	for (size_t i = 0; i < nlen; i++)
		name[i] = (char)tolower((unsigned char)data[i]);
	name[nlen] = '\0';
	lname = name;
	v = colon + 1;
	end = data + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	snprintf(value, sizeof(value), "%.*s", (int)(end - v), v);
	if (!strcmp(lname, "content-type"))
		snprintf(a->content_type, sizeof(a->content_type), "%.127s", value);
	old = json_object_get(a->headers, lname);
	if (old) {
		char joined[HEADER_LINE_MAX];

		snprintf(joined, sizeof(joined), "%.4000s, %.4000s", json_string_value(old), value);
		json_object_set_new(a->headers, lname,
				    json_stringn_nocheck(joined, strlen(joined)));
	} else if (json_object_size(a->headers) < SANDBOX_HEADERS_MAX) {
		json_object_set_new(a->headers, lname, json_stringn_nocheck(value, strlen(value)));
	} else {
		a->headers_truncated = true;
	}
	return len;
}

/* the length of the valid UTF-8 sequence at @s (@len bytes left), 0 if invalid */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
	size_t n;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

/* @s as a JSON string of valid UTF-8: each invalid byte becomes U+FFFD */
static json_t *text_json(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	char *out, *o;
	json_t *j;

	out = malloc(len * 3 + 1);
	if (!out)
		return NULL;
	o = out;
	for (size_t i = 0; i < len;) {
		size_t n = utf8_seq(p + i, len - i);

		if (n) {
			memcpy(o, p + i, n);
			o += n;
			i += n;
		} else {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	j = json_stringn(out, (size_t)(o - out));
	free(out);
	return j;
}

/* the gateway's verdict the answer stands for, or "admitted" */
static const char *verdict_of(long status, const struct answer *a)
{
	char body[64];

	if (status != 401 && status != 403 && status != 429)
		return "admitted";
	if (strncasecmp(a->content_type, "application/json", 16) != 0 || a->truncated)
		return "admitted";
	if (status == 429 && (!json_object_get(a->headers, "retry-after") ||
			      !json_object_get(a->headers, "ratelimit-policy") ||
			      !json_object_get(a->headers, "ratelimit")))
		return "admitted";
	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		int n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}", refusals[i].verdict);

		if (refusals[i].status == status && a->len == (size_t)n &&
		    !memcmp(a->body, body, (size_t)n))
			return refusals[i].verdict;
	}
	return "admitted";
}

/* the API's sandbox_url into @ret (malloc'ed); 404/400 naming api_id */
static int sandbox_url(struct request *req, struct reply *rep, const char *api_id, char **ret)
{
	const char *params[] = { api_id };
	PGresult *res;
	int r = db_query(req, "sandbox url", "SELECT sandbox_url FROM apis WHERE id = $1", 1,
			 params, &res);

	if (r)
		return r;
	if (PQntuples(res) == 0)
		r = reply_error(rep, 404, "not_found", "api_id", "no such API: %s", api_id);
	else if (PQgetisnull(res, 0, 0) || !PQgetvalue(res, 0, 0)[0])
		r = reply_error(rep, 400, "invalid_request", "api_id",
				"api_id: this API has no sandbox_url to try it on");
	else if (!(*ret = strdup(PQgetvalue(res, 0, 0))))
		r = -ENOMEM;
	PQclear(res);
	return r;
}

/* the JSON of the call's outcome */
static json_t *outcome_json(CURL *curl, CURLcode cc, const struct answer *a, const char *errbuf)
{
	curl_off_t total_us = 0;
	long status = 0;
	json_t *out, *body;

	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(curl, CURLINFO_TOTAL_TIME_T, &total_us);
	/* a body cut at the limit ends the transfer with a write error: still an answer */
	if ((cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && a->truncated)) || status < 100) {
		return json_pack("{s:s, s:n, s:O, s:s, s:b, s:f, s:s, s:s}", "object",
				 "sandbox_response", "status", "headers", a->headers, "body", "",
				 "body_truncated", 0, "latency_ms", (double)total_us / 1000.0,
				 "verdict", "no_response", "error",
				 errbuf[0] ? errbuf : curl_easy_strerror(cc));
	}
	body = text_json(a->body ? a->body : "", a->len);
	if (!body)
		return NULL;
	out = json_pack("{s:s, s:i, s:O, s:o, s:b, s:f, s:s}", "object", "sandbox_response",
			"status", (json_int_t)status, "headers", a->headers, "body", body,
			"body_truncated", a->truncated, "latency_ms", (double)total_us / 1000.0,
			"verdict", verdict_of(status, a));
	if (out && a->headers_truncated)
		json_object_set_new(out, "headers_truncated", json_true());
	return out;
}

int sandbox_request(struct request *req, struct reply *rep)
{
	static const char *const fields[] = { "api_id", "method", "path", "headers", "body", NULL };
	struct answer a = { 0 };
	struct curl_slist *headers = NULL, *l;
	const char *method, *path, *key = auth_caller_key(req);
	char api_id[REQUEST_ID_MAX], errbuf[CURL_ERROR_SIZE] = "", line[256];
	char *base = NULL, *url = NULL, *body_text = NULL;
	unsigned char bucket[LIMITER_KEY_LEN] = { 0 };
	bool has_type = false, has_agent = false;
	const json_t *body;
	size_t body_len = 0, blen;
	unsigned int wait;
	json_t *out;
	CURLcode cc;
	CURL *curl = NULL;
	int r;

	if (!key) /* the route is for consumers: cannot happen */
		return reply_error(rep, 404, "not_found", NULL, "no such resource");
	if ((r = jsonin_only(rep, req->body, fields)) ||
	    (r = jsonin_id(rep, req->body, "api_id", JSONIN_REQUIRED, api_id, NULL)) ||
	    (r = jsonin_string(rep, req->body, "method", JSONIN_REQUIRED, 16, &method, NULL)) ||
	    (r = jsonin_string(rep, req->body, "path", JSONIN_REQUIRED, SANDBOX_PATH_MAX, &path,
			       NULL)))
		return r;
	if (!method_valid(method))
		return reply_error(rep, 400, "invalid_request", "method",
				   "method: must be GET, HEAD, POST, PUT, PATCH, DELETE or "
				   "OPTIONS");
	if (!path_valid(path))
		return reply_error(rep, 400, "invalid_request", "path",
				   "path: must start with '/' and hold only URL characters "
				   "(percent-encode the others; no fragment)");
	r = read_headers(rep, req->body, &headers, &has_type, &has_agent);
	if (r)
		return r;
	body = json_object_get(req->body, "body");
	if (json_is_string(body)) {
		body_len = json_string_length(body);
		body_text = malloc(body_len + 1);
		if (body_text)
			memcpy(body_text, json_string_value(body), body_len + 1);
	} else if (body && !json_is_null(body)) {
		body_text = json_dumps(body, REPLY_JSON_FLAGS | JSON_ENCODE_ANY);
		body_len = body_text ? strlen(body_text) : 0;
		if (body_text && !has_type) {
			l = curl_slist_append(headers, "Content-Type: application/json");
			if (!l) {
				r = -ENOMEM;
				goto out_free;
			}
			headers = l;
		}
	}
	if (body && !json_is_null(body) && !body_text) {
		r = -ENOMEM;
		goto out_free;
	}
	if (body_len > SANDBOX_REQUEST_BODY_MAX) {
		r = reply_error(rep, 400, "invalid_request", "body", "body: at most %d bytes",
				SANDBOX_REQUEST_BODY_MAX);
		goto out_free;
	}
	r = sandbox_url(req, rep, api_id, &base);
	if (r)
		goto out_free;
	blen = strlen(base);
	while (blen && base[blen - 1] == '/')
		blen--;
	url = malloc(blen + strlen(path) + 1);
	if (!url) {
		r = -ENOMEM;
		goto out_free;
	}
	memcpy(url, base, blen);
	strcpy(url + blen, path);

	/* only calls that go out count against the consumer's allowance */
	memcpy(bucket, &req->caller.consumer_id, sizeof(req->caller.consumer_id));
	wait = limiter_acquire(req->ctx->sandbox_limiter, bucket);
	if (wait) {
		r = reply_error(rep, 429, "rate_limited", NULL,
				"too many sandbox calls; retry in %u s", wait);
		rep->retry_after = wait;
		goto out_free;
	}

	snprintf(line, sizeof(line), "X-API-Key: %s", key);
	if (!(l = curl_slist_append(headers, line)) || !(headers = l) ||
	    !(l = curl_slist_append(headers, "Expect;")) || !(headers = l) ||
	    (!has_agent && (!(l = curl_slist_append(headers, "User-Agent: tollgate-sandbox/1")) ||
			    !(headers = l)))) {
		r = -ENOMEM;
		goto out_free;
	}
	explicit_bzero(line, sizeof(line));
	a.headers = json_object();
	curl = curl_easy_init();
	if (!curl || !a.headers) {
		r = -ENOMEM;
		goto out_free;
	}
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(curl, CURLOPT_PROXY, ""); /* never the environment's proxy */
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)SANDBOX_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)SANDBOX_TIMEOUT_MS);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &a);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, &a);
	if (!strcmp(method, "HEAD"))
		curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
	else
		curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	if (body_text) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body_text);
	}
	cc = curl_easy_perform(curl);
	if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && a.truncated))
		log_info("sandbox: consumer %u: %s %s: %s", req->caller.consumer_id, method, url,
			 errbuf[0] ? errbuf : curl_easy_strerror(cc));
	out = outcome_json(curl, cc, &a, errbuf);
	if (!out) {
		r = -ENOMEM;
		goto out_free;
	}
	json_object_set_new(out, "api_id", json_string(api_id));
	json_object_set_new(out, "method", json_string(method));
	json_object_set_new(out, "url", json_string(url));
	r = reply_json(rep, 200, out);
out_free:
	if (curl)
		curl_easy_cleanup(curl);
	/* the list holds the caller's key */
	for (l = headers; l; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(headers);
	json_decref(a.headers);
	free(a.body);
	free(body_text);
	free(base);
	free(url);
	return r;
}
