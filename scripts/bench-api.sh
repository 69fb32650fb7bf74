#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# bench-api.sh - what the dashboard's reads cost (part of `make bench`, DESIGN
# §7: "p99 < 100 ms at the retention tiers of §6 for 10k consumers"):
#
#  1. dataset: BENCH_API_CONSUMERS (default 10,000) consumers with
#     Zipf-distributed traffic over 30 days, written straight into the
#     rollup tiers by scripts/bench-api-data.sql (partitions named as
#     billing/usage.c makes them): hour rows (endpoint, method, country) for
#     the 30 days, day rows for them and back to the first day of last month,
#     minute rows for the 14-day minute retention of the
#     BENCH_API_MINUTE_CONSUMERS (default 100) heaviest consumers only (the
#     whole minute tier would be ~100-200 million rows, more than this
#     machine can write in a benchmark's time) and their per-consumer and
#     per-API minute totals (tg_minute_totals_add(), as billing writes them);
#     last month invoiced for every consumer by `tollgate-billing invoice` +
#     `reconcile` (finalized).
#  2. tollgate-api pinned to CPU 0 (taskset -c 0, BENCH_API_THREADS worker
#     threads, default 4, each with its Postgres connection); Postgres is not
#     pinned (both CPUs), wrk is pinned to CPU 1.
#  3. load: wrk over keep-alive connections with the admin token, paths drawn
#     beforehand (scripts/bench-api-paths.py) with the consumer of each read
#     Zipf-distributed like the traffic (heavy consumers' dashboards are read
#     most). Per route, BENCH_API_DURATION s (default 8) with one connection
#     (latency unloaded) and with BENCH_API_CONNS (default 4); then the
#     routes mixed with BENCH_API_MIX_CONNS (default 16) for
#     BENCH_API_MIX_DURATION s (default 20): requests per second with
#     tollgate-api on one core, and the CPU time tollgate-api and Postgres
#     spent per request.
#
# Prints markdown tables; appends its figures as JSON ({"api": ...}) to
# $BENCH_JSON if set. Target: p99 < 100 ms for every read (aim: < 10 ms).
set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/../tests/integration/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/../tests/integration/api_lib.sh"

CONSUMERS=${BENCH_API_CONSUMERS:-10000}
MINUTE_CONSUMERS=${BENCH_API_MINUTE_CONSUMERS:-100}
DAILY_TOP=${BENCH_API_DAILY_TOP:-20000000} # requests a day of the heaviest consumer
ZIPF=${BENCH_API_ZIPF:-1.0}
THREADS=${BENCH_API_THREADS:-4}
DURATION=${BENCH_API_DURATION:-8}
CONNS=${BENCH_API_CONNS:-4}
MIX_DURATION=${BENCH_API_MIX_DURATION:-20}
MIX_CONNS=${BENCH_API_MIX_CONNS:-16}
ROUTES="usage_hour_7d usage_day_30d usage_minute_1d endpoints_7d upcoming_invoice invoice invoice_list"

tg_init bench-api
tg_need psql redis-server redis-cli curl wrk taskset
[ -x "$BUILD/tollgate-api" ] && [ -x "$BUILD/tollgate-billing" ] ||
	tg_fatal "$BUILD/tollgate-api or tollgate-billing missing (make all)"
[ "$(nproc)" -ge 2 ] || tg_fatal "needs 2 CPUs: tollgate-api on CPU 0, wrk on CPU 1"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
# cpu_s PID...: user + system CPU seconds the processes have used so far
cpu_s() {
	local f=() p
	for p in "$@"; do [ -r "/proc/$p/stat" ] && f+=("/proc/$p/stat"); done
	[ ${#f[@]} -gt 0 ] || { echo 0; return; }
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); s += $12 + $13 } END { printf "%.3f", s / hz }' \
		"${f[@]}"
}
pg_pids() { echo "$TG_PG_PID" $(pgrep -P "$TG_PG_PID"); } # the postmaster and its backends

# --- Postgres, sized for a dataset of several GB ----------------------------------
T_START=$(now)
tg_postgres_up
tg_psql "ALTER SYSTEM SET shared_buffers = '1GB'" -c "ALTER SYSTEM SET work_mem = '16MB'" \
	-c "ALTER SYSTEM SET maintenance_work_mem = '512MB'" -c "ALTER SYSTEM SET max_wal_size = '16GB'" \
	-c "ALTER SYSTEM SET checkpoint_timeout = '30min'" -c "ALTER SYSTEM SET synchronous_commit = off" \
	-c "ALTER SYSTEM SET effective_cache_size = '8GB'" >/dev/null || tg_fatal "cannot tune Postgres"
tg_postgres_stop
tg_postgres_start
API_RPORT=$(tg_free_port)
api_redis_start
tg_secrets_up
API_TOKEN_FILE="$TG_DIR/admin-token"
(umask 077 && printf 'admin-%s\n' "$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')" >"$API_TOKEN_FILE")
API_PORT=$(tg_free_port)
API_CONF="$TG_DIR/tollgate.conf"
cat >"$API_CONF" <<EOF
[security]
key_secret_file = $TG_SECRETS
[postgres]
dsn = $TG_PG_DSN
[redis]
url = redis://127.0.0.1:$API_RPORT
[api]
listen = 127.0.0.1:$API_PORT
admin_token_file = $API_TOKEN_FILE
EOF
# billing without Redis: reconciliation then compares Postgres alone (no
# Redis day counters, no kernel snapshots in this dataset) and finalizes
BILLING_CONF="$TG_DIR/billing.conf"
cat >"$BILLING_CONF" <<EOF
[postgres]
dsn = $TG_PG_DSN
[billing]
grace_period = 0
EOF
billing() { "$BUILD/tollgate-billing" --config "$BILLING_CONF" "$@"; }
billing migrate >"$TG_DIR/billing-migrate.log" 2>&1 ||
	tg_fatal "migrate failed: $(tail -3 "$TG_DIR/billing-migrate.log")"

# --- 1. dataset ------------------------------------------------------------------
# gen PART [SLICE]: one part of bench-api-data.sql in its own session
gen() {
	local slice=${2:-0/1}
	psql -X -q -v ON_ERROR_STOP=1 -v part="$1" -v slice="$slice" -v consumers="$CONSUMERS" \
		-v minute_consumers="$MINUTE_CONSUMERS" -v daily_top="$DAILY_TOP" -v zipf_s="$ZIPF" \
		-f "$TG_ROOT/scripts/bench-api-data.sql" "$TG_PG_DSN" >"$TG_DIR/gen-$1-${slice/\//of}.log" 2>&1
}
# together CMD...: run the command lines (each one argument, eval'd) in
# parallel; fatal if one fails
together() {
	local pids=() c i=0 rc=0
	for c in "$@"; do
		eval "$c" &
		pids+=("$!")
	done
	for c in "$@"; do
		wait "${pids[$i]}" || { tg_log "'$c' failed"; rc=1; }
		i=$((i + 1))
	done
	[ "$rc" -eq 0 ] || tg_fatal "a dataset step failed: $(cat "$TG_DIR"/gen-*.log "$TG_DIR"/vacuum-*.log \
		"$TG_DIR"/billing-*.log 2>/dev/null | grep -v '^$' | tail -5)"
}
LAST_MONTH=$(date -u -d "$(date -u +%Y-%m-01) -1 day" +%Y-%m)
tg_log "generating the dataset: $CONSUMERS consumers, minute rows for the top $MINUTE_CONSUMERS"
t=$(now)
gen setup || tg_fatal "dataset setup failed: $(tail -5 "$TG_DIR/gen-setup-0of1.log")"
together "gen hour 0/2" "gen hour 1/2"
GEN_HOUR=$(elapsed "$t")
t=$(now)
together "gen day" "gen minute 0/2" "gen minute 1/2"
together "gen minute_total 0/2" "gen minute_total 1/2"
GEN_DAY_MINUTE=$(elapsed "$t")
t=$(now)
invoice_month() {
	billing invoice --period "$LAST_MONTH" >"$TG_DIR/billing-invoice.log" 2>&1 &&
		billing reconcile --period "$LAST_MONTH" >"$TG_DIR/billing-reconcile.log" 2>&1 &&
		billing invoice --period "$LAST_MONTH" >>"$TG_DIR/billing-invoice.log" 2>&1
}
# what autovacuum would do after such a load, done now rather than during
# the measurements (it also sets the hint bits the first reads would)
vacuum() { tg_psql "VACUUM (ANALYZE) $1" >"$TG_DIR/vacuum-$1.log" 2>&1; }
# what the whole minute tier would hold: one row a minute per (consumer, API,
# status class, verdict) while it has requests, estimated from the hour rows
minute_estimate() {
	tg_psql "SELECT sum(least(60, n)) FROM (SELECT sum(requests) AS n FROM rollup_hour h,
	 bench_params p WHERE h.ts >= p.minute_start
	 GROUP BY h.ts, consumer_id, api_id, status_class, verdict) x" >"$TG_DIR/minute-estimate.txt"
}
together invoice_month "vacuum rollup_hour" "vacuum rollup_minute" minute_estimate
together "vacuum rollup_day" "vacuum invoices" "vacuum invoice_lines" "vacuum api_keys"
tg_psql "CHECKPOINT" >/dev/null
GEN_INVOICE_VACUUM=$(elapsed "$t")
GEN_TOTAL=$(elapsed "$T_START")

# tier_figures TABLE: "rows partitions bytes"
tier_figures() {
	tg_psql "SELECT (SELECT count(*) FROM $1) || ' ' ||
	 (SELECT count(*) FROM pg_partition_tree('$1') WHERE isleaf) || ' ' ||
	 (SELECT coalesce(sum(pg_total_relation_size(relid)), 0) FROM pg_partition_tree('$1'))"
}
read -r MINUTE_ROWS MINUTE_PARTS MINUTE_BYTES <<<"$(tier_figures rollup_minute)"
read -r HOUR_ROWS HOUR_PARTS HOUR_BYTES <<<"$(tier_figures rollup_hour)"
read -r DAY_ROWS DAY_PARTS DAY_BYTES <<<"$(tier_figures rollup_day)"
read -r INVOICES FINALIZED LINES DB_BYTES REQUESTS_30D <<<"$(tg_psql "SELECT
	(SELECT count(*) FROM invoices) || ' ' ||
	(SELECT count(*) FROM invoices WHERE status = 'finalized') || ' ' ||
	(SELECT count(*) FROM invoice_lines) || ' ' || pg_database_size(current_database()) || ' ' ||
	(SELECT coalesce(sum(requests), 0) FROM rollup_hour)")"
[ "$FINALIZED" -eq "$CONSUMERS" ] ||
	tg_fatal "$FINALIZED of $CONSUMERS invoices of $LAST_MONTH finalized: $(tail -3 "$TG_DIR/billing-invoice.log")"
# rows a heavy and a light consumer's reads go through (7 days of hour rows)
read -r ROWS_TOP ROWS_MEDIAN ROWS_TAIL <<<"$(tg_psql "SELECT
	(SELECT count(*) FROM rollup_hour WHERE consumer_id = 100001 AND ts >= now() - interval '7 days')
	|| ' ' || (SELECT count(*) FROM rollup_hour WHERE consumer_id = 100000 + $CONSUMERS / 2
		  AND ts >= now() - interval '7 days')
	|| ' ' || (SELECT count(*) FROM rollup_hour WHERE consumer_id = 100000 + $CONSUMERS
		  AND ts >= now() - interval '7 days')")"
MINUTE_FULL=$(cat "$TG_DIR/minute-estimate.txt")
tg_log "dataset ready in ${GEN_TOTAL} s"

# --- 2. tollgate-api on one core -------------------------------------------------
API_LOG="$TG_DIR/api.log"
tg_spawn "$API_LOG" taskset -c 0 "$BUILD/tollgate-api" --config "$API_CONF" serve --threads "$THREADS"
API_PID=$TG_SPAWNED
tg_wait_for_line "$API_LOG" 'ready: listening' 15 "$API_PID" ||
	tg_fatal "tollgate-api did not start: $(tail -5 "$API_LOG")"
API_BASE="http://127.0.0.1:$API_PORT"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$API_BASE/healthz")" = 200 ] ||
	tg_fatal "tollgate-api is not healthy: $(curl -s "$API_BASE/healthz")"

# --- 3. load ---------------------------------------------------------------------
tg_psql "SELECT consumer_id || ' ' || id FROM invoices" >"$TG_DIR/invoices.txt"
"$PYTHON" "$TG_ROOT/scripts/bench-api-paths.py" --dir "$TG_DIR" --consumers "$CONSUMERS" \
	--minute-consumers "$MINUTE_CONSUMERS" --invoices "$TG_DIR/invoices.txt" --now "$(date +%s)" ||
	tg_fatal "bench-api-paths.py failed"
# every route answers 200 before anything is timed
for r in $ROUTES; do
	p=$(head -1 "$TG_DIR/paths-$r.txt")
	code=$(curl -s -o "$TG_DIR/body" -w '%{http_code}' -H "Authorization: Bearer $(cat "$API_TOKEN_FILE")" \
		"$API_BASE$p")
	[ "$code" = 200 ] || tg_fatal "$r: GET $p answered $code: $(head -c 300 "$TG_DIR/body")"
done

RESULTS="$TG_DIR/results.txt"
: >"$RESULTS"
# load NAME PATHS CONNS SECONDS: one wrk run; appends "NAME CONNS API_CPU PG_CPU JSON"
load() {
	local out="$TG_DIR/wrk-$1-c$3.txt" a0 p0 a1 p1
	a0=$(cpu_s "$API_PID")
	p0=$(cpu_s $(pg_pids))
	taskset -c 1 wrk -t1 -c "$3" -d "${4}s" --timeout 10s -s "$TG_ROOT/scripts/bench-api-load.lua" \
		"$API_BASE" -- "$2" "$API_TOKEN_FILE" >"$out" 2>&1 || tg_fatal "wrk failed: $(tail -5 "$out")"
	a1=$(cpu_s "$API_PID")
	p1=$(cpu_s $(pg_pids))
	kill -0 "$API_PID" 2>/dev/null || tg_fatal "tollgate-api exited: $(tail -5 "$API_LOG")"
	grep -q '^{' "$out" || tg_fatal "wrk gave no figures: $(tail -5 "$out")"
	printf '%s %s %s %s %s\n' "$1" "$3" "$(awk -v a="$a0" -v b="$a1" 'BEGIN { print b - a }')" \
		"$(awk -v a="$p0" -v b="$p1" 'BEGIN { print b - a }')" "$(grep '^{' "$out" | tail -1)" \
		>>"$RESULTS"
}
tg_log "load: ${DURATION}s per route with 1 and $CONNS connection(s), then ${MIX_DURATION}s mixed"
load warmup "$TG_DIR/paths-mix.txt" "$CONNS" 3
for r in $ROUTES; do
	load "$r" "$TG_DIR/paths-$r.txt" 1 "$DURATION"
	load "$r" "$TG_DIR/paths-$r.txt" "$CONNS" "$DURATION"
done
load mix "$TG_DIR/paths-mix.txt" "$MIX_CONNS" "$MIX_DURATION"
grep -q 'error' "$API_LOG" && tg_log "tollgate-api logged errors: $(grep -c error "$API_LOG")"
# CPU seconds of each of tollgate-api's threads: how evenly the pool shared the work
THREAD_CPU=$(for t in /proc/"$API_PID"/task/*; do cpu_s "$API_PID/task/${t##*/}"; printf ' '; done)

"$PYTHON" - "$RESULTS" "${BENCH_JSON:-}" "$CONNS" "$MIX_CONNS" "$THREADS" "$DURATION" \
	"$MIX_DURATION" "$CONSUMERS" "$MINUTE_CONSUMERS" "$ZIPF" "$DAILY_TOP" "$LAST_MONTH" \
	"$MINUTE_ROWS $MINUTE_PARTS $MINUTE_BYTES" "$HOUR_ROWS $HOUR_PARTS $HOUR_BYTES" \
	"$DAY_ROWS $DAY_PARTS $DAY_BYTES" "$INVOICES $FINALIZED $LINES $DB_BYTES $REQUESTS_30D" \
	"$GEN_HOUR $GEN_DAY_MINUTE $GEN_INVOICE_VACUUM $GEN_TOTAL" "$ROWS_TOP $ROWS_MEDIAN $ROWS_TAIL" \
	"$MINUTE_FULL" "$THREAD_CPU" <<'PY'
import json, sys

(results, out, conns, mix_conns, threads, duration, mix_duration, consumers, minute_consumers,
 zipf, daily_top, last_month, minute, hour, day, other, gen, scan, minute_full,
 thread_cpu) = sys.argv[1:21]
thread_cpu = sorted((float(x) for x in thread_cpu.split()), reverse=True)
conns, mix_conns, consumers, minute_consumers = int(conns), int(mix_conns), int(consumers), int(minute_consumers)
TARGET_MS = 100.0
LABEL = {
    "usage_hour_7d": "usage, hour, 7 days (`/usage?granularity=hour`)",
    "usage_day_30d": "usage, day, 30 days (`/usage?granularity=day`)",
    "usage_minute_1d": f"usage, minute, 1 day (top {minute_consumers} consumers)",
    "endpoints_7d": "top endpoints, 7 days (`/usage/endpoints`)",
    "upcoming_invoice": "upcoming invoice (`/invoices/upcoming`)",
    "invoice": "invoice (`/v1/invoices/{id}`)",
    "invoice_list": "invoices of a consumer (`/consumers/{id}/invoices`)",
}
runs = {}
for line in open(results):
    name, c, api_cpu, pg_cpu, doc = line.split(" ", 4)
    d = json.loads(doc)
    d["api_cpu_s"], d["pg_cpu_s"] = float(api_cpu), float(pg_cpu)
    d["rps"] = d["requests"] / (d["duration_us"] / 1e6)
    n = max(d["requests"], 1)
    d["api_cpu_ms_per_req"] = 1e3 * d["api_cpu_s"] / n
    d["pg_cpu_ms_per_req"] = 1e3 * d["pg_cpu_s"] / n
    d["rps_per_api_core"] = d["requests"] / d["api_cpu_s"] if d["api_cpu_s"] > 0 else None
    d["p50_ms"], d["p99_ms"] = d["p50_us"] / 1e3, d["p99_us"] / 1e3
    runs.setdefault(name, {})[int(c)] = d

def tier(s):
    rows, parts, size = s.split()
    return {"rows": int(rows), "partitions": int(parts), "bytes": int(size or 0)}

tiers = {"minute": tier(minute), "hour": tier(hour), "day": tier(day)}
minute_full = int(minute_full or 0)
minute_full_bytes = (minute_full * tiers["minute"]["bytes"] / tiers["minute"]["rows"]
                     if tiers["minute"]["rows"] else 0)
invoices, finalized, lines, db_bytes, req30 = (int(x) for x in other.split())
g_hour, g_dm, g_iv, g_total = (float(x) for x in gen.split())
scan_top, scan_median, scan_tail = (int(x) for x in scan.split())
gib = lambda b: b / 2**30

print("## tollgate-api: dashboard reads")
print()
print(f"Dataset: {consumers:,} consumers, traffic Zipf (s = {zipf}) over their ranks, "
      f"{int(daily_top):,} requests a day for the heaviest, {req30:,} requests in 30 days "
      f"(generated in Postgres in {g_total:.0f} s: hour rows {g_hour:.0f} s, day + minute rows and totals "
      f"{g_dm:.0f} s, invoices + VACUUM ANALYZE {g_iv:.0f} s).")
print()
print("| tier | rows | partitions | size (tables + indexes) | generated |")
print("|---|---:|---:|---:|---|")
print(f"| minute (consumer, API, status class, verdict) | {tiers['minute']['rows']:,} | "
      f"{tiers['minute']['partitions']} | {gib(tiers['minute']['bytes']):.2f} GiB | the 14-day retention "
      f"and today, for the {minute_consumers} heaviest consumers ONLY: the whole tier would be "
      f"~{minute_full / 1e6:,.0f} million rows, ~{gib(minute_full_bytes):,.0f} GiB (one row a "
      f"minute with requests, estimated from the hour rows) |")
print(f"| hour (+ endpoint, method, country) | {tiers['hour']['rows']:,} | "
      f"{tiers['hour']['partitions']} | {gib(tiers['hour']['bytes']):.2f} GiB | 30 days (today "
      f"and 29 before), every consumer |")
print(f"| day | {tiers['day']['rows']:,} | {tiers['day']['partitions']} | "
      f"{gib(tiers['day']['bytes']):.2f} GiB | the 30 days and back to {last_month}-01 |")
print(f"| invoices of {last_month} | {invoices:,} ({finalized:,} finalized) | - | "
      f"{lines:,} lines | `tollgate-billing invoice` + `reconcile` |")
print()
print(f"Database {gib(db_bytes):.2f} GiB. Reads of light consumers scan less: 7 days of hour "
      f"rows are {scan_top:,} for the heaviest consumer, {scan_median:,} for the median rank, "
      f"{scan_tail:,} for the lightest; minute reads go to the {minute_consumers} heaviest only.")
print()
print(f"tollgate-api pinned to CPU 0 (`taskset -c 0`, {threads} worker threads); Postgres "
      f"on both CPUs, wrk on CPU 1; the consumer of each read drawn by Zipf (s = 1); admin "
      f"token. Latency from wrk, {duration} s per route and connection count. CPU per "
      f"request from /proc (tollgate-api; the Postgres postmaster and backends).")
print()
print(f"| route | p50 ms (1 conn) | p99 ms (1 conn) | p50 ms ({conns} conns) | "
      f"p99 ms ({conns} conns) | target p99 | p99 / target | req/s ({conns} conns) | "
      f"tollgate-api CPU ms/req | Postgres CPU ms/req |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
worst = 0.0
for name, label in LABEL.items():
    one, many = runs[name][1], runs[name][conns]
    p99 = max(one["p99_ms"], many["p99_ms"])
    worst = max(worst, p99)
    print(f"| {label} | {one['p50_ms']:.2f} | {one['p99_ms']:.2f} | {many['p50_ms']:.2f} | "
          f"{many['p99_ms']:.2f} | {TARGET_MS:.0f} ms | {p99 / TARGET_MS:.2f} | {many['rps']:,.0f} | "
          f"{many['api_cpu_ms_per_req']:.2f} | {many['pg_cpu_ms_per_req']:.2f} |")
mix = runs["mix"][mix_conns]
print(f"| **mix** of the above, saturated ({mix_conns} conns, {mix_duration} s) | - | - | "
      f"{mix['p50_ms']:.2f} | {mix['p99_ms']:.2f} | {TARGET_MS:.0f} ms | "
      f"{mix['p99_ms'] / TARGET_MS:.2f} | {mix['rps']:,.0f} | {mix['api_cpu_ms_per_req']:.2f} | "
      f"{mix['pg_cpu_ms_per_req']:.2f} |")
print()
print(f"The mix runs at saturation, a closed loop: its latency is mostly waiting in line "
      f"({mix_conns} connections / {mix['rps']:,.0f} req/s = {1e3 * mix_conns / mix['rps']:.0f} ms "
      f"on average); the per-route columns are the latency of a read.")
print()
one_core = mix["rps_per_api_core"]
print(f"Requests per second, mixed reads, tollgate-api on one core: **{mix['rps']:,.0f}/s** "
      f"measured (it used {mix['api_cpu_s'] / (mix['duration_us'] / 1e6):.2f} of its core; "
      f"Postgres {mix['pg_cpu_s'] / (mix['duration_us'] / 1e6):.2f} CPUs, the bound on this "
      f"2-CPU machine); per CPU second of tollgate-api: "
      f"{'n/a' if one_core is None else f'{one_core:,.0f}/s'} (its ceiling on one core with "
      f"Postgres elsewhere).")
print(f"CPU seconds of tollgate-api's threads over the whole load: "
      f"{', '.join(f'{x:.1f}' for x in thread_cpu)}.")
bad = [(n, c, d) for n in runs for c, d in runs[n].items() if d["http_errors"] or d["socket_errors"]]
for n, c, d in bad:
    print(f"\nwarning: {n} with {c} connection(s): {d['http_errors']} HTTP errors, "
          f"{d['socket_errors']} socket errors")
print()
if out:
    routes = {n: {str(c): runs[n][c] for c in runs[n]} for n in LABEL}
    with open(out, "a") as f:
        json.dump({"api": {
            "consumers": consumers, "minute_consumers": minute_consumers, "zipf_s": float(zipf),
            "daily_requests_top": int(daily_top), "requests_30d": req30, "tiers": tiers,
            "invoices": invoices, "invoices_finalized": finalized, "invoice_lines": lines,
            "minute_tier_full_rows_estimate": minute_full,
            "minute_tier_full_bytes_estimate": int(minute_full_bytes),
            "database_bytes": db_bytes, "generate_s": {"hour": g_hour, "day_minute": g_dm,
                                                        "invoice_vacuum": g_iv, "total": g_total},
            "hour_rows_7d": {"top": scan_top, "median": scan_median, "tail": scan_tail},
            "api_threads": int(threads), "api_cpu": 0, "connections": conns,
            "mix_connections": mix_conns, "duration_s": int(duration),
            "mix_duration_s": int(mix_duration), "routes": routes, "mix": mix,
            "thread_cpu_s": thread_cpu, "rps_one_core": mix["rps"], "rps_per_api_cpu_s": one_core,
            "worst_p99_ms": max(worst, mix["p99_ms"]), "target_p99_ms": TARGET_MS}}, f)
        f.write("\n")
PY
