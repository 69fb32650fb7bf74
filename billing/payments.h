/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * payments.h - charge finalized invoices through the payment provider, with
 * dunning and suspension (DESIGN §6 "Payments", §7 outbox).
 *
 * Provider. billing.payment_provider = none: payments_run() does nothing
 * (invoices stay finalized). stripe: billing/stripe.h against
 * billing.stripe_base_url, with the secret key read from
 * billing.stripe_key_file (one line; surrounding white space ignored). The
 * file must exist; a mode that lets group or others read it is logged as a
 * warning (0600 or stricter is recommended).
 *
 * Exactly one charge per invoice. Every charge is an attempt, a row of
 * `payments`: attempt n of invoice I carries the Idempotency-Key
 * "invoice-<I>-attempt-<n>" and the customer, amount and currency it charges.
 * The row is inserted as 'unknown' and committed BEFORE the request is sent,
 * and every later send of that attempt repeats exactly the same request under
 * the same key, so whatever happens between (timeout, crash, 5xx) Stripe
 * creates the PaymentIntent at most once. A new attempt, with a new key, is
 * made only after a definitive decline. Attempt states:
 *
 *   unknown    sent or about to be sent, outcome unknown (STRIPE_RETRY: a
 *              timeout, a 5xx, a 409 while the first send still runs): sent
 *              again, same key, on the next run. The invoice keeps its status.
 *   pending    the PaymentIntent (provider_ref) exists but is not final
 *              (STRIPE_PENDING, e.g. "processing"): polled with
 *              stripe_get_payment_intent() on each run until it ends.
 *   succeeded  the invoice is 'paid' (paid_at = now).
 *   failed     outcome 'declined': nothing was charged; the invoice is
 *              'payment_failed' and the next attempt is due at
 *              next_attempt_at (dunning, below). outcome 'invalid': see hold.
 *
 * Dunning. Attempt 1 is made on the first run after the invoice is
 * finalized. After attempt n (1..3) is declined, attempt n+1 is due
 * payments_retry_delay(n) later: +1 day, then +3 days, then +7 days, so
 * PAYMENTS_MAX_ATTEMPTS = 4 attempts over 11 days. When attempt 4 is declined
 * the invoice stays 'payment_failed' with no next attempt and the consumer is
 * suspended in the same transaction: consumers.suspended = true, and one
 * `outbox` row per key not revoked, kind 'key', payload {"digest",
 * "suspended": true, "key_id", "consumer_id", "reason": "payment_failed",
 * "invoice_id"}, for the relay that applies key changes to Redis and
 * publishes them on tollgate:keys (DESIGN §7). A consumer already suspended
 * gets no new rows. Nothing here lifts a suspension.
 *
 * Hold. An outcome that retrying cannot fix stops automatic charging of the
 * invoice: invoices.payment_hold gets the reason and the error is logged.
 * These are STRIPE_INVALID answers (a parameter Stripe refuses, an unknown
 * customer or payment intent, an idempotency_error), arguments stripe.h
 * refuses, and an 'unknown' attempt older than PAYMENTS_KEY_TTL (Stripe may
 * have forgotten its key: a resend could charge twice). A refused charge
 * marks the attempt 'failed' (outcome 'invalid'); an idempotency_error or a
 * refused poll leaves it as it was. An operator fixes the cause and sets
 * payment_hold to NULL: the next run then makes a new attempt after a failed
 * one, or resends/polls an unknown/pending one (after looking an expired one
 * up in the Stripe Dashboard by metadata[invoice_id], mark the invoice paid or
 * the attempt 'failed' first). A 401 (a wrong secret key) holds nothing: the
 * run stops, the attempt stays 'unknown', and the run after the key file is
 * fixed resends it.
 *
 * Customers. Before its first charge a consumer gets a Stripe customer
 * (stripe_create_customer(), key "customer-<consumer_id>", its name and
 * email), stored in consumers.payment_customer_id. Charges go to the
 * customer's default source (stripe_charge(), no payment method named).
 *
 * Zero-total finalized invoices are marked paid without a charge. Invoices
 * with a negative total (credits) are neither charged nor changed.
 *
 * Time. Every timestamp written (payments.created_at, updated_at,
 * next_attempt_at, invoices.paid_at, updated_at) is @now, so a test can drive
 * the dunning schedule (tollgate-billing pay --now). Each Stripe exchange is
 * bounded by billing.stripe_timeout_ms.
 */
#ifndef TG_BILLING_PAYMENTS_H
#define TG_BILLING_PAYMENTS_H

#include <time.h>

#include <libpq-fe.h>

#include "lib/config.h"

#define PAYMENTS_MAX_ATTEMPTS 4
#define PAYMENTS_KEY_TTL (23 * 3600) /* an unknown attempt is resent up to this age, s */

/*
 * payments_run() - act on every invoice whose payment is due at @now (unix
 * seconds): charge the 'finalized' ones (and mark zero totals paid), resend
 * 'unknown' attempts, poll 'pending' ones, make the due dunning attempts of
 * 'payment_failed' ones. Invoices are handled one by one, in id order, one
 * or two Stripe exchanges each, so a run takes as long as its invoices (call
 * it from its own thread and connection if that matters; it calls the
 * refcounted curl_global_init() itself, thread-safe in libcurl >= 7.84).
 * Runs are serialised by a session advisory lock: a run that finds it taken
 * does nothing and returns 0.
 *
 * Stripe failures of one invoice are recorded on it and logged; the run goes
 * on with the others. Returns the number of invoices paid by this run (zero
 * totals included); -EIO when Postgres fails, -EACCES when Stripe refuses the
 * secret key (401), -ENOENT / -EACCES / -EINVAL when billing.stripe_key_file
 * cannot be read or holds no key, -EINVAL for a bad
 * TOLLGATE_STRIPE_TIMEOUT_MS or billing.stripe_base_url, -ENOMEM. Errors are
 * logged. What was committed before an error stays committed and consistent.
 */
int payments_run(PGconn *c, const struct config *cfg, time_t now);

/*
 * payments_retry_delay() - seconds from the decline of attempt @attempt to
 * the next attempt: 1, 3 and 7 days after attempts 1, 2 and 3; 0 after
 * attempt PAYMENTS_MAX_ATTEMPTS (dunning is over) or for a number out of
 * range.
 */
unsigned int payments_retry_delay(int attempt);

#endif /* TG_BILLING_PAYMENTS_H */
