#!/usr/bin/env bash
# test-billing-payments.sh - `tollgate-billing pay` charges finalized invoices
# exactly once through the Stripe provider (DESIGN §6 "Payments"), against a
# real Postgres and tests/fake_stripe.py:
#   - payment_provider = none: nothing happens;
#   - one charge per invoice with its amount and currency, customers created
#     once, zero totals paid without a charge, drafts left alone; a second run
#     sends nothing;
#   - a charge that times out stays 'unknown' and is sent again under the same
#     Idempotency-Key (a 409 while the first still runs, then the stored
#     answer): one charge; a 500 on the charge, and on the customer creation,
#     then success: one charge;
#   - a processing PaymentIntent is polled until it succeeds;
#   - a declined customer: payment_failed, dunning at +1, +3, +7 days (pay
#     --now), after the 4th decline the consumer is suspended with one outbox
#     row per active key; a customer that pays during dunning is not;
#   - an invalid charge stops (payment_hold) until an operator clears it; a
#     wrong secret key (401) stops the run and the attempt is resent once the
#     key is fixed; a missing key file is an error, a 0644 one a warning;
#   - two concurrent runs charge each invoice once;
#   - in the end, the fake's charges are exactly the succeeded attempts.
# Run: BUILD=/abs/build bash tests/integration/test-billing-payments.sh (as root).
set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tg_init billpay
tg_need psql
tg_postgres_up

# --- the fake Stripe ---------------------------------------------------------------
STRIPE_KEY=sk_test_tollgate
tg_spawn "$TG_DIR/fake-stripe.log" "$PYTHON" "$TG_ROOT/tests/fake_stripe.py" --port 0 \
	--port-file "$TG_DIR/stripe.port" --key "$STRIPE_KEY"
for ((i = 0; i < 50; i++)); do [ -s "$TG_DIR/stripe.port" ] && break; sleep 0.1; done
[ -s "$TG_DIR/stripe.port" ] ||
	tg_fatal "fake_stripe.py did not start: $(cat "$TG_DIR/fake-stripe.log")"
STRIPE="http://127.0.0.1:$(cat "$TG_DIR/stripe.port")"

# fq COMMAND [ARGS]: questions to the fake (its test endpoints), one answer line
cat >"$TG_DIR/fq.py" <<'EOF'
import json, sys, urllib.parse, urllib.request
base, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]

def call(path, data=None, headers=None):
    req = urllib.request.Request(base + path, data=data, headers=headers or {})
    return json.load(urllib.request.urlopen(req))

def posts(path):
    return [r for r in call("/_requests") if r["method"] == "POST" and r["path"] == path]

if cmd == "count":                       # /v1 requests so far
    print(len(call("/_requests")))
elif cmd == "sends":                     # KEY: POSTs sent under this Idempotency-Key
    print(sum(1 for r in call("/_requests") if r["headers"].get("idempotency-key") == args[0]))
elif cmd == "keys":                      # INVOICE: keys of its charges, distinct, in order
    seen = []
    for r in posts("/v1/payment_intents"):
        k = r["headers"].get("idempotency-key")
        if r["form"].get("metadata[invoice_id]") == args[0] and k not in seen:
            seen.append(k)
    print(" ".join(seen))
elif cmd == "form":                      # KEY FIELD: a field of the first POST under KEY
    print(next((r["form"].get(args[1], "") for r in call("/_requests")
                if r["headers"].get("idempotency-key") == args[0]), ""))
elif cmd == "gets":                      # PATH: GETs of it
    print(sum(1 for r in call("/_requests") if r["method"] == "GET" and r["path"] == args[0]))
elif cmd == "charges":                   # CUSTOMER: "amount currency status", sorted
    print(" ".join(sorted("%d %s %s" % (c["amount"], c["currency"], c["status"])
                          for c in call("/_charges") if c["customer"] == args[0])))
elif cmd == "ncharges":
    print(len(call("/_charges")))
elif cmd == "all":                       # every charge: "pi amount currency status", sorted
    for line in sorted("%s %d %s %s" % (c["payment_intent"], c["amount"], c["currency"],
                                        c["status"]) for c in call("/_charges")):
        print(line)
elif cmd == "customer":                  # NAME: create a customer directly, print its id
    body = urllib.parse.urlencode({"name": args[0]}).encode()
    print(call("/v1/customers", body, {"Authorization": "Bearer " + args[1],
                                       "Content-Type": "application/x-www-form-urlencoded"})["id"])
elif cmd == "ctl":                       # JSON: POST /_control
    call("/_control", args[0].encode(), {"Content-Type": "application/json"})
EOF
fq() { "$PYTHON" "$TG_DIR/fq.py" "$STRIPE" "$@"; }

# --- configuration -------------------------------------------------------------------
KEYFILE=$TG_DIR/stripe-key
(umask 077 && echo "$STRIPE_KEY" >"$KEYFILE")
conf() { # FILE PROVIDER KEYFILE
	cat >"$1" <<-EOF
		[postgres]
		dsn = $TG_PG_DSN
		[billing]
		payment_provider = $2
		stripe_base_url = $STRIPE
		stripe_key_file = $3
		stripe_timeout_ms = 1000
	EOF
}
CONF=$TG_DIR/tollgate.conf
conf "$CONF" stripe "$KEYFILE"
conf "$TG_DIR/none.conf" none "$KEYFILE"
# the client gives up after 1 s; the fake's timeout_next sleeps 3 s

"$BUILD/tollgate-billing" --config "$CONF" migrate >"$TG_DIR/billing-migrate.log" 2>&1 ||
	tg_fatal "migrate failed: $(tail -5 "$TG_DIR/billing-migrate.log")"

PAY_RUNS=0
pay() { # [CONF] [pay args...]: one `tollgate-billing pay`; its exit status; log in $PAY_LOG
	local conf=$CONF
	case "${1:-}" in *.conf) conf=$1; shift ;; esac
	PAY_RUNS=$((PAY_RUNS + 1))
	PAY_LOG=$TG_DIR/billing-pay.$PAY_RUNS.log
	"$BUILD/tollgate-billing" --config "$conf" pay "$@" >"$PAY_LOG" 2>&1
}

# --- the catalog --------------------------------------------------------------------------
tg_psql "INSERT INTO plans (id, name, rate_per_sec, burst) VALUES (100, 'basic', 10, 10)"
consumer() { # ID NAME
	tg_psql "INSERT INTO consumers (id, name, email) VALUES ($1, '$2', '$2@example.com')"
}
key() { # ID CONSUMER DIGEST [revoked]
	local revoked=NULL
	[ -n "${4:-}" ] && revoked="now()"
	tg_psql "INSERT INTO api_keys (id, consumer_id, plan_id, digest, prefix, revoked_at)
		VALUES ($1, $2, 100, '$3', 'tg_1$1', $revoked)"
}
invoice() { # CONSUMER YYYY-MM CURRENCY TOTAL [STATUS]: prints the id
	tg_psql "INSERT INTO invoices (consumer_id, period, period_start, period_end, currency,
		status, total_minor, finalized_at) VALUES ($1, '$2-01', '$2-01',
		'$2-01'::date + interval '1 month', '$3', '${5:-finalized}', $4, now())
		RETURNING id"
}
inv_status() { # INVOICE...: their statuses
	local i out=""
	for i in "$@"; do out+="$(tg_psql "SELECT status FROM invoices WHERE id = $i") "; done
	echo "${out% }"
}
held() { tg_psql "SELECT payment_hold IS NOT NULL FROM invoices WHERE id = $1"; }
error_of() { # INVOICE: the error of its latest attempt
	tg_psql "SELECT error FROM payments WHERE invoice_id = $1 ORDER BY attempt DESC LIMIT 1"
}
suspended() { tg_psql "SELECT suspended FROM consumers WHERE id = $1"; }
count() { tg_psql "SELECT count(*) FROM $1"; } # FROM-CLAUSE
attempts() { # INVOICE: "attempt:status:outcome" of each attempt
	tg_psql "SELECT string_agg(attempt || ':' || status || ':' || coalesce(outcome, '-'), ' '
		ORDER BY attempt) FROM payments WHERE invoice_id = $1"
}
customer_of() { tg_psql "SELECT coalesce(payment_customer_id, '') FROM consumers WHERE id = $1"; }
next_at() { # INVOICE ATTEMPT: next_attempt_at as unix seconds, or "none"
	tg_psql "SELECT coalesce(extract(epoch FROM next_attempt_at)::bigint::text, 'none')
		FROM payments WHERE invoice_id = $1 AND attempt = $2"
}

for c in 1:alice 2:bob 3:carol 4:dave 6:frank 7:gina 8:hank 9:ivy 10:jack 11:kate; do
	consumer "${c%%:*}" "${c#*:}"
done

# --- provider none ---------------------------------------------------------------------------
I1=$(invoice 1 2024-01 USD 1234)
pay "$TG_DIR/none.conf"
assert_eq "payment_provider = none: pay exits 0" 0 "$?"
assert_eq "payment_provider = none: no request to Stripe" 0 "$(fq count)"
assert_eq "payment_provider = none: the invoice stays finalized, no attempt" "finalized 0" \
	"$(inv_status "$I1") $(tg_psql "SELECT count(*) FROM payments")"

# --- one charge per invoice --------------------------------------------------------------------
I2=$(invoice 2 2024-01 EUR 5000)
I3=$(invoice 3 2024-01 USD 0)
I4=$(invoice 4 2024-01 JPY 1500)
I5=$(invoice 2 2024-02 EUR 777 draft)
pay
assert_eq "pay exits 0" 0 "$?"
assert_eq "invoices paid; the draft left alone" "paid paid paid paid draft" \
	"$(inv_status "$I1" "$I2" "$I3" "$I4" "$I5")"
CUS1=$(customer_of 1)
CUS2=$(customer_of 2)
CUS4=$(customer_of 4)
assert_match "a Stripe customer stored per charged consumer" \
	'^cus_[0-9a-f]+ cus_[0-9a-f]+ cus_[0-9a-f]+ $' "$CUS1 $CUS2 $CUS4 $(customer_of 3)"
assert_eq "alice: one charge, 1234 usd" "1234 usd succeeded" "$(fq charges "$CUS1")"
assert_eq "bob: one charge, 5000 eur" "5000 eur succeeded" "$(fq charges "$CUS2")"
assert_eq "dave: one charge, 1500 jpy" "1500 jpy succeeded" "$(fq charges "$CUS4")"
assert_eq "three charges in all (none for the zero total)" 3 "$(fq ncharges)"
assert_eq "zero total: paid without an attempt" "paid 0 t" \
	"$(tg_psql "SELECT status, (SELECT count(*) FROM payments WHERE invoice_id = $I3),
		paid_at IS NOT NULL FROM invoices WHERE id = $I3" | tr '|' ' ')"
assert_eq "the attempt: key, status, amount, currency, intent" \
	"1|invoice-$I1-attempt-1|succeeded|ok|1234|USD|$CUS1|t" \
	"$(tg_psql "SELECT attempt, idempotency_key, status, outcome, amount_minor, currency,
		customer_id, provider_ref LIKE 'pi_%' FROM payments WHERE invoice_id = $I1")"
assert_eq "the charge went out under its Idempotency-Key" "invoice-$I1-attempt-1" "$(fq keys "$I1")"
assert_eq "the charge's form: amount, currency, customer, invoice" "1234 usd $CUS1 $I1 true" \
	"$(for f in amount currency customer 'metadata[invoice_id]' off_session; do
		fq form "invoice-$I1-attempt-1" "$f"; done | tr '\n' ' ' | sed 's/ $//')"
assert_eq "customers created under customer-<consumer id>" "1 1 1" \
	"$(fq sends customer-1) $(fq sends customer-2) $(fq sends customer-4)"
assert_eq "paid_at set on the paid invoices" 3 \
	"$(count "invoices WHERE id IN ($I1, $I2, $I4) AND paid_at IS NOT NULL")"
before=$(fq count)
pay
assert_eq "a second run sends nothing" "0 $before 3" "$? $(fq count) $(fq ncharges)"

# --- a timeout, then the same key -----------------------------------------------------------------
I6=$(invoice 1 2024-02 USD 2500)
fq ctl '{"timeout_next": 1, "sleep_ms": 3000}'
t0=$(date +%s%N)
pay
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
assert_eq "timed-out charge: pay exits 0" 0 "$rc"
assert_range "the client gave up after its timeout (ms)" 900 2900 "$ms"
assert_eq "timed-out charge: invoice finalized, attempt 1 unknown" "finalized 1:unknown:retry" \
	"$(inv_status "$I6") $(attempts "$I6")"
assert_match "the error says it timed out" "[Tt]imeout|timed out" \
	"$(error_of "$I6")"
pay # the fake is still running the first request: 409, still unknown
assert_eq "resent while the first still runs: still unknown" "finalized 1:unknown:retry" \
	"$(inv_status "$I6") $(attempts "$I6")"
assert_match "... answered 409" "409" "$(error_of "$I6")"
for ((i = 0; i < 50; i++)); do
	[ -n "$(fq charges "$CUS1" | grep -o 2500)" ] && break
	sleep 0.1
done
pay
assert_eq "after the timeout: paid" "paid 1:succeeded:ok" "$(inv_status "$I6") $(attempts "$I6")"
assert_eq "one key for every send of the charge" "invoice-$I6-attempt-1" "$(fq keys "$I6")"
assert_eq "sent three times under it" 3 "$(fq sends "invoice-$I6-attempt-1")"
assert_eq "the fake has exactly one charge of 2500" "1234 usd succeeded 2500 usd succeeded" \
	"$(fq charges "$CUS1")"

# --- a 500, then success -----------------------------------------------------------
I7=$(invoice 2 2024-03 EUR 4200)
fq ctl '{"fail_next": 1}'
pay
assert_eq "500 on the charge: finalized, attempt unknown" "finalized 1:unknown:retry" \
	"$(inv_status "$I7") $(attempts "$I7")"
assert_match "... the error says 500" "HTTP 500" "$(error_of "$I7")"
pay
assert_eq "500 then success: paid, same key sent twice" \
	"paid 1:succeeded:ok 2 invoice-$I7-attempt-1" \
	"$(inv_status "$I7") $(attempts "$I7") $(fq sends "invoice-$I7-attempt-1") $(fq keys "$I7")"
assert_eq "bob: one charge of 4200" "4200 eur succeeded 5000 eur succeeded" "$(fq charges "$CUS2")"

I8=$(invoice 6 2024-01 USD 300)
fq ctl '{"fail_next": 1}'
pay
assert_eq "500 on the customer creation: finalized, no attempt, no customer" "finalized  " \
	"$(inv_status "$I8") $(attempts "$I8") $(customer_of 6)"
pay
CUS6=$(customer_of 6)
assert_eq "then: paid, customer-6 sent twice, one charge" "paid 2 300 usd succeeded" \
	"$(inv_status "$I8") $(fq sends customer-6) $(fq charges "$CUS6")"

# an unknown attempt that outlives Stripe's memory of its key is held, not resent
I14=$(invoice 6 2024-02 USD 310)
fq ctl '{"fail_next": 1}'
pay
assert_eq "another 500: attempt unknown" "finalized 1:unknown:retry" \
	"$(inv_status "$I14") $(attempts "$I14")"
before=$(fq count)
pay --now "$(($(date +%s) + 24 * 3600))"
assert_eq "24 h later: held, nothing sent" "finalized 1:unknown:retry t $before" \
	"$(inv_status "$I14") $(attempts "$I14") $(held "$I14") $(fq count)"
assert_match "... telling the operator where to look" \
	"forgotten its key.*metadata\\[invoice_id\\]=$I14" "$(cat "$PAY_LOG")"
# the operator finds no payment at Stripe: the attempt failed, the hold lifted
tg_psql "UPDATE payments SET status = 'failed' WHERE invoice_id = $I14"
tg_psql "UPDATE invoices SET payment_hold = NULL WHERE id = $I14"
pay
assert_eq "then a new attempt pays it, one charge" \
	"paid 1:failed:retry 2:succeeded:ok invoice-$I14-attempt-1 invoice-$I14-attempt-2" \
	"$(inv_status "$I14") $(attempts "$I14") $(fq keys "$I14")"
assert_eq "... frank has one charge per invoice" "300 usd succeeded 310 usd succeeded" \
	"$(fq charges "$CUS6")"

# --- processing, then polled ------------------------------------------------------
CUS7=$(fq customer gina "$STRIPE_KEY")
tg_psql "UPDATE consumers SET payment_customer_id = '$CUS7' WHERE id = 7"
fq ctl "{\"processing_customers\": [\"$CUS7\"]}"
I9=$(invoice 7 2024-01 USD 800)
pay
PI9=$(tg_psql "SELECT provider_ref FROM payments WHERE invoice_id = $I9")
assert_eq "processing: attempt pending with its intent, invoice finalized" \
	"finalized 1:pending:pending" "$(inv_status "$I9") $(attempts "$I9")"
pay
polls=$(fq gets "/v1/payment_intents/$PI9")
assert_eq "still processing: polled once, no new charge" "1 1 finalized" \
	"$polls $(fq sends "invoice-$I9-attempt-1") $(inv_status "$I9")"
fq ctl "{\"intent_status\": {\"$PI9\": \"succeeded\"}}"
pay
assert_eq "settled: paid, one charge" "paid 1:succeeded:ok 800 usd succeeded" \
	"$(inv_status "$I9") $(attempts "$I9") $(fq charges "$CUS7")"

# --- invalid: held until an operator clears it -------------------------------------
I10=$(invoice 10 2024-01 USD 1000000000000) # 13 digits: the fake refuses the amount (400)
pay
assert_eq "invalid charge: pay still exits 0" 0 "$?"
assert_eq "invalid: attempt failed, invoice finalized and held" "finalized 1:failed:invalid t" \
	"$(inv_status "$I10") $(attempts "$I10") $(held "$I10")"
assert_match "... logged loudly" "invoice $I10: automatic payment stopped.*HTTP 400" \
	"$(cat "$PAY_LOG")"
before=$(fq count)
pay
assert_eq "a held invoice is not retried" "$before" "$(fq count)"
tg_psql "UPDATE invoices SET total_minor = 100000, payment_hold = NULL WHERE id = $I10"
pay
assert_eq "hold cleared: a new attempt with a new key, paid" \
	"paid 1:failed:invalid 2:succeeded:ok invoice-$I10-attempt-1 invoice-$I10-attempt-2" \
	"$(inv_status "$I10") $(attempts "$I10") $(fq keys "$I10")"

# --- a wrong secret key (401) ------------------------------------------------------
(umask 077 && echo sk_test_wrong >"$TG_DIR/wrong-key")
conf "$TG_DIR/wrongkey.conf" stripe "$TG_DIR/wrong-key"
CUS11=$(fq customer kate "$STRIPE_KEY")
tg_psql "UPDATE consumers SET payment_customer_id = '$CUS11' WHERE id = 11"
I11=$(invoice 11 2024-01 USD 1500)
pay "$TG_DIR/wrongkey.conf"
rc=$?
assert_true "401: pay exits non-zero" "exit status $rc" test "$rc" -ne 0
assert_match "... and says the key was refused" "refused the secret key.*billing.stripe_key_file" \
	"$(cat "$PAY_LOG")"
assert_eq "401: attempt stays unknown, no hold" "finalized 1:unknown:invalid f" \
	"$(inv_status "$I11") $(attempts "$I11") $(held "$I11")"
pay
assert_eq "the key fixed: the same attempt resent, paid, one charge" \
	"paid 1:succeeded:ok invoice-$I11-attempt-1 1500 usd succeeded" \
	"$(inv_status "$I11") $(attempts "$I11") $(fq keys "$I11") $(fq charges "$CUS11")"

# --- the key file --------------------------------------------------------------------
conf "$TG_DIR/nokey.conf" stripe "$TG_DIR/no-such-key"
pay "$TG_DIR/nokey.conf"
rc=$?
assert_true "missing key file: pay exits non-zero" "exit status $rc" test "$rc" -ne 0
assert_match "... naming billing.stripe_key_file" "billing.stripe_key_file: cannot open" \
	"$(cat "$PAY_LOG")"
cp "$KEYFILE" "$TG_DIR/open-key"
chmod 0644 "$TG_DIR/open-key"
conf "$TG_DIR/openkey.conf" stripe "$TG_DIR/open-key"
pay "$TG_DIR/openkey.conf"
assert_eq "a 0644 key file works" 0 "$?"
assert_match "... with a warning" "mode 0644.*0600" "$(cat "$PAY_LOG")"

# --- declines, dunning, suspension ------------------------------------------------------
key 801 8 "$(printf '%032x' 801)"
key 802 8 "$(printf '%032x' 802)"
key 803 8 "$(printf '%032x' 803)" revoked
CUS8=$(fq customer hank "$STRIPE_KEY")
tg_psql "UPDATE consumers SET payment_customer_id = '$CUS8' WHERE id = 8"
CUS9_BAD=$(fq customer ivy-old-card "$STRIPE_KEY")
CUS9_GOOD=$(fq customer ivy-new-card "$STRIPE_KEY")
tg_psql "UPDATE consumers SET payment_customer_id = '$CUS9_BAD' WHERE id = 9"
fq ctl "{\"decline_customers\": {\"$CUS8\": \"insufficient_funds\",
	\"$CUS9_BAD\": \"expired_card\"}}"
I12=$(invoice 8 2024-01 USD 999)
I13=$(invoice 9 2024-01 USD 650)
DAY=86400
T0=$(date +%s)
pay --now "$T0"
assert_eq "declined: payment_failed, attempt 1 failed" "payment_failed 1:failed:declined" \
	"$(inv_status "$I12") $(attempts "$I12")"
assert_match "... the error carries the decline code" "insufficient_funds" \
	"$(error_of "$I12")"
assert_eq "next attempt in 1 day" "$((T0 + DAY))" "$(next_at "$I12" 1)"
assert_eq "ivy declined too" "payment_failed 1:failed:declined" \
	"$(inv_status "$I13") $(attempts "$I13")"
before=$(fq count)
pay --now "$((T0 + DAY - 60))"
assert_eq "not due yet: nothing sent" "$before" "$(fq count)"
tg_psql "UPDATE consumers SET payment_customer_id = '$CUS9_GOOD' WHERE id = 9" # a new card
pay --now "$((T0 + DAY))"
assert_eq "attempt 2 declined, next in 3 days" \
	"payment_failed 1:failed:declined 2:failed:declined $((T0 + 4 * DAY))" \
	"$(inv_status "$I12") $(attempts "$I12") $(next_at "$I12" 2)"
assert_eq "ivy's new card pays attempt 2" \
	"paid 1:failed:declined 2:succeeded:ok 650 usd succeeded f" \
	"$(inv_status "$I13") $(attempts "$I13") $(fq charges "$CUS9_GOOD") $(suspended 9)"
pay --now "$((T0 + 4 * DAY))"
assert_eq "attempt 3 declined, next in 7 days" "3:failed:declined $((T0 + 11 * DAY))" \
	"$(attempts "$I12" | awk '{print $3}') $(next_at "$I12" 3)"
assert_eq "not suspended before the last attempt" "f 0" \
	"$(suspended 8) $(count outbox)"
before=$(fq count)
pay --now "$((T0 + 11 * DAY - 1))"
assert_eq "attempt 4 not due a second early" "$before" "$(fq count)"
pay --now "$((T0 + 11 * DAY))"
assert_eq "attempt 4 declined, no next attempt" "payment_failed 4:failed:declined none" \
	"$(inv_status "$I12") $(attempts "$I12" | awk '{print $4}') $(next_at "$I12" 4)"
assert_eq "one key per attempt" "$(printf "invoice-$I12-attempt-%d " 1 2 3 4)" "$(fq keys "$I12") "
assert_eq "hank is suspended" t "$(suspended 8)"
assert_eq "one outbox row per active key" \
	"key $(printf '%032x' 801) true 801 8 $I12 key $(printf '%032x' 802) true 802 8 $I12" \
	"$(tg_psql "SELECT kind, payload->>'digest', payload->>'suspended', payload->>'key_id',
		payload->>'consumer_id', payload->>'invoice_id' FROM outbox WHERE applied_at IS NULL
		ORDER BY id" | tr '|\n' '  ' | sed 's/ $//')"
assert_eq "no charge for hank" "" "$(fq charges "$CUS8")"
before=$(fq count)
pay --now "$((T0 + 60 * DAY))"
assert_eq "dunning over: nothing more is sent, no more outbox rows" "$before 2 4" \
	"$(fq count) $(count outbox) $(count "payments WHERE invoice_id = $I12")"

# --- concurrent runs ---------------------------------------------------------------------
CONC=()
for c in 21 22 23 24 25; do
	consumer "$c" "c$c"
	CONC+=("$(invoice "$c" 2024-01 USD "$((c * 100))")")
done
"$BUILD/tollgate-billing" --config "$CONF" pay >"$TG_DIR/billing-pay-a.log" 2>&1 &
pa=$!
"$BUILD/tollgate-billing" --config "$CONF" pay >"$TG_DIR/billing-pay-b.log" 2>&1 &
pb=$!
wait "$pa"
ra=$?
wait "$pb"
rb=$?
assert_eq "two concurrent runs exit 0" "0 0" "$ra $rb"
ids=$(IFS=,; echo "${CONC[*]}")
paid=$(count "invoices WHERE id IN ($ids) AND status = 'paid'")
assert_eq "each invoice paid, one attempt each" "5 5" \
	"$paid $(count "payments WHERE invoice_id IN ($ids)")"
assert_eq "one charge per invoice" "$(printf '%d00 usd succeeded ' 21 22 23 24 25)" \
	"$(for c in 21 22 23 24 25; do printf '%s ' "$(fq charges "$(customer_of "$c")")"; done)"

# --- the ledger -------------------------------------------------------------------------
fq all >"$TG_DIR/charges.want"
tg_psql "SELECT provider_ref || ' ' || amount_minor || ' ' || lower(currency) || ' succeeded'
	FROM payments WHERE status = 'succeeded'" | LC_ALL=C sort >"$TG_DIR/charges.got"
assert_true "the fake's charges are the succeeded attempts ($(wc -l <"$TG_DIR/charges.want"))" \
	"$(diff "$TG_DIR/charges.want" "$TG_DIR/charges.got" | head -5)" \
	cmp -s "$TG_DIR/charges.want" "$TG_DIR/charges.got"
assert_eq "every paid invoice with a total has one succeeded attempt" 0 \
	"$(count "invoices i WHERE status = 'paid' AND total_minor > 0 AND (SELECT count(*)
		FROM payments p WHERE p.invoice_id = i.id AND p.status = 'succeeded') <> 1")"

tg_summary
