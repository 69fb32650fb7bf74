#!/usr/bin/env bash
# test-billing-invoice.sh - `tollgate-billing invoice --period YYYY-MM` prices
# the day rollups of a real Postgres with lib/pricing (DESIGN §6):
#   - the seed's plan (first 1000 free, next 9000 at $0.001, beyond $0.0005)
#     billed for 12,345 billable units is $10.17, line by line; 5xx,
#     unanswered and refused requests are not billable, summary counts are;
#   - a volume plan with a tier flat fee, and a JPY plan that bills server
#     errors with a period fee; a consumer with a key and no usage;
#   - re-running changes nothing (not even updated_at); more usage updates a
#     draft; after the grace period invoices are finalized;
#   - units arriving after finalization leave the invoice alone and appear
#     once as an "adjustment YYYY-MM" line on the next month's invoice;
#   - reconciliation: the rollups agree with the Redis day counters and the
#     kernel counter snapshots, or the invoice stays a draft and one
#     'reconciliation' alert opens; once they agree it resolves and the
#     invoice is finalized;
#   - a bad period is a clear error.
# Run: BUILD=/abs/build bash tests/integration/test-billing-invoice.sh (as root).
set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tg_init invoice
tg_need psql redis-server redis-cli
tg_postgres_up
RPORT=$(tg_free_port)
tg_spawn "$TG_DIR/redis.log" redis-server --port "$RPORT" --bind 127.0.0.1 --save '' \
	--appendonly no --dir "$TG_DIR"
for ((i = 0; i < 50; i++)); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

conf() { # GRACE_SECONDS
	cat >"$TG_DIR/tollgate.conf" <<EOF
[postgres]
dsn = $TG_PG_DSN
[redis]
url = redis://127.0.0.1:$RPORT
[billing]
grace_period = $1
reconcile_tolerance = 0.5
EOF
}
conf 2678400
billing() { "$BUILD/tollgate-billing" --config "$TG_DIR/tollgate.conf" "$@"; }
billing migrate >"$TG_DIR/billing-migrate.log" 2>&1 || tg_fatal "migrate failed"

# catalog: three plans, four consumers with keys created before October
tg_psql "
INSERT INTO apis (id, name) VALUES (1, 'orders');
INSERT INTO plans (id, name, rate_per_sec, burst, currency, tiers_mode, tiers) VALUES
 (10, 'Seed', 100, 100, 'usd', 'graduated',
  '[{\"up_to\": 1000, \"unit_price\": \"0\"}, {\"up_to\": 10000, \"unit_price\": \"0.001\"},
    {\"up_to\": null, \"unit_price\": \"0.0005\"}]'),
 (11, 'Bulk', 100, 100, 'USD', 'volume',
  '[{\"up_to\": 1000, \"unit_price\": \"0.01\"},
    {\"up_to\": null, \"unit_price\": \"0.005\", \"flat_price\": \"5\"}]');
INSERT INTO plans (id, name, rate_per_sec, burst, currency, tiers_mode, tiers, period_fee,
                   bill_server_errors) VALUES
 (12, 'Tokyo', 100, 100, 'JPY', 'graduated', '[{\"up_to\": null, \"unit_price\": \"0.5\"}]',
  1000, true);
INSERT INTO consumers (id, name) VALUES (100, 'Ada'), (101, 'Bo'), (102, 'Chiyo'), (103, 'Dee');
INSERT INTO api_keys (id, consumer_id, plan_id, digest, prefix, created_at) VALUES
 (1000, 100, 10, repeat('a', 32), 'tg_1aaaa', '2026-09-01'),
 (1001, 101, 11, repeat('b', 32), 'tg_1bbbb', '2026-09-01'),
 (1002, 102, 12, repeat('c', 32), 'tg_1cccc', '2026-09-01'),
 (1003, 103, 10, repeat('d', 32), 'tg_1dddd', '2026-09-01');
CREATE TABLE rollup_day_p2026 PARTITION OF rollup_day
 FOR VALUES FROM ('2026-01-01 00:00:00+00') TO ('2027-01-01 00:00:00+00');
" || tg_fatal "catalog setup failed"

day_row() { # TS CONSUMER PLAN CLASS VERDICT REQUESTS SUMMARIZED UNANSWERED
	tg_psql "INSERT INTO rollup_day VALUES ('$1', $2, $3, 1, $4, $5, 1, '/v1/orders', 'US',
		$6, $7, $8, 0, 0, 0, 0, '{}') ON CONFLICT (ts, consumer_id, api_id, plan_id,
		status_class, verdict, method, endpoint, country) DO UPDATE SET
		requests = rollup_day.requests + EXCLUDED.requests,
		summarized = rollup_day.summarized + EXCLUDED.summarized"
}
# Ada, seed plan: 10000 2xx + 2000 4xx + 345 summarized = 12,345 billable;
# 500 5xx, 300 unanswered and 5000 over-limit refusals are not
day_row '2026-10-03 00:00:00+00' 100 10 2 0 6000 0 0
day_row '2026-10-20 00:00:00+00' 100 10 2 0 4000 0 0
day_row '2026-10-20 00:00:00+00' 100 10 4 0 2000 0 0
day_row '2026-10-21 00:00:00+00' 100 10 5 0 500 0 0
day_row '2026-10-21 00:00:00+00' 100 10 0 0 300 0 300
day_row '2026-10-22 00:00:00+00' 100 10 0 0 345 345 0
day_row '2026-10-22 00:00:00+00' 100 10 0 6 5000 0 0
day_row '2026-09-30 00:00:00+00' 100 10 2 0 777 0 0 # September: not October's
day_row '2026-11-01 00:00:00+00' 100 10 2 0 888 0 0 # November: not October's
# Bo, volume plan: 2000 units, all at the second tier's price, plus its flat fee
day_row '2026-10-10 00:00:00+00' 101 11 2 0 2000 0 0
# Chiyo, JPY, bills server errors: 301 2xx + 100 5xx = 401 units at 0.5
day_row '2026-10-11 00:00:00+00' 102 12 2 0 301 0 0
day_row '2026-10-11 00:00:00+00' 102 12 5 0 100 0 0

lines() { # CONSUMER PERIOD
	tg_psql "SELECT i.status || ' ' || i.currency || ' ' || i.total_minor || ' |' ||
		coalesce(string_agg(' ' || l.kind || ':' || l.quantity || ':' || l.amount_minor, ''
		ORDER BY l.line_no), '') FROM invoices i LEFT JOIN invoice_lines l ON l.invoice_id = i.id
		WHERE i.consumer_id = $1 AND i.period = '$2-01' GROUP BY i.id"
}

billing invoice --period 2026-10 >"$TG_DIR/billing-invoice1.log" 2>&1
assert_eq "invoice run succeeds" 0 $?
assert_eq "seed plan, 12,345 units: 0 + 9.00 + 1.17 = USD 10.17" \
	"draft USD 1017 | tier:1000:0 tier:9000:900 tier:2345:117" "$(lines 100 2026-10)"
assert_eq "volume plan, 2000 units: 2000 x 0.005 + flat 5.00 = USD 15.00" \
	"draft USD 1500 | tier:2000:1000 tier_flat:1:500" "$(lines 101 2026-10)"
assert_eq "JPY plan billing 5xx: fee 1000 + 401 x 0.5 = 200.5 -> 200 (half-even) = JPY 1200" \
	"draft JPY 1200 | period_fee:1:1000 tier:401:200" "$(lines 102 2026-10)"
assert_eq "a key but no usage: an invoice of USD 0.00 without lines" \
	"draft USD 0 |" "$(lines 103 2026-10)"
assert_eq "line descriptions say what was charged" \
	"Seed: tier 2, units 1001-10000 at 0.001 USD" \
	"$(tg_psql "SELECT description FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id
		WHERE i.consumer_id = 100 AND l.line_no = 2")"

before=$(tg_psql "SELECT string_agg(id || ':' || updated_at, ',' ORDER BY id) FROM invoices")
billing invoice --period 2026-10 >"$TG_DIR/billing-invoice2.log" 2>&1
assert_match "re-running writes nothing" "0 written .* 4 unchanged" "$(cat "$TG_DIR/billing-invoice2.log")"
assert_eq "re-running changes no row, not even updated_at" "$before" \
	"$(tg_psql "SELECT string_agg(id || ':' || updated_at, ',' ORDER BY id) FROM invoices")"

# more usage while the invoice is a draft: the draft follows it
day_row '2026-10-25 00:00:00+00' 100 10 2 0 2000 0 0
billing invoice --period 2026-10 >"$TG_DIR/billing-invoice3.log" 2>&1
assert_eq "a draft follows new usage: 14,345 units = 0 + 9.00 + 2.17" \
	"draft USD 1117 | tier:1000:0 tier:9000:900 tier:4345:217" "$(lines 100 2026-10)"

# --- reconciliation: admitted requests in October, three ways --------------
# Ada 15,145 (all verdict-0 rows), Bo 2,000, Chiyo 401, Dee none
for kv in 100:03:6000 100:20:6000 100:21:800 100:22:345 100:25:2000 101:10:2000 102:11:401; do
	IFS=: read -r c d n <<<"$kv"
	redis-cli -p "$RPORT" SET "usage:$c:1:202610$d" "$n" >/dev/null
done
redis-cli -p "$RPORT" SET "usage:100:1:20260930" 777 >/dev/null # September: not counted
snapshot() { # HOST GENERATION CONSUMER HOUR REQUESTS
	tg_psql "INSERT INTO counter_snapshots VALUES ($1, '$2', $3, 1, '$4', '$4',
		'{\"requests\": $5}') ON CONFLICT (host_id, pin_generation, consumer_id, api_id, hour)
		DO UPDATE SET body = EXCLUDED.body" >/dev/null
}
snapshot 7 g1 100 '2026-10-01 00:00:00+00' 1000  # Ada on host 7 since September
snapshot 7 g1 100 '2026-11-01 00:00:00+00' 13145 # ... 12,145 in October
snapshot 8 g2 100 '2026-10-15 06:00:00+00' 2500  # host 8 new in October: from 0
snapshot 8 g2 100 '2026-10-30 00:00:00+00' 3000  # ... its last snapshot: 3,000
snapshot 7 g1 101 '2026-10-01 00:00:00+00' 0
snapshot 7 g1 101 '2026-11-01 00:00:00+00' 2500  # Bo: 2,500 by the kernel, 2,000 billed

# after the grace period the invoices are finalized, once reconciled
conf 0
billing invoice --period 2026-10 >"$TG_DIR/billing-invoice4.log" 2>&1
assert_eq "not reconciled yet: nothing is finalized" "0" \
	"$(tg_psql "SELECT count(*) FROM invoices WHERE status = 'finalized'")"
billing reconcile --period 2026-10 >"$TG_DIR/billing-reconcile1.log" 2>&1
assert_eq "reconcile succeeds" 0 $?
assert_eq "Ada: rollups, Redis and kernel (two hosts) all say 15,145" \
	'ok 15145 15145 15145 true' \
	"$(tg_psql "SELECT reconciliation->>'status' || ' ' || (reconciliation->'apis'->0->>'postgres')
		|| ' ' || (reconciliation->'apis'->0->>'redis') || ' ' ||
		(reconciliation->'apis'->0->>'kernel') || ' ' || (reconciliation->'apis'->0->>'ok')
		FROM invoices WHERE consumer_id = 100 AND period = '2026-10-01'")"
assert_eq "Bo: the kernel's 2,500 against 2,000 is a mismatch" \
	'mismatch 2000 2000 2500' \
	"$(tg_psql "SELECT reconciliation->>'status' || ' ' || (reconciliation->'apis'->0->>'postgres')
		|| ' ' || (reconciliation->'apis'->0->>'redis') || ' ' ||
		(reconciliation->'apis'->0->>'kernel') FROM invoices WHERE consumer_id = 101
		AND period = '2026-10-01'")"
assert_eq "Dee: no counts anywhere is not a mismatch" "ok []" \
	"$(tg_psql "SELECT reconciliation->>'status' || ' ' || (reconciliation->'apis')::text
		FROM invoices WHERE consumer_id = 103 AND period = '2026-10-01'")"
assert_eq "one open reconciliation alert, Bo's" "101" \
	"$(tg_psql "SELECT string_agg(consumer_id::text, ',') FROM alerts
		WHERE kind = 'reconciliation' AND state = 'open'")"
billing invoice --period 2026-10 >"$TG_DIR/billing-invoice4b.log" 2>&1
assert_eq "after the grace period: the reconciled ones are finalized, Bo's is held" \
	"100:finalized 101:draft 102:finalized 103:finalized" \
	"$(tg_psql "SELECT string_agg(consumer_id || ':' || status, ' ' ORDER BY consumer_id)
		FROM invoices WHERE period = '2026-10-01'")"
billing reconcile --period 2026-10 >"$TG_DIR/billing-reconcile2.log" 2>&1
assert_eq "reconciling again keeps one alert" "1" \
	"$(tg_psql "SELECT count(*) FROM alerts WHERE kind = 'reconciliation'")"
snapshot 7 g1 101 '2026-11-01 00:00:00+00' 2001 # the kernel count corrected: within 1
billing reconcile --period 2026-10 >"$TG_DIR/billing-reconcile3.log" 2>&1
assert_eq "agreeing again resolves the alert" "resolved" \
	"$(tg_psql "SELECT state FROM alerts WHERE kind = 'reconciliation'")"
billing invoice --period 2026-10 >"$TG_DIR/billing-invoice4c.log" 2>&1
assert_eq "and Bo's invoice is finalized" "4" \
	"$(tg_psql "SELECT count(*) FROM invoices WHERE status = 'finalized' AND finalized_at IS NOT NULL")"

# late units for October: the finalized invoice stays, November carries them
day_row '2026-10-31 00:00:00+00' 100 10 2 0 101 0 0
billing invoice --period 2026-10 >"$TG_DIR/billing-invoice5.log" 2>&1
assert_eq "a finalized invoice never changes" \
	"finalized USD 1117 | tier:1000:0 tier:9000:900 tier:4345:217" "$(lines 100 2026-10)"
assert_eq "the late units are recorded once" "101" \
	"$(tg_psql "SELECT sum(units) FROM invoice_adjustments")"
billing invoice --period 2026-10 >"$TG_DIR/billing-invoice6.log" 2>&1
assert_eq "and not again on a re-run" "1 101" \
	"$(tg_psql "SELECT count(*) || ' ' || sum(units) FROM invoice_adjustments")"

conf 2678400
billing invoice --period 2026-11 >"$TG_DIR/billing-invoice7.log" 2>&1
assert_eq "November: its own 888 units are free, then the October adjustment: 101 x 0.0005 = 0.0505 -> 0.05" \
	"draft USD 5 | tier:888:0 adjustment:101:5" "$(lines 100 2026-11)"
assert_eq "the adjustment line names its month" "adjustment 2026-10" \
	"$(tg_psql "SELECT description FROM invoice_lines WHERE kind = 'adjustment'")"
billing invoice --period 2026-11 >"$TG_DIR/billing-invoice8.log" 2>&1
assert_eq "re-running November keeps one adjustment line" \
	"draft USD 5 | tier:888:0 adjustment:101:5" "$(lines 100 2026-11)"

billing invoice --period 2026-13 >"$TG_DIR/billing-invoice9.log" 2>&1
assert_eq "a bad period fails" 1 $?
assert_match "and says why" "'2026-13' is not YYYY-MM" "$(cat "$TG_DIR/billing-invoice9.log")"

tg_summary
