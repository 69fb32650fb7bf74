/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>

#include "billing/stripe.h"

#define STRIPE_URL_MAX 1024
#define STRIPE_SECRET_MAX 1024
#define STRIPE_TIMEOUT_MAX 600000u

struct stripe {
	CURL *curl;
	char *base_url;	   /* without a trailing '/' */
	char *auth_header; /* "Authorization: Bearer <key>", wiped by stripe_free() */
	char errbuf[CURL_ERROR_SIZE];
};

/* A growable byte buffer, always NUL-terminated once something was added. */
struct buf {
	char *data;
	size_t len;
	size_t cap;
};

/* What one HTTP exchange brought back besides the status. */
struct answer {
	struct buf body;
	bool too_large;
	bool out_of_memory;
	bool replayed;
	int should_retry; /* Stripe-Should-Retry: -1 absent, 0 false, 1 true */
	char request_id[STRIPE_ID_MAX];
};

static int buf_append(struct buf *b, const char *s, size_t n)
{
	size_t need, cap;
	char *p;

	if (n > SIZE_MAX - b->len - 1)
		return -ENOMEM;
	need = b->len + n + 1;
	if (need > b->cap) {
		cap = b->cap ? b->cap : 256;
		while (cap < need)
			cap = cap > SIZE_MAX / 2 ? need : cap * 2;
		p = realloc(b->data, cap);
		if (!p)
			return -ENOMEM;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

static void buf_free(struct buf *b)
{
	free(b->data);
	*b = (struct buf){ 0 };
}

/* Copy @src into @dst (@size bytes); false if it did not fit (dst then holds a prefix). */
static bool copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size) {
		memcpy(dst, src, size - 1);
		dst[size - 1] = '\0';
		return false;
	}
	memcpy(dst, src, n + 1);
	return true;
}

/* Append to r->message, truncating silently: it is for a log line. */
__attribute__((format(printf, 2, 3))) static void add_message(struct stripe_result *r,
							      const char *fmt, ...)
{
	size_t len = strlen(r->message);
	va_list ap;

	if (len + 1 >= sizeof(r->message))
		return;
	va_start(ap, fmt);
	vsnprintf(r->message + len, sizeof(r->message) - len, fmt, ap);
	va_end(ap);
}

static bool valid_key(const char *key, size_t max)
{
	size_t n;

	if (!key)
		return false;
	n = strlen(key);
	if (n == 0 || n > max)
		return false;
	for (const char *p = key; *p; p++)
		if (*p <= ' ' || *p > '~')
			return false;
	return true;
}

/* Stripe object ids: they go into URL paths, so a narrow alphabet. */
static bool valid_id(const char *id)
{
	size_t n;

	if (!id)
		return false;
	n = strlen(id);
	if (n == 0 || n >= STRIPE_ID_MAX)
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.'))
			return false;
	return true;
}

static bool valid_field(const char *s)
{
	return s && strlen(s) <= STRIPE_FIELD_MAX;
}

const char *stripe_outcome_name(enum stripe_outcome outcome)
{
	switch (outcome) {
	case STRIPE_OK:
		return "ok";
	case STRIPE_DECLINED:
		return "declined";
	case STRIPE_RETRY:
		return "retry";
	case STRIPE_INVALID:
		return "invalid";
	case STRIPE_PENDING:
		return "pending";
	}
	return NULL;
}

int stripe_new(const char *base_url, const char *secret_key, unsigned int timeout_ms,
	       struct stripe **ret)
{
	struct stripe *s;
	size_t url_len, scheme_len;
	int r = -ENOMEM;

	if (!base_url || !ret || !valid_key(secret_key, STRIPE_SECRET_MAX))
		return -EINVAL;
	if (strncmp(base_url, "https://", 8) == 0)
		scheme_len = 8;
	else if (strncmp(base_url, "http://", 7) == 0)
		scheme_len = 7;
	else
		return -EINVAL;
	url_len = strlen(base_url);
	if (url_len > STRIPE_URL_MAX || timeout_ms == 0 || timeout_ms > STRIPE_TIMEOUT_MAX)
		return -EINVAL;
	while (url_len > scheme_len && base_url[url_len - 1] == '/')
		url_len--;
	if (url_len == scheme_len) /* no host */
		return -EINVAL;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->base_url = strndup(base_url, url_len);
	if (!s->base_url)
		goto out_free;
	if (asprintf(&s->auth_header, "Authorization: Bearer %s", secret_key) < 0) {
		s->auth_header = NULL;
		goto out_free;
	}
	s->curl = curl_easy_init();
	if (!s->curl)
		goto out_free;

	/* Options that hold for every exchange; the per-call ones are set in exchange(). */
	if (curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(s->curl, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	    curl_easy_setopt(s->curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms) != CURLE_OK ||
	    curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms) != CURLE_OK ||
	    curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, s->errbuf) != CURLE_OK ||
	    curl_easy_setopt(s->curl, CURLOPT_USERAGENT, "tollgate-billing") != CURLE_OK ||
	    curl_easy_setopt(s->curl, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK) {
		r = -EINVAL;
		goto out_free;
	}
	*ret = s;
	return 0;

out_free:
	stripe_free(s);
	return r;
}

void stripe_free(struct stripe *s)
{
	if (!s)
		return;
	if (s->curl)
		curl_easy_cleanup(s->curl);
	if (s->auth_header) {
		explicit_bzero(s->auth_header, strlen(s->auth_header));
		free(s->auth_header);
	}
	free(s->base_url);
	free(s);
}

/* ---- one HTTP exchange ------------------------------------------------- */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct answer *a = userdata;
	size_t n = size * nmemb;

	if (n > STRIPE_RESPONSE_MAX || a->body.len + n > STRIPE_RESPONSE_MAX) {
		a->too_large = true;
		return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
	}
	if (buf_append(&a->body, ptr, n) < 0) {
		a->out_of_memory = true;
		return 0;
	}
	return n;
}

/* @line without its CRLF if it is "@name: value", else NULL. */
static const char *header_value(const char *line, size_t len, const char *name, char *out,
				size_t out_size)
{
	size_t name_len = strlen(name), start, end;

	if (len <= name_len || line[name_len] != ':' || strncasecmp(line, name, name_len) != 0)
		return NULL;
	start = name_len + 1;
	while (start < len && (line[start] == ' ' || line[start] == '\t'))
		start++;
	end = len;
	while (end > start && (line[end - 1] == '\r' || line[end - 1] == '\n' ||
			       line[end - 1] == ' ' || line[end - 1] == '\t'))
		end--;
	if (end - start >= out_size)
		end = start + out_size - 1;
	memcpy(out, line + start, end - start);
	out[end - start] = '\0';
	return out;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct answer *a = userdata;
	size_t n = size * nmemb;
	char value[STRIPE_ID_MAX];

	/* a new status line (after a 1xx): forget the headers of the previous one */
	if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
		a->replayed = false;
		a->should_retry = -1;
		a->request_id[0] = '\0';
		return n;
	}
	if (header_value(ptr, n, "Idempotent-Replayed", value, sizeof(value)))
		a->replayed = strcasecmp(value, "true") == 0;
	else if (header_value(ptr, n, "Stripe-Should-Retry", value, sizeof(value)))
		a->should_retry = strcasecmp(value, "true") == 0 ? 1 : 0;
	else if (header_value(ptr, n, "Request-Id", value, sizeof(value)))
		copy_str(a->request_id, sizeof(a->request_id), value);
	return n;
}

/*
 * Run GET @path, or POST @path with @body when it is not NULL, and fill @a and
 * *@ret_status (0 without an answer) and *@ret_code. -ENOMEM only: every
 * network failure is in *@ret_code.
 */
static int exchange(struct stripe *s, const char *path, const char *idempotency_key,
		    const struct buf *body, struct answer *a, long *ret_status, CURLcode *ret_code)
{
	struct curl_slist *headers = NULL, *h;
	char *url = NULL, *idem = NULL;
	static const char *const fixed[] = {
		"Accept: application/json", ("Stripe-Version: " STRIPE_API_VERSION),
		"Expect:", /* no 100-continue round trip */
	};
	long status = 0;
	CURLcode code;
	int r = -ENOMEM;

	if (asprintf(&url, "%s%s", s->base_url, path) < 0) {
		url = NULL;
		goto out;
	}
	h = curl_slist_append(headers, s->auth_header);
	if (!h)
		goto out;
	headers = h;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		h = curl_slist_append(headers, fixed[i]);
		if (!h)
			goto out;
		headers = h;
	}
	if (body) {
		h = curl_slist_append(headers, "Content-Type: application/x-www-form-urlencoded");
		if (!h)
			goto out;
		headers = h;
	}
	if (idempotency_key) {
		if (asprintf(&idem, "Idempotency-Key: %s", idempotency_key) < 0) {
			idem = NULL;
			goto out;
		}
		h = curl_slist_append(headers, idem);
		if (!h)
			goto out;
		headers = h;
	}

	*a = (struct answer){ .should_retry = -1 };
	s->errbuf[0] = '\0';
	curl_easy_setopt(s->curl, CURLOPT_URL, url);
	curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, headers);
	if (body) {
		curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, body->data ? body->data : "");
		curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
	} else {
		curl_easy_setopt(s->curl, CURLOPT_HTTPGET, 1L);
	}
	curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(s->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(s->curl, CURLOPT_HEADERDATA, a);

	code = curl_easy_perform(s->curl);
	curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);

	/* the handle outlives these: leave it pointing at nothing of ours */
	curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, NULL);
	curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, NULL);
	curl_easy_setopt(s->curl, CURLOPT_HEADERDATA, NULL);

	if (code == CURLE_OUT_OF_MEMORY || a->out_of_memory) {
		buf_free(&a->body);
		goto out;
	}
	*ret_status = status;
	*ret_code = code;
	r = 0;
out:
	curl_slist_free_all(headers);
	free(idem);
	free(url);
	return r;
}

/* ---- form bodies --------------------------------------------------------- */

static int form_add(struct stripe *s, struct buf *form, const char *key, const char *value)
{
	char *k, *v;
	int r = -ENOMEM;

	k = curl_easy_escape(s->curl, key, 0);
	v = curl_easy_escape(s->curl, value, 0);
	if (!k || !v)
		goto out;
	if ((form->len && buf_append(form, "&", 1) < 0) || buf_append(form, k, strlen(k)) < 0 ||
	    buf_append(form, "=", 1) < 0 || buf_append(form, v, strlen(v)) < 0)
		goto out;
	r = 0;
out:
	curl_free(k);
	curl_free(v);
	return r;
}

/* ---- classifying answers ------------------------------------------------- */

static const char *json_str(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* A field that is an id string or an expanded object with an "id". */
static const char *json_id(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (json_is_object(v))
		return json_str(v, "id");
	return json_string_value(v);
}

static void copy_opt(char *dst, size_t size, const char *src)
{
	if (src)
		copy_str(dst, size, src);
}

static void set_transport_failure(struct stripe_result *r, const char *what, long status,
				  CURLcode code, const char *errbuf, const struct answer *a)
{
	r->outcome = STRIPE_RETRY;
	r->http_status = (int)status;
	if (a->too_large)
		add_message(r, "%s: answer longer than %d bytes", what, STRIPE_RESPONSE_MAX);
	else
		add_message(r, "%s: %s", what, errbuf[0] ? errbuf : curl_easy_strerror(code));
}

/* The "{"error": {...}}" of a non-2xx answer, into @r's error fields and message. */
static void read_error(struct stripe_result *r, const char *what, json_t *root)
{
	json_t *err = json_object_get(root, "error");
	const char *msg = json_str(err, "message");

	copy_opt(r->error_type, sizeof(r->error_type), json_str(err, "type"));
	copy_opt(r->error_code, sizeof(r->error_code), json_str(err, "code"));
	copy_opt(r->decline_code, sizeof(r->decline_code), json_str(err, "decline_code"));
	add_message(r, "%s: HTTP %d", what, r->http_status);
	if (r->error_type[0])
		add_message(r, " %s", r->error_type);
	if (r->error_code[0])
		add_message(r, " %s", r->error_code);
	if (r->decline_code[0])
		add_message(r, " (%s)", r->decline_code);
	if (msg)
		add_message(r, ": %s", msg);
}

/* The fields of a PaymentIntent object, and the outcome its status means. */
static bool read_intent(struct stripe_result *r, json_t *pi)
{
	const char *id = json_str(pi, "id"), *status = json_str(pi, "status");
	const char *currency = json_str(pi, "currency");
	json_t *amount = json_object_get(pi, "amount");

	if (!id || !status || !copy_str(r->id, sizeof(r->id), id))
		return false;
	copy_str(r->status, sizeof(r->status), status);
	copy_opt(r->payment_method, sizeof(r->payment_method), json_id(pi, "payment_method"));
	if (json_is_integer(amount))
		r->amount = json_integer_value(amount);
	if (currency && strlen(currency) == 3)
		copy_str(r->currency, sizeof(r->currency), currency);

	if (strcmp(status, "succeeded") == 0)
		r->outcome = STRIPE_OK;
	else if (strcmp(status, "requires_payment_method") == 0 || strcmp(status, "canceled") == 0)
		r->outcome = STRIPE_DECLINED;
	else
		r->outcome = STRIPE_PENDING;
	return true;
}

/* A 2xx PaymentIntent: its outcome and, unless OK, why. */
static void read_intent_answer(struct stripe_result *r, const char *what, json_t *pi)
{
	json_t *lpe;
	const char *msg = NULL, *reason;

	if (r->outcome == STRIPE_OK)
		return;
	add_message(r, "%s: payment_intent %s is %s", what, r->id, r->status);
	if (r->outcome == STRIPE_DECLINED) {
		lpe = json_object_get(pi, "last_payment_error");
		if (json_is_object(lpe)) {
			copy_opt(r->error_type, sizeof(r->error_type), json_str(lpe, "type"));
			copy_opt(r->error_code, sizeof(r->error_code), json_str(lpe, "code"));
			copy_opt(r->decline_code, sizeof(r->decline_code),
				 json_str(lpe, "decline_code"));
			msg = json_str(lpe, "message");
		}
		reason = json_str(pi, "cancellation_reason");
		if (r->error_code[0])
			add_message(r, " %s", r->error_code);
		if (r->decline_code[0])
			add_message(r, " (%s)", r->decline_code);
		if (reason)
			add_message(r, " (%s)", reason);
		if (msg)
			add_message(r, ": %s", msg);
	}
}

enum object_kind {
	OBJ_CUSTOMER,
	OBJ_INTENT,
};

/*
 * Classify an answer that arrived: @status and @a->body (JSON) for @kind.
 * Fills everything in @r but http_status, request_id and replayed.
 */
static void classify(struct stripe_result *r, const char *what, enum object_kind kind, long status,
		     const struct answer *a)
{
	json_error_t jerr;
	json_t *root, *pi;
	const char *id, *pm;

	root = json_loadb(a->body.data ? a->body.data : "", a->body.len, 0, &jerr);

	if (status >= 200 && status < 300) {
		if (!json_is_object(root)) {
			/* maybe done, maybe not: the same key will tell */
			r->outcome = STRIPE_RETRY;
			add_message(r, "%s: HTTP %ld with an unreadable body: %s", what, status,
				    root ? "not an object" : jerr.text);
			goto out;
		}
		if (kind == OBJ_INTENT) {
			if (!read_intent(r, root)) {
				r->outcome = STRIPE_RETRY;
				add_message(r,
					    "%s: HTTP %ld without a payment intent id and status",
					    what, status);
				goto out;
			}
			read_intent_answer(r, what, root);
			goto out;
		}
		id = json_str(root, "id");
		if (!id || !copy_str(r->id, sizeof(r->id), id)) {
			r->outcome = STRIPE_RETRY;
			add_message(r, "%s: HTTP %ld without a customer id", what, status);
			goto out;
		}
		if (json_is_true(json_object_get(root, "deleted"))) {
			r->outcome = STRIPE_INVALID;
			add_message(r, "%s: customer %s is deleted", what, r->id);
			goto out;
		}
		pm = json_id(json_object_get(root, "invoice_settings"), "default_payment_method");
		if (!pm)
			pm = json_id(root, "default_source");
		copy_opt(r->payment_method, sizeof(r->payment_method), pm);
		r->outcome = STRIPE_OK;
		goto out;
	}

	if (status == 402)
		r->outcome = STRIPE_DECLINED;
	else if (status == 409 || status == 429 || status >= 500 || a->should_retry == 1)
		r->outcome = STRIPE_RETRY;
	else
		r->outcome = STRIPE_INVALID;

	if (json_is_object(root)) {
		/* a declined confirmation still created the intent: keep its id */
		pi = json_object_get(json_object_get(root, "error"), "payment_intent");
		if (kind == OBJ_INTENT && json_is_object(pi)) {
			struct stripe_result tmp = *r;

			if (read_intent(&tmp, pi)) {
				memcpy(r->id, tmp.id, sizeof(r->id));
				memcpy(r->status, tmp.status, sizeof(r->status));
				memcpy(r->payment_method, tmp.payment_method,
				       sizeof(r->payment_method));
				r->amount = tmp.amount;
				memcpy(r->currency, tmp.currency, sizeof(r->currency));
			}
		}
		read_error(r, what, root);
	} else {
		add_message(r, "%s: HTTP %ld", what, status);
		if (status < 200 || (status >= 300 && status < 400))
			add_message(r, " is not a Stripe answer (is the base URL right?)");
	}
out:
	json_decref(root);
}

/*
 * Send one request and classify it into *@ret (written only when 0 is
 * returned). @body NULL means GET.
 */
static int call(struct stripe *s, const char *method, const char *path, const char *idempotency_key,
		const struct buf *body, enum object_kind kind, struct stripe_result *ret)
{
	struct stripe_result res = { 0 };
	struct answer a;
	char what[STRIPE_ID_MAX + 64];
	long status;
	CURLcode code;
	int r;

	r = exchange(s, path, idempotency_key, body, &a, &status, &code);
	if (r < 0)
		return r;
	snprintf(what, sizeof(what), "%s %s", method, path);
	res.replayed = a.replayed;
	copy_str(res.request_id, sizeof(res.request_id), a.request_id);
	if (code != CURLE_OK) {
		set_transport_failure(&res, what, status, code, s->errbuf, &a);
	} else {
		res.http_status = (int)status;
		classify(&res, what, kind, status, &a);
	}
	if (res.request_id[0] && res.outcome != STRIPE_OK)
		add_message(&res, " [%s]", res.request_id);
	buf_free(&a.body);
	*ret = res;
	return 0;
}

/* ---- the calls ---------------------------------------------------------- */

int stripe_create_customer(struct stripe *s, const char *idempotency_key, const char *name,
			   const char *email, const char *consumer_id, struct stripe_result *ret)
{
	struct buf form = { 0 };
	int r;

	if (!s || !ret || !valid_key(idempotency_key, STRIPE_IDEMPOTENCY_KEY_MAX) ||
	    (name && !valid_field(name)) || (email && !valid_field(email)) ||
	    !valid_field(consumer_id) || !consumer_id[0])
		return -EINVAL;

	if ((name && (r = form_add(s, &form, "name", name)) < 0) ||
	    (email && (r = form_add(s, &form, "email", email)) < 0) ||
	    (r = form_add(s, &form, "metadata[consumer_id]", consumer_id)) < 0)
		goto out;
	r = call(s, "POST", "/v1/customers", idempotency_key, &form, OBJ_CUSTOMER, ret);
out:
	buf_free(&form);
	return r;
}

/* GET @collection/@id, the id escaped (valid_id() already keeps it plain). */
static int get_object(struct stripe *s, const char *collection, const char *id,
		      enum object_kind kind, struct stripe_result *ret)
{
	char path[STRIPE_ID_MAX * 3 + 64];
	char *escaped;
	int r;

	escaped = curl_easy_escape(s->curl, id, 0);
	if (!escaped)
		return -ENOMEM;
	r = snprintf(path, sizeof(path), "%s/%s", collection, escaped);
	curl_free(escaped);
	if (r < 0 || (size_t)r >= sizeof(path))
		return -EINVAL;
	return call(s, "GET", path, NULL, NULL, kind, ret);
}

int stripe_get_customer(struct stripe *s, const char *customer_id, struct stripe_result *ret)
{
	if (!s || !ret || !valid_id(customer_id))
		return -EINVAL;
	return get_object(s, "/v1/customers", customer_id, OBJ_CUSTOMER, ret);
}

int stripe_get_payment_intent(struct stripe *s, const char *payment_intent_id,
			      struct stripe_result *ret)
{
	if (!s || !ret || !valid_id(payment_intent_id))
		return -EINVAL;
	return get_object(s, "/v1/payment_intents", payment_intent_id, OBJ_INTENT, ret);
}

int stripe_charge_method(struct stripe *s, const char *idempotency_key, const char *customer_id,
			 const char *payment_method_id, int64_t amount_minor, const char *currency,
			 const char *invoice_id, struct stripe_result *ret)
{
	struct buf form = { 0 };
	char amount[24], cur[4], *description = NULL;
	int r;

	if (!s || !ret || !valid_key(idempotency_key, STRIPE_IDEMPOTENCY_KEY_MAX) ||
	    !valid_id(customer_id) || (payment_method_id && !valid_id(payment_method_id)) ||
	    amount_minor <= 0 || !currency || strlen(currency) != 3 || !valid_field(invoice_id) ||
	    !invoice_id[0])
		return -EINVAL;
	for (int i = 0; i < 3; i++) {
		char c = currency[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c < 'a' || c > 'z')
			return -EINVAL;
		cur[i] = c;
	}
	cur[3] = '\0';
	snprintf(amount, sizeof(amount), "%" PRId64, amount_minor);
	if (asprintf(&description, "Invoice %s", invoice_id) < 0)
		return -ENOMEM;

	if ((r = form_add(s, &form, "amount", amount)) < 0 ||
	    (r = form_add(s, &form, "currency", cur)) < 0 ||
	    (r = form_add(s, &form, "customer", customer_id)) < 0 ||
	    (payment_method_id &&
	     (r = form_add(s, &form, "payment_method", payment_method_id)) < 0) ||
	    (r = form_add(s, &form, "confirm", "true")) < 0 ||
	    (r = form_add(s, &form, "off_session", "true")) < 0 ||
	    (r = form_add(s, &form, "automatic_payment_methods[enabled]", "true")) < 0 ||
	    (r = form_add(s, &form, "automatic_payment_methods[allow_redirects]", "never")) < 0 ||
	    (r = form_add(s, &form, "description", description)) < 0 ||
	    (r = form_add(s, &form, "metadata[invoice_id]", invoice_id)) < 0)
		goto out;
	r = call(s, "POST", "/v1/payment_intents", idempotency_key, &form, OBJ_INTENT, ret);
out:
	buf_free(&form);
	free(description);
	return r;
}

int stripe_charge(struct stripe *s, const char *idempotency_key, const char *customer_id,
		  int64_t amount_minor, const char *currency, const char *invoice_id,
		  struct stripe_result *ret)
{
	return stripe_charge_method(s, idempotency_key, customer_id, NULL, amount_minor, currency,
				    invoice_id, ret);
}
