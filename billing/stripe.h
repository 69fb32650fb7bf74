/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * stripe.h - the Stripe payment provider (DESIGN §6 "Payments"): customers
 * and off-session PaymentIntents over Stripe's HTTP API, with libcurl.
 *
 * Every call is one HTTPS exchange with base_url ("https://api.stripe.com",
 * or a fake such as tests/fake_stripe.py): "Authorization: Bearer <secret
 * key>", a pinned "Stripe-Version: " STRIPE_API_VERSION, form-encoded request
 * bodies (application/x-www-form-urlencoded, every key and value escaped) and
 * JSON answers. Nothing here logs: each call classifies its exchange into a
 * struct stripe_result whose message is one line for the caller's log.
 *
 * Idempotency. Every POST carries the caller's "Idempotency-Key". Stripe
 * stores the answer under the key (per account, for at least 24 hours) and
 * replays it for a request with the same key and the same parameters, so a
 * STRIPE_RETRY outcome - the request may or may not have been carried out -
 * is resolved by sending the same call again with the same key: Stripe then
 * carries it out once or answers what it answered the first time
 * (stripe_result.replayed). The caller stores the key with the invoice
 * attempt (e.g. "tollgate-inv-<invoice_id>-<attempt>") before the first try,
 * sends exactly the same arguments on every retry, and only takes a new key
 * for a new attempt after a definitive outcome (STRIPE_DECLINED). After 24
 * hours a key may be forgotten: look the attempt up (stripe_get_payment_intent()
 * on a known id, or the Dashboard by metadata[invoice_id]) rather than retry.
 *
 * A struct stripe owns one curl handle, reused so that the TLS connection is
 * kept alive between calls; it is not thread-safe: use one per thread. The
 * program calls curl_global_init(CURL_GLOBAL_DEFAULT) once before it starts
 * threads (and curl_global_cleanup() at exit); calls never raise signals
 * (CURLOPT_NOSIGNAL).
 */
#ifndef TG_BILLING_STRIPE_H
#define TG_BILLING_STRIPE_H

#include <stdbool.h>
#include <stdint.h>

#define STRIPE_API_VERSION "2024-06-20"
#define STRIPE_ID_MAX 256      /* an object id ("cus_...", "pi_...", "pm_...", "req_...") + NUL */
#define STRIPE_CODE_MAX 64     /* a status, error type, code or decline code + NUL */
#define STRIPE_MESSAGE_MAX 512 /* stripe_result.message, truncated to fit */
#define STRIPE_FIELD_MAX 500   /* bytes of a name, email, consumer or invoice id */
#define STRIPE_IDEMPOTENCY_KEY_MAX 255	  /* Stripe's limit, in bytes */
#define STRIPE_RESPONSE_MAX (1024 * 1024) /* a longer answer is a transport failure */

struct stripe;

/*
 * How an exchange ended, for the payment state machine:
 *
 *   STRIPE_OK        done: the customer exists, the payment succeeded.
 *   STRIPE_DECLINED  definitive refusal of the payment: HTTP 402 (card_error:
 *                    card_declined, expired_card, authentication_required ...)
 *                    or a PaymentIntent in requires_payment_method or
 *                    canceled. Nothing was charged; the invoice goes to
 *                    payment_failed and dunning. A new attempt takes a new key.
 *   STRIPE_RETRY     outcome unknown: timeout, connection or TLS failure, an
 *                    unreadable answer, HTTP 409 (the same key is still being
 *                    processed), 429, 5xx, or any answer with
 *                    "Stripe-Should-Retry: true". Retry later, with backoff,
 *                    with the SAME key and arguments.
 *   STRIPE_INVALID   definitive, and our bug or configuration: 401 (bad
 *                    secret key), 400 (a parameter Stripe refuses, an unknown
 *                    customer, an amount under Stripe's minimum, the key reused
 *                    with other parameters: error_type "idempotency_error"),
 *                    403, 404, any other 4xx, an unexpected 1xx/3xx. Alert;
 *                    do not retry blindly, and never under a new key when the
 *                    error is an idempotency_error (the first request may have
 *                    charged).
 *   STRIPE_PENDING   the PaymentIntent exists (stripe_result.id) but is not
 *                    final: "processing" (e.g. a bank debit settling, Stripe
 *                    decides within days), "requires_action" (the customer must
 *                    authenticate, which an off-session charge cannot do),
 *                    "requires_capture", "requires_confirmation", or a status
 *                    this code does not know. Never charge again under a new
 *                    key: poll stripe_get_payment_intent() (or wait for the
 *                    webhook) until it is OK or DECLINED.
 */
enum stripe_outcome {
	STRIPE_OK,
	STRIPE_DECLINED,
	STRIPE_RETRY,
	STRIPE_INVALID,
	STRIPE_PENDING,
};

struct stripe_result {
	enum stripe_outcome outcome;
	int http_status;		    /* 0 when no status line arrived */
	bool replayed;			    /* "Idempotent-Replayed: true": a stored answer */
	char id[STRIPE_ID_MAX];		    /* "cus_..." or "pi_..."; "" when there is none */
	char status[STRIPE_CODE_MAX];	    /* a PaymentIntent's status: "succeeded" ... */
	char payment_method[STRIPE_ID_MAX]; /* see each call; "" when there is none */
	int64_t amount;			    /* a PaymentIntent's amount in minor units, or 0 */
	char currency[4];		    /* a PaymentIntent's currency, lower case, or "" */
	char error_type[STRIPE_CODE_MAX];   /* error.type: "card_error", "api_error" ... */
	char error_code[STRIPE_CODE_MAX];   /* error.code: "card_declined", "resource_missing" */
	char decline_code[STRIPE_CODE_MAX]; /* error.decline_code: "insufficient_funds" ... */
	char request_id[STRIPE_ID_MAX];	    /* the Request-Id header, for Stripe support */
	char message[STRIPE_MESSAGE_MAX];   /* "" when STRIPE_OK, else one line for the log */
};

/*
 * stripe_new() - a client for @base_url ("https://api.stripe.com" or
 * "http://127.0.0.1:PORT"; http:// sends the key in clear and is meant for
 * test fakes; a trailing '/' is ignored) with @secret_key ("sk_live_...",
 * "sk_test_...", "rk_..."; copied, and wiped from memory by stripe_free()).
 * @timeout_ms bounds each whole exchange, connection included; Stripe's own
 * libraries wait 80 s, and a shorter timeout turns slow successes into
 * STRIPE_RETRY outcomes (safe, but slower).
 * Returns 0 and the client in *@ret, -EINVAL if @base_url is not http(s)://
 * or longer than 1024 bytes, @secret_key is empty, longer than 1024 bytes or
 * not printable ASCII without spaces, or @timeout_ms is 0 or above 600000;
 * -ENOMEM.
 */
int stripe_new(const char *base_url, const char *secret_key, unsigned int timeout_ms,
	       struct stripe **ret);

/* stripe_free() - close the connection and free @s; NULL is accepted. */
void stripe_free(struct stripe *s);

/* stripe_outcome_name() - "ok", "declined", "retry", "invalid", "pending";
 * NULL for a value outside the enum. Static strings. */
const char *stripe_outcome_name(enum stripe_outcome outcome);

/*
 * Arguments shared by the calls below. @idempotency_key: 1 to 255 bytes of
 * printable ASCII without spaces. Object ids (@customer_id, @payment_method_id,
 * @payment_intent_id): 1 to 255 bytes of [A-Za-z0-9_.-]. Free text (@name,
 * @email, @consumer_id, @invoice_id): any bytes up to STRIPE_FIELD_MAX, sent
 * form-encoded intact ('&', '=', '+', spaces, UTF-8); Stripe enforces its own
 * shorter limits (a 257-byte name is a 400, STRIPE_INVALID).
 *
 * The lookups (stripe_get_*) are GETs, idempotent by nature, and send no key.
 *
 * Each returns 0 when the exchange - or its failure to happen - was classified
 * into *@ret (every enum stripe_outcome, STRIPE_RETRY included, is a 0
 * return), -EINVAL for a NULL or malformed argument (nothing is sent), or
 * -ENOMEM. *@ret is written only when 0 is returned.
 */

/*
 * stripe_create_customer() - POST /v1/customers with name=@name,
 * email=@email (either may be NULL to leave it out) and
 * metadata[consumer_id]=@consumer_id. STRIPE_OK sets ret->id to the new
 * "cus_...", to be stored with the consumer. The same key replays the same
 * customer, so a retried creation does not create two.
 */
int stripe_create_customer(struct stripe *s, const char *idempotency_key, const char *name,
			   const char *email, const char *consumer_id, struct stripe_result *ret);

/*
 * stripe_get_customer() - GET /v1/customers/@customer_id. STRIPE_OK sets
 * ret->id, and ret->payment_method to the customer's
 * invoice_settings.default_payment_method, or its legacy default_source, or
 * "" when it has neither. An unknown id is a 404 and a deleted customer is
 * answered as STRIPE_INVALID ("customer ... is deleted").
 */
int stripe_get_customer(struct stripe *s, const char *customer_id, struct stripe_result *ret);

/*
 * stripe_charge() - charge @amount_minor (> 0, the currency's minor units,
 * as lib/ prices them: cents, JPY units) of @currency (3 letters, any case,
 * sent lower case) to @customer_id, off session: POST /v1/payment_intents
 * with amount, currency, customer, confirm=true, off_session=true,
 * automatic_payment_methods[enabled]=true,
 * automatic_payment_methods[allow_redirects]=never (nothing can redirect a
 * customer who is not there), description="Invoice <invoice_id>" and
 * metadata[invoice_id]=@invoice_id.
 *
 * Without a payment method Stripe charges the customer's legacy default
 * source; a card saved as a PaymentMethod (Checkout, SetupIntents) must be
 * named: see stripe_charge_method().
 *
 * ret->id is the PaymentIntent ("pi_...") whenever Stripe created one,
 * declines included; ret->status, ret->amount, ret->currency and
 * ret->payment_method are its own. "succeeded" is STRIPE_OK;
 * "requires_payment_method" or "canceled", or a 402, is STRIPE_DECLINED with
 * error_code and decline_code from the error (or the intent's
 * last_payment_error); the other statuses are STRIPE_PENDING.
 */
int stripe_charge(struct stripe *s, const char *idempotency_key, const char *customer_id,
		  int64_t amount_minor, const char *currency, const char *invoice_id,
		  struct stripe_result *ret);

/*
 * stripe_charge_method() - stripe_charge() with payment_method=
 * @payment_method_id ("pm_...", attached to the customer), or without it when
 * NULL. Resolve the method once per attempt (stripe_get_customer()) and store
 * it with the key: a retry that names another method is another body, which
 * Stripe refuses as an idempotency_error.
 */
int stripe_charge_method(struct stripe *s, const char *idempotency_key, const char *customer_id,
			 const char *payment_method_id, int64_t amount_minor, const char *currency,
			 const char *invoice_id, struct stripe_result *ret);

/*
 * stripe_get_payment_intent() - GET /v1/payment_intents/@payment_intent_id,
 * classified as stripe_charge() classifies its answer: how a STRIPE_PENDING
 * payment ends. An unknown id is a 404, STRIPE_INVALID.
 */
int stripe_get_payment_intent(struct stripe *s, const char *payment_intent_id,
			      struct stripe_result *ret);

#endif /* TG_BILLING_STRIPE_H */
