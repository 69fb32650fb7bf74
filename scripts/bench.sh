#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# bench.sh - `make bench`: what tollgate costs (DESIGN §10).
#
#  1. per packet: build/bench-xdp-cost (BPF_PROG_TEST_RUN, difference to the
#     no-op XDP program, header sizes stated)
# 1b. events per second through the agent's drain: build/bench-events, to a
#     null sink (JSON), to the write-ahead log (binary) and to the dev broker
# 1c. tollgate-billing: events aggregated into Postgres per second, and an
#     invoice run for 10,000 consumers (scripts/bench-billing.sh)
# 1d. tollgate-api: p50/p99 of the dashboard's usage, top-endpoint and
#     invoice reads over a generated dataset at the retention tiers for
#     10,000 consumers, and requests per second on one core
#     (scripts/bench-api.sh)
#  2. end to end: nginx serving a fixed 200 on the API host (root namespace,
#     in a cgroup), wrk at saturation from a client namespace with an API key;
#     BENCH_RUNS (default 5) interleaved rounds of
#       noop      build/noop.bpf.o attached with `ip link ... xdp obj`
#       tollgate  tollgate-agent attached (XDP + sockops + sk_msg, events to a
#                 file), its plan generous enough that nothing is refused
#     the order alternating per round; median and spread of throughput, p50
#     and p99 (wrk --latency), and the ratios.
#
# Prints one markdown table; writes results/bench-<UTC date>.json.
# Knobs: BENCH_RUNS, BENCH_DURATION (s, default 10), BENCH_CONNS (64),
# BENCH_THREADS (1), BENCH_WORKERS (nginx workers, 1), BENCH_REPEAT (1e6).
# Targets: <= 500 ns per request packet of ~400 header bytes, <= 50 ns per
# non-request packet, added p50 <= 5 %, throughput >= 95 % of the baseline.
set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/../tests/integration/lib.sh"

RUNS=${BENCH_RUNS:-5}
DURATION=${BENCH_DURATION:-10}
CONNS=${BENCH_CONNS:-64}
THREADS=${BENCH_THREADS:-1}
WORKERS=${BENCH_WORKERS:-1}
REPEAT=${BENCH_REPEAT:-1000000}

tg_init bench
tg_need wrk nginx
for f in bench-xdp-cost bench-events kafka-dev-broker tollgate-agent tollgatectl noop.bpf.o; do
	[ -e "$BUILD/$f" ] || tg_fatal "$BUILD/$f missing (make all build/bench-xdp-cost)"
done
RESULTS_DIR="$TG_ROOT/results"
mkdir -p "$RESULTS_DIR"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT="$RESULTS_DIR/bench-$STAMP.json"

# --- 1. per packet -----------------------------------------------------------
echo "## per-packet cost of tg_xdp (BPF_PROG_TEST_RUN, difference to the no-op program)"
echo
"$BUILD/bench-xdp-cost" --repeat "$REPEAT" --noop "$BUILD/noop.bpf.o" --json "$TG_DIR/xdp-cost.json" ||
	tg_fatal "bench-xdp-cost failed"
echo

# --- 1b. events through the agent's drain ----------------------------------------
echo "## usage events per second through the agent's drain (one core, synthetic records)"
echo
mkfifo "$TG_DIR/broker.ctl"
"$BUILD/kafka-dev-broker" --brokers 3 --topic tollgate.usage:4 --bootstrap-file "$TG_DIR/bootstrap" \
	<"$TG_DIR/broker.ctl" >"$TG_DIR/broker.out" 2>&1 &
TG_PIDS+=("$!")
exec 8>"$TG_DIR/broker.ctl"
for ((i = 0; i < 50; i++)); do [ -s "$TG_DIR/bootstrap" ] && break; sleep 0.1; done
"$BUILD/bench-events" --count 1000000 --brokers "$(cat "$TG_DIR/bootstrap")" |
	tee "$TG_DIR/events.md" || tg_fatal "bench-events failed"
echo quit >&8
exec 8>&-
echo "(target: >= 1,000,000 events/s binary to a null sink)"
echo

# --- 1c. billing ----------------------------------------------------------------
# its own Postgres and broker, torn down before the end-to-end rounds
BENCH_JSON="$TG_DIR/billing.json" bash "$TG_ROOT/scripts/bench-billing.sh" |
	grep -v '^# ' || tg_fatal "bench-billing.sh failed"

# --- 1d. dashboard API ------------------------------------------------------------
# its own Postgres (a dataset of ~8 GB) and Redis, torn down before the
# end-to-end rounds
BENCH_JSON="$TG_DIR/api.json" bash "$TG_ROOT/scripts/bench-api.sh" |
	grep -v '^# ' || tg_fatal "bench-api.sh failed"

# --- 2. end to end -------------------------------------------------------------
tg_topology_up tb
tg_cgroup_up tg-bench
PORT=$(tg_free_port)
NGX="$TG_DIR/nginx"
mkdir -p "$NGX/logs" "$NGX/tmp"
cat >"$NGX/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes $WORKERS;
pid $NGX/nginx.pid;
error_log $NGX/logs/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	keepalive_requests 100000000;
	keepalive_timeout 120s;
	client_body_temp_path $NGX/tmp/body;
	proxy_temp_path $NGX/tmp/proxy;
	fastcgi_temp_path $NGX/tmp/fastcgi;
	uwsgi_temp_path $NGX/tmp/uwsgi;
	scgi_temp_path $NGX/tmp/scgi;
	server {
		listen $PORT reuseport;
		location / { default_type text/plain; return 200 "ok\n"; }
	}
}
EOF
tg_spawn_in_cgroup "$NGX/out.log" nginx -p "$NGX" -c "$NGX/nginx.conf" -e "$NGX/logs/error.log"
NGINX_PID=$TG_SPAWNED
for ((i = 0; i < 50; i++)); do
	[ -n "$(ss -Htln "sport = :$PORT")" ] && break
	sleep 0.1
done
[ -n "$(ss -Htln "sport = :$PORT")" ] || tg_fatal "nginx did not listen: $(cat "$NGX/out.log" "$NGX/logs/error.log")"

tg_secrets_up
tg_config_write "$PORT" "" "$(
	cat <<-EOF
		[plan.bench]
		id = 1
		api_id = 1
		rate_per_sec = 10000000
		burst = 10000000

		[route.v1]
		id = 1
		api_id = 1
		prefix = /v1
	EOF
)"
KEY=$(tg_key_add 1 1 1)
URL="http://$TG_HOST_IP:$PORT/v1/ok"

# wrk_run MODE ROUND: one saturation run; its output in $TG_DIR/wrk-MODE-ROUND.txt
wrk_run() {
	local out="$TG_DIR/wrk-$1-$2.txt"
	tg_client wrk -t "$THREADS" -c "$CONNS" -d "${DURATION}s" --latency \
		-H "X-API-Key: $KEY" "$URL" >"$out" 2>&1 || tg_fatal "wrk failed: $(tail -5 "$out")"
}

run_noop() {
	ip link set dev "$TG_HOST_IF" xdp obj "$BUILD/noop.bpf.o" sec xdp ||
		tg_fatal "cannot attach noop.bpf.o to $TG_HOST_IF"
	wrk_run noop "$1"
	ip link set dev "$TG_HOST_IF" xdp off
}

# cpu_s PID: user + system CPU seconds the process has used so far
cpu_s() {
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$1/stat"
}

run_tollgate() {
	local cpu0
	rm -f "$TG_EVENTS"
	tg_agent_start 30
	cpu0=$(cpu_s "$TG_AGENT_PID")
	wrk_run tollgate "$1"
	AGENT_CPU+=("$(awk -v a="$cpu0" -v b="$(cpu_s "$TG_AGENT_PID")" 'BEGIN { printf "%.2f", b - a }')")
	tg_agent_stop || tg_log "tollgate-agent exited with status $? after SIGTERM"
	tg_ctl detach >/dev/null 2>&1 || tg_fatal "tollgatectl detach failed"
	EVENTS_LINES+=("$(wc -l <"$TG_EVENTS" 2>/dev/null || echo 0)")
	rm -f "$TG_EVENTS"
}

EVENTS_LINES=()
AGENT_CPU=()
echo "## wrk: $RUNS interleaved rounds of ${DURATION}s, $THREADS thread(s), $CONNS connections," \
	"nginx $WORKERS worker(s), $(nproc) CPUs"
for ((r = 1; r <= RUNS; r++)); do
	if ((r % 2)); then order="noop tollgate"; else order="tollgate noop"; fi
	for mode in $order; do
		printf '# round %d: %s\n' "$r" "$mode"
		"run_$mode" "$r"
	done
done

# --- report --------------------------------------------------------------------
"$PYTHON" - "$TG_DIR" "$RUNS" "$OUT" "$STAMP" "$DURATION" "$THREADS" "$CONNS" "$WORKERS" \
	"${EVENTS_LINES[*]}" "${AGENT_CPU[*]}" <<'PY'
import json, os, platform, re, statistics, sys

tg_dir, runs, out, stamp, duration, threads, conns, workers, events, agent_cpu = sys.argv[1:11]
runs = int(runs)
UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3}

def parse(path):
    text = open(path).read()
    res = {"rps": None, "p50_ms": None, "p99_ms": None, "non_2xx": 0, "errors": 0}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if m:
        res["rps"] = float(m.group(1))
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(r"^\s+%s(?:\.000)?%%\s+([\d.]+)(us|ms|s)\s*$" % pct, text, re.M)
        if m:
            res[key] = float(m.group(1)) * UNIT[m.group(2)]
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    if m:
        res["non_2xx"] = int(m.group(1))
    m = re.search(r"Socket errors:.*", text)
    if m:
        res["errors"] = sum(int(x) for x in re.findall(r"\d+", m.group(0)))
    return res

data = {m: [parse(os.path.join(tg_dir, f"wrk-{m}-{r}.txt")) for r in range(1, runs + 1)]
        for m in ("noop", "tollgate")}

def summary(mode, key):
    xs = [x[key] for x in data[mode] if x[key] is not None]
    if not xs:
        return None
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "runs": xs}

agg = {m: {k: summary(m, k) for k in ("rps", "p50_ms", "p99_ms")} for m in data}

def ratio(key):
    a, b = agg["tollgate"][key], agg["noop"][key]
    return a["median"] / b["median"] if a and b and b["median"] else None

thr = ratio("rps")
p50 = ratio("p50_ms")
p99 = ratio("p99_ms")
xdp = json.load(open(os.path.join(tg_dir, "xdp-cost.json")))

def fmt(s, unit, digits):
    if not s:
        return "n/a"
    unit = f" {unit}" if unit else ""
    return f"{s['median']:.{digits}f}{unit} ({s['min']:.{digits}f}–{s['max']:.{digits}f})"

def verdict(ok):
    return "met" if ok else "MISSED"

print()
print("| measure | no-op XDP | tollgate | tollgate / no-op | target |")
print("|---|---:|---:|---:|---|")
for c in xdp:
    if c["target_added_ns"]:
        print(f"| {c['case']}: added ns/packet ({c['header_bytes']} header B, "
              f"{c['frame_bytes']} B frame) | {c['noop_ns']:.1f} ns | {c['tg_ns']:.1f} ns | "
              f"+{c['added_ns']:.1f} ns | <= {c['target_added_ns']:.0f} ns: "
              f"{verdict(c['added_ns'] <= c['target_added_ns'])} |")
print(f"| throughput, req/s (median, min–max) | {fmt(agg['noop']['rps'], '', 0)} | "
      f"{fmt(agg['tollgate']['rps'], '', 0)} | "
      f"{'n/a' if thr is None else f'{100 * thr:.1f} %'} | >= 95 %: "
      f"{'n/a' if thr is None else verdict(thr >= 0.95)} |")
print(f"| p50 latency | {fmt(agg['noop']['p50_ms'], 'ms', 3)} | "
      f"{fmt(agg['tollgate']['p50_ms'], 'ms', 3)} | "
      f"{'n/a' if p50 is None else f'{100 * (p50 - 1):+.1f} %'} | added <= 5 %: "
      f"{'n/a' if p50 is None else verdict(p50 - 1 <= 0.05)} |")
print(f"| p99 latency | {fmt(agg['noop']['p99_ms'], 'ms', 3)} | "
      f"{fmt(agg['tollgate']['p99_ms'], 'ms', 3)} | "
      f"{'n/a' if p99 is None else f'{100 * (p99 - 1):+.1f} %'} | - |")
bad = [(m, i + 1, x) for m in data for i, x in enumerate(data[m]) if x["non_2xx"] or x["errors"]]
for m, r, x in bad:
    print(f"\nwarning: {m} round {r}: {x['non_2xx']} non-2xx responses, {x['errors']} socket errors")
events_lines = [int(x) for x in events.split()] if events.strip() else []
agent_cpu = [float(x) for x in agent_cpu.split()] if agent_cpu.strip() else []
if events_lines:
    print(f"\nevents written by the agent per tollgate round: {events_lines}")
if agent_cpu:
    print(f"tollgate-agent CPU seconds during each {duration}s tollgate run (user + system): {agent_cpu}")

doc = {
    "date": stamp,
    "host": {"kernel": platform.release(), "cpus": os.cpu_count()},
    "wrk": {"runs": runs, "duration_s": int(duration), "threads": int(threads),
            "connections": int(conns), "nginx_workers": int(workers)},
    "xdp_cost": xdp,
    "billing": (json.load(open(os.path.join(tg_dir, "billing.json")))["billing"]
                if os.path.exists(os.path.join(tg_dir, "billing.json")) else None),
    "api": (json.load(open(os.path.join(tg_dir, "api.json")))["api"]
            if os.path.exists(os.path.join(tg_dir, "api.json")) else None),
    "end_to_end": {"noop": data["noop"], "tollgate": data["tollgate"], "summary": agg,
                   "throughput_ratio": thr, "p50_ratio": p50, "p99_ratio": p99,
                   "events_per_round": events_lines, "agent_cpu_s_per_round": agent_cpu},
    "targets": {"request_packet_added_ns": 500, "non_request_packet_added_ns": 50,
                "p50_added_pct": 5, "throughput_ratio": 0.95,
                "billing_events_per_cpu_s": 500000, "invoice_run_10k_s": 10,
                "api_read_p99_ms": 100},
}
with open(out, "w") as f:
    json.dump(doc, f, indent=2)
print(f"\nwrote {out}")
PY
