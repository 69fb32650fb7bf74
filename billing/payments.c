/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Why the attempt row is committed before the request: the Idempotency-Key is
 * what makes a resend harmless, so it must be durable before anything can be
 * charged under it. A crash after the COMMIT leaves an 'unknown' attempt that
 * the next run sends again with the same key; a crash before it leaves no
 * attempt and nothing charged.
 *
 * Why each outcome is written in one transaction with the invoice (and the
 * suspension): a reader never sees a succeeded attempt on an unpaid invoice,
 * or a suspended consumer whose keys the relay was not told about.
 *
 * Why there is no backoff for 'unknown' attempts: the interval between runs
 * is the backoff, and a resend under the same key costs Stripe nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "billing/payments.h"
#include "billing/pg.h"
#include "billing/stripe.h"
#include "lib/log.h"

/* an arbitrary constant that names "payments run" among advisory locks */
#define PAYMENTS_LOCK_ID "7310258410662417"
#define SECRET_FILE_MAX 4096 /* bytes read from billing.stripe_key_file */
#define KEY_MAX 96	     /* "invoice-<id>-attempt-<n>", "customer-<id>" */
#define REASON_MAX (STRIPE_MESSAGE_MAX + 512)

static const unsigned int retry_days[] = { 1, 3, 7 };
_Static_assert(sizeof(retry_days) / sizeof(retry_days[0]) == PAYMENTS_MAX_ATTEMPTS - 1,
	       "one delay after each attempt but the last");

struct pay_run {
	PGconn *c;
	struct stripe *stripe;
	time_t now;
	char now_s[24]; /* @now as decimal unix seconds, for to_timestamp() */
	unsigned int paid, zero, declined, pending, unresolved, held, suspended;
};

/* One attempt of one invoice: exactly what is sent, on every send. */
struct attempt {
	const char *invoice_id;
	const char *consumer_id;
	char payment_id[24]; /* payments.id */
	int n;
	char key[KEY_MAX];
	char customer[STRIPE_ID_MAX];
	int64_t amount_minor;
	char currency[4];
	char provider_ref[STRIPE_ID_MAX]; /* the PaymentIntent, "" while none is known */
};

/* columns of the candidate query */
enum {
	COL_INVOICE,
	COL_CONSUMER,
	COL_TOTAL,
	COL_CURRENCY,
	COL_PAYMENT,
	COL_ATTEMPT,
	COL_STATUS,
	COL_KEY,
	COL_REF,
	COL_OUTCOME,
	COL_CUSTOMER,
	COL_AMOUNT,
	COL_PCURRENCY,
	COL_CREATED,
};

/*
 * Invoices with something to do at $1: no attempt yet, an attempt whose
 * outcome is open, a due dunning attempt, or a failed attempt that was not a
 * decline (refused, or marked failed by an operator) once the hold is lifted.
 * Declined attempts with no next attempt (dunning over) and held invoices are
 * left out.
 */
static const char CANDIDATES[] =
	"SELECT i.id, i.consumer_id, i.total_minor, i.currency, p.id, p.attempt, p.status,"
	" p.idempotency_key, p.provider_ref, p.outcome, p.customer_id, p.amount_minor, p.currency,"
	" extract(epoch FROM p.created_at)::bigint"
	" FROM invoices i LEFT JOIN LATERAL (SELECT * FROM payments WHERE invoice_id = i.id"
	" ORDER BY attempt DESC LIMIT 1) p ON true"
	" WHERE i.status IN ('finalized', 'payment_failed') AND i.payment_hold IS NULL"
	" AND i.total_minor >= 0"
	" AND (p.id IS NULL OR p.status IN ('unknown', 'pending', 'succeeded')"
	" OR p.outcome IS DISTINCT FROM 'declined'"
	" OR p.next_attempt_at <= to_timestamp($1::bigint))"
	" ORDER BY i.id";

static void copy_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

static int tx_begin(PGconn *c)
{
	return pg_command(c, "begin", "BEGIN", 0, NULL);
}

static int tx_commit(PGconn *c, int r)
{
	if (!r)
		r = pg_command(c, "commit", "COMMIT", 0, NULL);
	if (r)
		PQclear(PQexec(c, "ROLLBACK"));
	return r;
}

unsigned int payments_retry_delay(int attempt)
{
	if (attempt < 1 || attempt >= PAYMENTS_MAX_ATTEMPTS)
		return 0;
	return retry_days[attempt - 1] * 86400u;
}

/* ---- configuration ------------------------------------------------------ */

static int read_secret_key(const char *path, char *ret_key, size_t size)
{
	struct stat st;
	size_t len = 0, start = 0;
	ssize_t n;
	int fd, r = 0;

	if (!path[0]) {
		log_error("billing.stripe_key_file is empty: the Stripe provider needs a key file");
		return -EINVAL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return log_error_errno(-errno, "billing.stripe_key_file: cannot open '%s'", path);
	if (fstat(fd, &st) < 0) {
		r = log_error_errno(-errno, "billing.stripe_key_file: cannot stat '%s'", path);
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		log_error("billing.stripe_key_file: '%s' is not a regular file", path);
		r = -EINVAL;
		goto out_close;
	}
	if (st.st_mode & 077)
		log_warn("billing.stripe_key_file: '%s' has mode %04o, readable by others than its "
			 "owner; 0600 or stricter is recommended",
			 path, (unsigned int)(st.st_mode & 07777));
	while (len < size - 1) {
		n = read(fd, ret_key + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = log_error_errno(-errno, "billing.stripe_key_file: cannot read '%s'",
					    path);
			goto out_wipe;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len == size - 1) {
		log_error("billing.stripe_key_file: '%s' is longer than %zu bytes", path, size - 2);
		r = -EINVAL;
		goto out_wipe;
	}
	while (len && (ret_key[len - 1] == '\n' || ret_key[len - 1] == '\r' ||
		       ret_key[len - 1] == ' ' || ret_key[len - 1] == '\t'))
		len--;
	while (start < len &&
	       (ret_key[start] == ' ' || ret_key[start] == '\t' || ret_key[start] == '\n'))
		start++;
	memmove(ret_key, ret_key + start, len - start);
	len -= start;
	ret_key[len] = '\0';
	if (!len) {
		log_error("billing.stripe_key_file: '%s' holds no key", path);
		r = -EINVAL;
	}
out_wipe:
	if (r)
		explicit_bzero(ret_key, size);
out_close:
	close(fd);
	return r;
}

/* ---- recording outcomes ------------------------------------------------- */

/* Stop charging @invoice_id until an operator clears invoices.payment_hold. */
static int hold_invoice(struct pay_run *run, const char *invoice_id, const char *reason)
{
	const char *p[] = { invoice_id, reason, run->now_s };

	log_error("invoice %s: automatic payment stopped (invoices.payment_hold): %s; fix the "
		  "cause (billing.stripe_key_file, billing.stripe_base_url, the customer, or a bug "
		  "to report), then set payment_hold to NULL",
		  invoice_id, reason);
	run->held++;
	return pg_command(
		run->c, "hold the invoice",
		"UPDATE invoices SET payment_hold = $2, updated_at = to_timestamp($3::bigint)"
		" WHERE id = $1",
		3, p);
}

static int record_paid(struct pay_run *run, const struct attempt *a,
		       const struct stripe_result *res)
{
	const char *pp[] = { a->payment_id, res->id, run->now_s };
	const char *pi[] = { a->invoice_id, run->now_s };
	int r;

	r = tx_begin(run->c);
	if (!r)
		r = pg_command(
			run->c, "record a succeeded payment",
			"UPDATE payments SET status = 'succeeded', outcome = 'ok',"
			" provider_ref = NULLIF($2, ''), error = NULL, next_attempt_at = NULL,"
			" updated_at = to_timestamp($3::bigint) WHERE id = $1",
			3, pp);
	if (!r)
		r = pg_command(
			run->c, "mark the invoice paid",
			"UPDATE invoices SET status = 'paid', paid_at = to_timestamp($2::bigint),"
			" updated_at = to_timestamp($2::bigint)"
			" WHERE id = $1 AND status IN ('finalized', 'payment_failed')",
			2, pi);
	r = tx_commit(run->c, r);
	if (r)
		return r;
	run->paid++;
	if (res->amount &&
	    (res->amount != a->amount_minor || strcasecmp(res->currency, a->currency)))
		log_error("invoice %s: Stripe charged %" PRId64 " %s for attempt %d (%s), but the "
			  "attempt asked for %" PRId64 " %s: check payment_intent %s",
			  a->invoice_id, res->amount, res->currency, a->n, a->key, a->amount_minor,
			  a->currency, res->id);
	log_info("invoice %s: paid, %" PRId64 " %s in minor units (attempt %d, %s%s)",
		 a->invoice_id, a->amount_minor, a->currency, a->n, res->id,
		 res->replayed ? ", a replayed answer" : "");
	return 0;
}

static int suspend_consumer(struct pay_run *run, const struct attempt *a)
{
	const char *pc[] = { a->consumer_id };
	const char *pk[] = { a->consumer_id, a->invoice_id };
	PGresult *res;
	uint64_t changed, keys;

	res = pg_exec(run->c, "suspend the consumer",
		      "UPDATE consumers SET suspended = true WHERE id = $1 AND NOT suspended", 1,
		      pc);
	if (!res)
		return -EIO;
	changed = pg_rows_affected(res);
	PQclear(res);
	if (!changed)
		return 0; /* already suspended: its keys were announced then */
	res = pg_exec(run->c, "queue the key suspensions",
		      "INSERT INTO outbox (kind, payload) SELECT 'key', jsonb_build_object("
		      "'digest', k.digest, 'suspended', true, 'key_id', k.id,"
		      " 'consumer_id', k.consumer_id, 'reason', 'payment_failed',"
		      " 'invoice_id', $2::bigint)"
		      " FROM api_keys k WHERE k.consumer_id = $1 AND k.revoked_at IS NULL"
		      " ORDER BY k.id",
		      2, pk);
	if (!res)
		return -EIO;
	keys = pg_rows_affected(res);
	PQclear(res);
	run->suspended++;
	log_warn("consumer %s: suspended after %d declined payments of invoice %s (%" PRIu64
		 " key(s) queued in the outbox)",
		 a->consumer_id, a->n, a->invoice_id, keys);
	return 0;
}

static int record_declined(struct pay_run *run, const struct attempt *a,
			   const struct stripe_result *res)
{
	bool last = a->n >= PAYMENTS_MAX_ATTEMPTS;
	char next_s[24];
	const char *pp[] = { a->payment_id, res->id, res->message, last ? NULL : next_s,
			     run->now_s };
	const char *pi[] = { a->invoice_id, run->now_s };
	int r;

	if (!last)
		snprintf(next_s, sizeof(next_s), "%lld",
			 (long long)run->now + (long long)payments_retry_delay(a->n));
	r = tx_begin(run->c);
	if (!r)
		r = pg_command(run->c, "record a declined payment",
			       "UPDATE payments SET status = 'failed', outcome = 'declined',"
			       " provider_ref = coalesce(NULLIF($2, ''), provider_ref), error = $3,"
			       " next_attempt_at = to_timestamp($4::bigint),"
			       " updated_at = to_timestamp($5::bigint) WHERE id = $1",
			       5, pp);
	if (!r)
		r = pg_command(run->c, "mark the invoice payment_failed",
			       "UPDATE invoices SET status = 'payment_failed',"
			       " updated_at = to_timestamp($2::bigint)"
			       " WHERE id = $1 AND status IN ('finalized', 'payment_failed')",
			       2, pi);
	if (!r && last)
		r = suspend_consumer(run, a);
	r = tx_commit(run->c, r);
	if (r)
		return r;
	run->declined++;
	if (last)
		log_warn("invoice %s: attempt %d of %d declined, dunning over: %s", a->invoice_id,
			 a->n, PAYMENTS_MAX_ATTEMPTS, res->message);
	else
		log_warn("invoice %s: attempt %d of %d declined, next in %u day(s): %s",
			 a->invoice_id, a->n, PAYMENTS_MAX_ATTEMPTS,
			 payments_retry_delay(a->n) / 86400, res->message);
	return 0;
}

static int record_pending(struct pay_run *run, const struct attempt *a,
			  const struct stripe_result *res)
{
	const char *p[] = { a->payment_id, res->id, res->message, run->now_s };

	run->pending++;
	log_info("invoice %s: attempt %d is pending (%s %s), polled on the next runs",
		 a->invoice_id, a->n, res->id, res->status);
	return pg_command(run->c, "record a pending payment",
			  "UPDATE payments SET status = 'pending', outcome = 'pending',"
			  " provider_ref = $2, error = $3, updated_at = to_timestamp($4::bigint)"
			  " WHERE id = $1",
			  4, p);
}

/* The outcome is still open: the status stays 'unknown' (or 'pending'). */
static int record_retry(struct pay_run *run, const struct attempt *a,
			const struct stripe_result *res)
{
	const char *p[] = { a->payment_id, res->message, run->now_s };

	run->unresolved++;
	log_warn("invoice %s: attempt %d (%s): outcome unknown, asked again on the next run: %s",
		 a->invoice_id, a->n, a->key, res->message);
	return pg_command(run->c, "record an unknown payment outcome",
			  "UPDATE payments SET outcome = 'retry', error = $2,"
			  " updated_at = to_timestamp($3::bigint) WHERE id = $1",
			  3, p);
}

/*
 * Our bug or our configuration. @charged: the answer is to the charge itself
 * (not a poll), so a refusal means nothing was charged under this key.
 */
static int record_invalid(struct pay_run *run, const struct attempt *a,
			  const struct stripe_result *res, bool charged)
{
	bool idempotency = strcmp(res->error_type, "idempotency_error") == 0;
	const char *p[] = { a->payment_id, res->message, charged && !idempotency ? "t" : "f",
			    res->id, run->now_s };
	char reason[REASON_MAX];
	int r;

	if (res->http_status == 401) {
		const char *pe[] = { a->payment_id, res->message, run->now_s };

		pg_command(run->c, "record the refused key",
			   "UPDATE payments SET outcome = 'invalid', error = $2,"
			   " updated_at = to_timestamp($3::bigint) WHERE id = $1",
			   3, pe);
		log_error(
			"Stripe refused the secret key (HTTP 401): check billing.stripe_key_file; "
			"payments stop here, invoice %s attempt %d stays unknown and is sent again "
			"with the same key once the key is fixed: %s",
			a->invoice_id, a->n, res->message);
		return -EACCES;
	}
	snprintf(reason, sizeof(reason), "attempt %d (%s) refused as invalid%s: %s", a->n, a->key,
		 idempotency ? " (idempotency_error: the first request may have charged, check "
			       "the Stripe Dashboard)"
			     : "",
		 res->message);
	r = tx_begin(run->c);
	if (!r)
		r = pg_command(run->c, "record a refused payment",
			       "UPDATE payments SET status = CASE WHEN $3::boolean THEN 'failed'"
			       " ELSE status END, outcome = 'invalid', error = $2,"
			       " provider_ref = coalesce(NULLIF($4, ''), provider_ref),"
			       " updated_at = to_timestamp($5::bigint) WHERE id = $1",
			       5, p);
	if (!r)
		r = hold_invoice(run, a->invoice_id, reason);
	return tx_commit(run->c, r);
}

static int record(struct pay_run *run, const struct attempt *a, const struct stripe_result *res,
		  bool charged)
{
	switch (res->outcome) {
	case STRIPE_OK:
		return record_paid(run, a, res);
	case STRIPE_DECLINED:
		return record_declined(run, a, res);
	case STRIPE_PENDING:
		if (res->id[0])
			return record_pending(run, a, res);
		return record_retry(run, a, res); /* no intent to poll: resend */
	case STRIPE_RETRY:
		return record_retry(run, a, res);
	case STRIPE_INVALID:
		return record_invalid(run, a, res, charged);
	}
	return -EINVAL;
}

/* ---- talking to Stripe -------------------------------------------------- */

/* Send attempt @a (again): the same key, customer, amount and currency. */
static int send_charge(struct pay_run *run, const struct attempt *a)
{
	struct stripe_result res;
	int r;

	r = stripe_charge(run->stripe, a->key, a->customer, a->amount_minor, a->currency,
			  a->invoice_id, &res);
	if (r == -EINVAL) {
		/* nothing was sent: stripe.h refused the arguments */
		res = (struct stripe_result){ .outcome = STRIPE_INVALID };
		snprintf(res.message, sizeof(res.message),
			 "not sent: stripe_charge() refused customer '%.64s', amount %" PRId64
			 ", currency '%s'",
			 a->customer, a->amount_minor, a->currency);
		return record(run, a, &res, true);
	}
	if (r < 0)
		return r;
	return record(run, a, &res, true);
}

static int poll_intent(struct pay_run *run, const struct attempt *a)
{
	struct stripe_result res;
	int r;

	r = stripe_get_payment_intent(run->stripe, a->provider_ref, &res);
	if (r == -EINVAL) {
		char reason[REASON_MAX];

		snprintf(reason, sizeof(reason), "attempt %d: '%.64s' is not a payment intent id",
			 a->n, a->provider_ref);
		return hold_invoice(run, a->invoice_id, reason);
	}
	if (r < 0)
		return r;
	return record(run, a, &res, false);
}

/*
 * The consumer's Stripe customer into @ret_customer (STRIPE_ID_MAX bytes), created on
 * first use. 0 when it is there, 1 when this invoice must wait (logged, or
 * held), -errno to stop the run.
 */
static int ensure_customer(struct pay_run *run, const char *invoice_id, const char *consumer_id,
			   char *ret_customer)
{
	const char *pc[] = { consumer_id };
	char key[KEY_MAX], reason[REASON_MAX];
	struct stripe_result res;
	const char *name, *email;
	PGresult *q;
	int r;

	q = pg_exec(run->c, "read the consumer",
		    "SELECT name, email, payment_customer_id FROM consumers WHERE id = $1", 1, pc);
	if (!q)
		return -EIO;
	if (PQntuples(q) != 1) {
		PQclear(q);
		snprintf(reason, sizeof(reason), "consumer %s does not exist", consumer_id);
		r = hold_invoice(run, invoice_id, reason);
		return r < 0 ? r : 1;
	}
	if (!PQgetisnull(q, 0, 2) && PQgetvalue(q, 0, 2)[0]) {
		copy_str(ret_customer, STRIPE_ID_MAX, PQgetvalue(q, 0, 2));
		PQclear(q);
		return 0;
	}
	/* name and email are cosmetic at Stripe: leave out what it would refuse */
	name = PQgetvalue(q, 0, 0);
	email = PQgetvalue(q, 0, 1);
	if (!name[0] || strlen(name) > STRIPE_FIELD_MAX)
		name = NULL;
	if (!email[0] || strlen(email) > STRIPE_FIELD_MAX)
		email = NULL;
	snprintf(key, sizeof(key), "customer-%s", consumer_id);
	r = stripe_create_customer(run->stripe, key, name, email, consumer_id, &res);
	PQclear(q);
	if (r == -EINVAL) {
		snprintf(reason, sizeof(reason),
			 "consumer %s: stripe_create_customer() refused its arguments",
			 consumer_id);
		r = hold_invoice(run, invoice_id, reason);
		return r < 0 ? r : 1;
	}
	if (r < 0)
		return r;

	switch (res.outcome) {
	case STRIPE_OK: {
		const char *pu[] = { consumer_id, res.id };

		q = pg_exec(run->c, "store the customer",
			    "UPDATE consumers SET payment_customer_id ="
			    " coalesce(payment_customer_id, $2) WHERE id = $1"
			    " RETURNING payment_customer_id",
			    2, pu);
		if (!q)
			return -EIO;
		if (PQntuples(q) != 1) {
			PQclear(q);
			return 1;
		}
		copy_str(ret_customer, STRIPE_ID_MAX, PQgetvalue(q, 0, 0));
		PQclear(q);
		log_info("consumer %s: Stripe customer %s%s", consumer_id, ret_customer,
			 res.replayed ? " (a replayed answer)" : "");
		return 0;
	}
	case STRIPE_RETRY:
		run->unresolved++;
		log_warn("consumer %s: creating the Stripe customer (%s): outcome unknown, asked "
			 "again on the next run: %s",
			 consumer_id, key, res.message);
		return 1;
	case STRIPE_DECLINED:
	case STRIPE_PENDING:
	case STRIPE_INVALID:
		break;
	}
	if (res.http_status == 401) {
		log_error(
			"Stripe refused the secret key (HTTP 401): check billing.stripe_key_file; "
			"payments stop here: %s",
			res.message);
		return -EACCES;
	}
	snprintf(reason, sizeof(reason), "creating the Stripe customer of consumer %s (%s): %s",
		 consumer_id, key, res.message);
	r = hold_invoice(run, invoice_id, reason);
	return r < 0 ? r : 1;
}

/* ---- one invoice -------------------------------------------------------- */

static int mark_zero_paid(struct pay_run *run, const char *invoice_id)
{
	const char *p[] = { invoice_id, run->now_s };
	PGresult *res;
	uint64_t n;

	res = pg_exec(run->c, "mark a zero invoice paid",
		      "UPDATE invoices SET status = 'paid', paid_at = to_timestamp($2::bigint),"
		      " updated_at = to_timestamp($2::bigint)"
		      " WHERE id = $1 AND status = 'finalized' AND total_minor = 0",
		      2, p);
	if (!res)
		return -EIO;
	n = pg_rows_affected(res);
	PQclear(res);
	if (n) {
		run->paid++;
		run->zero++;
		log_info("invoice %s: total 0, paid without a charge", invoice_id);
	}
	return 0;
}

/* A new attempt after @prev (0: none): customer, row committed, then the charge. */
static int new_attempt(struct pay_run *run, PGresult *q, int row, int prev)
{
	struct attempt a = {
		.invoice_id = PQgetvalue(q, row, COL_INVOICE),
		.consumer_id = PQgetvalue(q, row, COL_CONSUMER),
		.n = prev + 1,
	};
	char n_s[16], amount_s[24];
	const char *p[] = {
		a.invoice_id, n_s, a.key, a.customer, amount_s, a.currency, run->now_s
	};
	PGresult *res;
	int r;

	a.amount_minor = strtoll(PQgetvalue(q, row, COL_TOTAL), NULL, 10);
	if (a.amount_minor == 0)
		return mark_zero_paid(run, a.invoice_id);
	copy_str(a.currency, sizeof(a.currency), PQgetvalue(q, row, COL_CURRENCY));
	r = ensure_customer(run, a.invoice_id, a.consumer_id, a.customer);
	if (r)
		return r < 0 ? r : 0;

	snprintf(a.key, sizeof(a.key), "invoice-%s-attempt-%d", a.invoice_id, a.n);
	snprintf(n_s, sizeof(n_s), "%d", a.n);
	snprintf(amount_s, sizeof(amount_s), "%" PRId64, a.amount_minor);
	/* committed before anything is sent: the key is durable first */
	res = pg_exec(run->c, "write the payment attempt",
		      "INSERT INTO payments (invoice_id, attempt, idempotency_key, status,"
		      " customer_id, amount_minor, currency, created_at, updated_at)"
		      " VALUES ($1, $2, $3, 'unknown', $4, $5, $6, to_timestamp($7::bigint),"
		      " to_timestamp($7::bigint)) ON CONFLICT DO NOTHING RETURNING id",
		      7, p);
	if (!res)
		return -EIO;
	if (PQntuples(res) != 1) {
		PQclear(res);
		log_warn("invoice %s: attempt %d exists already; left to the next run",
			 a.invoice_id, a.n);
		return 0;
	}
	copy_str(a.payment_id, sizeof(a.payment_id), PQgetvalue(res, 0, 0));
	PQclear(res);
	return send_charge(run, &a);
}

static int pay_invoice(struct pay_run *run, PGresult *q, int row)
{
	struct attempt a = {
		.invoice_id = PQgetvalue(q, row, COL_INVOICE),
		.consumer_id = PQgetvalue(q, row, COL_CONSUMER),
	};
	const char *status, *outcome;
	char reason[REASON_MAX];
	long long created;

	if (PQgetisnull(q, row, COL_PAYMENT))
		return new_attempt(run, q, row, 0);

	a.n = (int)strtol(PQgetvalue(q, row, COL_ATTEMPT), NULL, 10);
	status = PQgetvalue(q, row, COL_STATUS);
	outcome = PQgetvalue(q, row, COL_OUTCOME);
	copy_str(a.payment_id, sizeof(a.payment_id), PQgetvalue(q, row, COL_PAYMENT));
	copy_str(a.key, sizeof(a.key), PQgetvalue(q, row, COL_KEY));
	copy_str(a.customer, sizeof(a.customer), PQgetvalue(q, row, COL_CUSTOMER));
	copy_str(a.currency, sizeof(a.currency), PQgetvalue(q, row, COL_PCURRENCY));
	copy_str(a.provider_ref, sizeof(a.provider_ref), PQgetvalue(q, row, COL_REF));
	a.amount_minor = strtoll(PQgetvalue(q, row, COL_AMOUNT), NULL, 10);
	created = strtoll(PQgetvalue(q, row, COL_CREATED), NULL, 10);

	if (!strcmp(status, "failed")) {
		if (!strcmp(outcome, "declined") && a.n >= PAYMENTS_MAX_ATTEMPTS)
			return 0; /* dunning over */
		return new_attempt(run, q, row, a.n);
	}
	if (!strcmp(status, "succeeded")) {
		/* paid at Stripe, recorded, but the invoice was changed since: say it again */
		struct stripe_result res = { .outcome = STRIPE_OK };

		copy_str(res.id, sizeof(res.id), a.provider_ref);
		log_warn("invoice %s: attempt %d succeeded, the invoice was not paid: marking it",
			 a.invoice_id, a.n);
		return record_paid(run, &a, &res);
	}
	if (!strcmp(status, "pending") && a.provider_ref[0])
		return poll_intent(run, &a);

	/* unknown: the same request again, while Stripe still knows the key */
	if ((long long)run->now - created > PAYMENTS_KEY_TTL) {
		snprintf(reason, sizeof(reason),
			 "attempt %d (%s) has had no outcome for more than %d hours and Stripe may "
			 "have forgotten its key: look for metadata[invoice_id]=%s in the Stripe "
			 "Dashboard, record what happened (invoice paid, or the attempt failed)",
			 a.n, a.key, PAYMENTS_KEY_TTL / 3600, a.invoice_id);
		return hold_invoice(run, a.invoice_id, reason);
	}
	if (!a.customer[0] || !a.currency[0]) {
		snprintf(reason, sizeof(reason), "attempt %d (%s) has no customer or currency", a.n,
			 a.key);
		return hold_invoice(run, a.invoice_id, reason);
	}
	return send_charge(run, &a);
}

/* ---- the run ------------------------------------------------------------ */

static int run_stripe(struct pay_run *run, const struct config *cfg)
{
	const char *p[] = { run->now_s };
	char secret[SECRET_FILE_MAX];
	PGresult *q;
	int r;

	r = read_secret_key(cfg->billing.stripe_key_file, secret, sizeof(secret));
	if (r)
		return r;
	r = stripe_new(cfg->billing.stripe_base_url, secret, cfg->billing.stripe_timeout_ms,
		       &run->stripe);
	explicit_bzero(secret, sizeof(secret));
	if (r == -EINVAL) {
		log_error("billing.stripe_base_url '%s' is not an http(s):// URL, or "
			  "billing.stripe_key_file does not hold a printable key without spaces",
			  cfg->billing.stripe_base_url);
		return r;
	}
	if (r)
		return log_error_errno(r, "cannot create the Stripe client");

	q = pg_exec(run->c, "find the invoices to charge", CANDIDATES, 1, p);
	if (!q)
		return -EIO;
	for (int i = 0; i < PQntuples(q) && r >= 0; i++)
		r = pay_invoice(run, q, i);
	PQclear(q);
	return r;
}

int payments_run(PGconn *c, const struct config *cfg, time_t now)
{
	struct pay_run run = { .c = c, .now = now };
	PGresult *res;
	bool locked;
	int r;

	if (strcmp(cfg->billing.payment_provider, "stripe") != 0) {
		log_debug("billing.payment_provider = %s: no payments",
			  cfg->billing.payment_provider);
		return 0;
	}
	snprintf(run.now_s, sizeof(run.now_s), "%lld", (long long)now);

	res = pg_exec(c, "take the payments lock",
		      "SELECT pg_try_advisory_lock(" PAYMENTS_LOCK_ID ")", 0, NULL);
	if (!res)
		return -EIO;
	locked = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (!locked) {
		log_info("payments: another run holds the payments lock; nothing done");
		return 0;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error("payments: curl_global_init() failed");
		r = -ENOMEM;
		goto out_unlock;
	}

	r = run_stripe(&run, cfg);

	stripe_free(run.stripe);
	curl_global_cleanup();
	if (run.paid || run.declined || run.pending || run.unresolved || run.held)
		log_info("payments: %u paid (%u with a zero total), %u declined, %u pending, "
			 "%u unknown (asked again next run), %u held, %u consumer(s) suspended",
			 run.paid, run.zero, run.declined, run.pending, run.unresolved, run.held,
			 run.suspended);
out_unlock:
	pg_command(c, "release the payments lock",
		   "SELECT pg_advisory_unlock(" PAYMENTS_LOCK_ID ")", 0, NULL);
	return r < 0 ? r : (int)run.paid;
}
