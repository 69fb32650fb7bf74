#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# bench-billing.sh - what tollgate-billing costs (part of `make bench`):
#
#  1. aggregation: BENCH_BILLING_EVENTS (default 2,000,000) binary usage
#     events pre-produced to the dev broker (32 partitions), then one
#     `tollgate-billing run` from a cold start until every offset is
#     committed in Postgres; events per second of wall time and per CPU
#     second of the service (its user + system time: "on one core").
#  2. invoicing: 10,000 consumers with three rollup rows each on the seed's
#     graduated plan; wall time of `tollgate-billing invoice --period` for a
#     first run (writes every invoice) and a second (changes nothing).
#
# Prints a markdown table; appends its figures as JSON to $BENCH_JSON if set.
# Targets: >= 500,000 events/s (binary, one core); invoice run < 10 s.
set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/../tests/integration/lib.sh"

N=${BENCH_BILLING_EVENTS:-2000000}
CONSUMERS=${BENCH_BILLING_CONSUMERS:-10000}

tg_init bench-billing
tg_need psql
for f in tollgate-billing kafka-dev-broker tests/produce-usage; do
	[ -x "$BUILD/$f" ] || tg_fatal "$BUILD/$f missing (make all build/tests/produce-usage)"
done
tg_postgres_up
tg_broker_up tollgate.usage:32 tollgate.counters:1
CONF=$TG_DIR/tollgate.conf
cat >"$CONF" <<EOF
[kafka]
brokers = $TG_BROKERS
[postgres]
dsn = $TG_PG_DSN
[billing]
batch_interval = 2
batch_max_events = 1000000
grace_period = 2678400
EOF
billing() { "$BUILD/tollgate-billing" --config "$CONF" "$@"; }
billing migrate >"$TG_DIR/billing-migrate.log" 2>&1 || tg_fatal "migrate failed"

cpu_s() { # PID: user + system CPU seconds so far
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); printf "%.3f", ($12 + $13) / hz }' "/proc/$1/stat"
}
now() { date +%s.%N; }

# --- 1. aggregation ------------------------------------------------------------
"$BUILD/tests/produce-usage" --brokers "$TG_BROKERS" --events "$N" --hosts 4 --consumers 1000 \
	--minutes 2 >"$TG_DIR/produce.log" 2>&1 || tg_fatal "producing failed: $(cat "$TG_DIR/produce.log")"
MESSAGES=$(sed -n 's/.* \([0-9]*\) messages produced/\1/p' "$TG_DIR/produce.log")
consumed() { tg_psql "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets WHERE topic = 'tollgate.usage' AND next_offset > 0"; }

t0=$(now)
"$BUILD/tollgate-billing" --config "$CONF" --log-level debug run >"$TG_DIR/billing-run.log" 2>&1 &
BILLING_PID=$!
TG_PIDS+=("$BILLING_PID")
while [ "$(consumed)" -lt "$MESSAGES" ]; do
	kill -0 "$BILLING_PID" 2>/dev/null || tg_fatal "tollgate-billing exited: $(tail -5 "$TG_DIR/billing-run.log")"
	sleep 0.2
done
t1=$(now)
cpu=$(cpu_s "$BILLING_PID")
tg_stop_pid "$BILLING_PID" 30
rows=$(tg_psql "SELECT (SELECT count(*) FROM rollup_minute) || ' ' || (SELECT count(*) FROM rollup_hour) || ' ' || (SELECT count(*) FROM rollup_day)")

# --- 2. invoicing ----------------------------------------------------------------
tg_psql "
INSERT INTO plans (id, name, rate_per_sec, burst, currency, tiers_mode, tiers) VALUES
 (1, 'Seed', 100, 100, 'USD', 'graduated',
  '[{\"up_to\": 1000, \"unit_price\": \"0\"}, {\"up_to\": 10000, \"unit_price\": \"0.001\"},
    {\"up_to\": null, \"unit_price\": \"0.0005\"}]');
INSERT INTO consumers (id, name) SELECT 100000 + g, 'consumer ' || g FROM generate_series(1, $CONSUMERS) g;
INSERT INTO api_keys (id, consumer_id, plan_id, digest, prefix, created_at)
 SELECT 200000 + g, 100000 + g, 1, md5(g::text), 'tg_1' || g, '2026-01-01' FROM generate_series(1, $CONSUMERS) g;
CREATE TABLE IF NOT EXISTS rollup_day_p2025 PARTITION OF rollup_day
 FOR VALUES FROM ('2025-01-01 00:00:00+00') TO ('2026-01-01 00:00:00+00');
INSERT INTO rollup_day SELECT '2025-06-01 00:00:00+00'::timestamptz + (d || ' days')::interval,
 100000 + g, 1, 1, 2, 0, 1, '/v1/x', 'US', (g * 7 + d * 1000) % 20000, 0, 0, 0, 0, 0, 0, '{}'
 FROM generate_series(1, $CONSUMERS) g, generate_series(0, 2) d;
" >/dev/null || tg_fatal "invoice data setup failed"
t2=$(now)
billing invoice --period 2025-06 >"$TG_DIR/billing-invoice1.log" 2>&1 || tg_fatal "invoice failed: $(tail -3 "$TG_DIR/billing-invoice1.log")"
t3=$(now)
billing invoice --period 2025-06 >"$TG_DIR/billing-invoice2.log" 2>&1 || tg_fatal "invoice failed"
t4=$(now)
invoices=$(tg_psql "SELECT count(*) FROM invoices WHERE period = '2025-06-01'")

"$PYTHON" - "$N" "$MESSAGES" "$t0" "$t1" "$cpu" "$rows" "$t2" "$t3" "$t4" "$invoices" \
	"${BENCH_JSON:-}" <<'PY'
import json, sys
n, msgs, t0, t1, cpu, rows, t2, t3, t4, invoices, out = sys.argv[1:12]
n, msgs = int(n), int(msgs)
wall = float(t1) - float(t0)
cpu = float(cpu)
events_wall = n / wall
events_cpu = n / cpu if cpu > 0 else 0
inv1, inv2 = float(t3) - float(t2), float(t4) - float(t3)
print("## tollgate-billing")
print()
print("| figure | measured | target | ratio to target |")
print("|---|---:|---:|---:|")
print(f"| events aggregated into Postgres per CPU second (binary, {n:,} events, {msgs:,} messages) | {events_cpu:,.0f}/s | 500,000/s | {events_cpu / 500000:.2f} |")
print(f"| the same per second of wall time (cold start to last commit; Postgres on the same 2 CPUs) | {events_wall:,.0f}/s | - | - |")
print(f"| rollup rows written (minute, hour, day) | {rows} | - | - |")
print(f"| invoice run, {int(invoices):,} consumers, first run | {inv1:.2f} s | < 10 s | {inv1 / 10:.2f} |")
print(f"| invoice run again (nothing changes) | {inv2:.2f} s | < 10 s | {inv2 / 10:.2f} |")
print()
if out:
    with open(out, "a") as f:
        json.dump({"billing": {"events": n, "messages": msgs, "wall_s": wall, "cpu_s": cpu,
                               "events_per_cpu_s": events_cpu, "events_per_wall_s": events_wall,
                               "rollup_rows": rows, "invoice_consumers": int(invoices),
                               "invoice_first_s": inv1, "invoice_again_s": inv2}}, f)
        f.write("\n")
PY
