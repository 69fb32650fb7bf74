/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Why a claim (attempts + 1, next_attempt_at moved WEBHOOK_LEASE ahead) in
 * its own statement before the POST, rather than a transaction held across
 * it: no row lock or open transaction lives as long as an HTTP exchange, and
 * a member that dies mid-exchange leaves a row that becomes due again by
 * itself. The price is at-least-once delivery, which the delivery id covers.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "billing/pg.h"
#include "billing/webhook.h"
#include "lib/log.h"

#define HEADER_MAX 128

static size_t discard_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	(void)ptr;
	(void)userdata;
	return size * nmemb;
}

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t err_len,
							  const char *fmt, ...)
{
	va_list ap;

	if (!err_len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

static int curl_errno(CURLcode code)
{
	switch (code) {
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return -EINVAL;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

/* One POST on @curl (kept between calls for keep-alive); see webhook_post(). */
static int post_on(CURL *curl, const char *url, const char *body, const char *delivery_id,
		   const char *event, char *err, size_t err_len)
{
	char errbuf[CURL_ERROR_SIZE] = "", id_header[HEADER_MAX], event_header[HEADER_MAX];
	struct curl_slist *headers = NULL, *h;
	const char *lines[4] = { "Content-Type: application/json", "Expect:", NULL, NULL };
	long status = 0;
	CURLcode code;
	int n_lines = 2, r;

	if (delivery_id) {
		snprintf(id_header, sizeof(id_header), "X-Tollgate-Delivery: %s", delivery_id);
		lines[n_lines++] = id_header;
	}
	if (event) {
		snprintf(event_header, sizeof(event_header), "X-Tollgate-Event: %s", event);
		lines[n_lines++] = event_header;
	}
	for (int i = 0; i < n_lines; i++) {
		h = curl_slist_append(headers, lines[i]);
		if (!h) {
			curl_slist_free_all(headers);
			set_err(err, err_len, "out of memory");
			return -ENOMEM;
		}
		headers = h;
	}

	if (curl_easy_setopt(curl, CURLOPT_URL, url) != CURLE_OK) {
		curl_slist_free_all(headers);
		set_err(err, err_len, "the URL is refused by libcurl");
		return -EINVAL;
	}
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	code = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	/* the handle outlives these: leave it pointing at nothing of ours */
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, NULL);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(headers);

	if (code != CURLE_OK) {
		r = curl_errno(code);
		set_err(err, err_len, "%s", errbuf[0] ? errbuf : curl_easy_strerror(code));
		return r;
	}
	if (status < 200 || status > 299) {
		set_err(err, err_len, "HTTP %ld", status);
		return -EPROTO;
	}
	return 0;
}

static CURL *handle_new(void)
{
	CURL *curl = curl_easy_init();

	if (!curl)
		return NULL;
	if (curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)WEBHOOK_CONNECT_TIMEOUT_MS) !=
		    CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)WEBHOOK_TIMEOUT_MS) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_USERAGENT, "tollgate-billing") != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_POST, 1L) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard_body) != CURLE_OK) {
		curl_easy_cleanup(curl);
		return NULL;
	}
	return curl;
}

int webhook_post(const char *url, const char *body, const char *delivery_id, const char *event,
		 char *err, size_t err_len)
{
	CURL *curl;
	int r;

	if (!url || !*url || !body) {
		set_err(err, err_len, "no URL or no body");
		return -EINVAL;
	}
	curl = handle_new();
	if (!curl) {
		set_err(err, err_len, "cannot set up a libcurl handle");
		return -ENOMEM;
	}
	r = post_on(curl, url, body, delivery_id, event, err, err_len);
	curl_easy_cleanup(curl);
	return r;
}

unsigned int webhook_backoff(int attempts)
{
	unsigned int s = WEBHOOK_BACKOFF_MIN;

	for (int i = 1; i < attempts && s < WEBHOOK_BACKOFF_MAX; i++)
		s *= 2;
	return s < WEBHOOK_BACKOFF_MAX ? s : WEBHOOK_BACKOFF_MAX;
}

static int64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* the row claimed by claim_next() */
struct claimed {
	char id[24];
	char kind[16];
	char event[64];
	char *payload; /* owned */
	int attempts;
};

/*
 * Claim the oldest due row of the kinds allowed: 1 and *@ret filled, 0 when
 * none is due, -EIO. SKIP LOCKED: a row another member is claiming right now
 * is not waited for; its new next_attempt_at hides it once committed.
 */
static int claim_next(PGconn *c, const char *now, bool alerts, bool notices, struct claimed *ret)
{
	char lease[16];
	const char *p[] = { now, lease, alerts ? "true" : "false", notices ? "true" : "false" };
	PGresult *res;
	int r = 0;

	snprintf(lease, sizeof(lease), "%d", WEBHOOK_LEASE);
	res = pg_exec(c, "claim a webhook",
		      "UPDATE webhook_outbox SET attempts = attempts + 1,"
		      " next_attempt_at = to_timestamp($1::bigint) + make_interval(secs => $2::int)"
		      " WHERE id = (SELECT id FROM webhook_outbox WHERE delivered_at IS NULL"
		      "  AND next_attempt_at <= to_timestamp($1::bigint)"
		      "  AND ((kind = 'alert' AND $3::boolean)"
		      "   OR (kind = 'notice' AND $4::boolean))"
		      "  ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)"
		      " RETURNING id, kind, event, payload::text, attempts",
		      4, p);
	if (!res)
		return -EIO;
	if (PQntuples(res) == 1) {
		*ret = (struct claimed){ 0 };
		snprintf(ret->id, sizeof(ret->id), "%s", PQgetvalue(res, 0, 0));
		snprintf(ret->kind, sizeof(ret->kind), "%s", PQgetvalue(res, 0, 1));
		snprintf(ret->event, sizeof(ret->event), "%s", PQgetvalue(res, 0, 2));
		ret->payload = strdup(PQgetvalue(res, 0, 3));
		ret->attempts = atoi(PQgetvalue(res, 0, 4)); /* an int4 Postgres wrote */
		r = ret->payload ? 1 : -ENOMEM;
	}
	PQclear(res);
	return r;
}

static int record_delivered(PGconn *c, const char *now, const struct claimed *w, const char *url)
{
	const char *p[] = { w->id, now, url };

	/* the row and what it announced, in one statement (one transaction) */
	return pg_command(
		c, "record a delivered webhook",
		"WITH d AS (UPDATE webhook_outbox SET delivered_at = to_timestamp($2::bigint),"
		"  last_error = NULL, url = $3 WHERE id = $1::bigint"
		"  RETURNING event, alert_id, notice_id),"
		" n AS (UPDATE notices SET delivered_at = to_timestamp($2::bigint) FROM d"
		"  WHERE notices.id = d.notice_id AND notices.delivered_at IS NULL RETURNING 1)"
		" UPDATE alerts SET"
		"  opened_delivered_at = CASE WHEN d.event = 'alert.opened'"
		"   THEN coalesce(opened_delivered_at, to_timestamp($2::bigint))"
		"   ELSE opened_delivered_at END,"
		"  resolved_delivered_at = CASE WHEN d.event = 'alert.resolved'"
		"   THEN coalesce(resolved_delivered_at, to_timestamp($2::bigint))"
		"   ELSE resolved_delivered_at END"
		" FROM d WHERE alerts.id = d.alert_id",
		3, p);
}

static int record_failed(PGconn *c, const char *now, const struct claimed *w, const char *url,
			 const char *error)
{
	char backoff[16];
	const char *p[] = { w->id, now, backoff, error, url };

	snprintf(backoff, sizeof(backoff), "%u", webhook_backoff(w->attempts));
	return pg_command(c, "record a failed webhook",
			  "UPDATE webhook_outbox SET last_error = $4, url = $5,"
			  " next_attempt_at = to_timestamp($2::bigint)"
			  "  + make_interval(secs => $3::int)"
			  " WHERE id = $1::bigint",
			  5, p);
}

int webhook_deliver(PGconn *c, const struct config *cfg, time_t now)
{
	const char *alert_url = cfg->billing.alert_webhook_url;
	const char *notice_url = cfg->billing.notify_webhook_url;
	bool alerts = alert_url[0] != '\0', notices = notice_url[0] != '\0';
	int64_t start = monotonic_ms();
	char now_s[24];
	int delivered = 0, r = 0;
	CURL *curl;

	if (!alerts && !notices)
		return 0;
	curl = handle_new();
	if (!curl)
		return log_error_errno(-ENOMEM, "webhooks: cannot set up a libcurl handle");
	snprintf(now_s, sizeof(now_s), "%lld", (long long)now);

	for (int i = 0; i < WEBHOOK_BATCH_MAX && (alerts || notices); i++) {
		char err[WEBHOOK_ERROR_MAX];
		struct claimed w;
		const char *url;

		if (monotonic_ms() - start > WEBHOOK_BUDGET_MS) {
			log_info("webhooks: time budget spent, the rest waits for the next run");
			break;
		}
		r = claim_next(c, now_s, alerts, notices, &w);
		if (r <= 0)
			break;
		url = strcmp(w.kind, "alert") == 0 ? alert_url : notice_url;
		r = post_on(curl, url, w.payload, w.id, w.event, err, sizeof(err));
		if (r == 0) {
			r = record_delivered(c, now_s, &w, url);
			if (r == 0)
				delivered++;
		} else {
			log_warn("webhooks: %s %s to %s failed (attempt %d, next in %u s): %s",
				 w.event, w.id, url, w.attempts, webhook_backoff(w.attempts), err);
			/* the receiver is unwell: its other rows wait for the next run */
			if (strcmp(w.kind, "alert") == 0)
				alerts = false;
			else
				notices = false;
			r = record_failed(c, now_s, &w, url, err);
		}
		free(w.payload);
		if (r)
			break;
	}
	curl_easy_cleanup(curl);
	if (r < 0)
		return r;
	if (delivered)
		log_info("webhooks: %d delivered", delivered);
	return delivered;
}
