#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# bench.sh - `make bench`: what tollgate costs (DESIGN §10).
#
#  1. per packet: build/bench-xdp-cost (BPF_PROG_TEST_RUN, difference to the
#     no-op XDP program, header sizes stated); and each program's share of
#     the verifier's budget on this kernel (build/bpf-verifier-cost)
# 1b. events per second through the agent's drain: build/bench-events, to a
#     null sink (JSON), to the write-ahead log (binary) and to the dev broker
# 1c. tollgate-billing: events aggregated into Postgres per second, and an
#     invoice run for 10,000 consumers (scripts/bench-billing.sh)
# 1d. tollgate-api: p50/p99 of the dashboard's usage, top-endpoint and
#     invoice reads over a generated dataset at the retention tiers for
#     10,000 consumers, and requests per second on one core
#     (scripts/bench-api.sh)
#  2. against real peers (scripts/bench-peers.sh): the same API server (nginx)
#     alone, behind a no-op XDP program, behind tollgate in host and in global
#     scope, and behind HAProxy, nginx limit_req and a fastify + Redis gateway,
#     all with the same plan; admitted-path throughput and latency at a fixed
#     load and at saturation (medians of BENCH_RUNS interleaved rounds), CPU
#     per million refusals, accuracy at 3x the limit (one host; three hosts in
#     global scope), memory at 100,000 keys; its table also carries the
#     per-packet figures of 1.
#  3. sockmap mode behind nginx with TLS (scripts/bench-sockmap.sh): latency
#     and throughput through the front nginx without and with tollgate in
#     sockmap mode (ratio, BENCH_RUNS interleaved rounds), and the CPU per
#     million refusals of tollgate + its refusal responder against nginx's
#     own limit_req in the same nginx.
#
# Prints one markdown table per part, the comparisons last; writes everything
# as one JSON file, results/bench-<UTC date>.json.
# Knobs: BENCH_REPEAT (1e6) here; BENCH_RUNS, BENCH_DURATION, BENCH_CONNS,
# BENCH_FIXED_RPS, BENCH_ACCURACY_SECS, ... in scripts/bench-peers.sh (the
# ones scripts/bench-sockmap.sh shares have the same meaning there).
# Targets: <= 500 ns per request packet of ~400 header bytes, <= 50 ns per
# non-request packet; tollgate >= 20x fewer CPU seconds per million refusals
# than the best userspace gateway, admitted-path p50 <= 1.05x the no-op XDP
# baseline, accuracy within 1 % (one host) and 5 % (global, three hosts).
set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/../tests/integration/lib.sh"

REPEAT=${BENCH_REPEAT:-1000000}

tg_init bench
for f in bench-xdp-cost bpf-verifier-cost bench-events kafka-dev-broker tollgate-agent tollgatectl noop.bpf.o; do
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
echo "## the verifier's budget per program on this kernel (instructions processed, limit 1M)"
echo
"$BUILD/bpf-verifier-cost" --json "$TG_DIR/verifier.json" "$BUILD/tollgate.bpf.o" ||
	tg_fatal "bpf-verifier-cost failed"
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

# --- 2. against real peers ---------------------------------------------------------
# its own topology, servers and agents, torn down before it returns
BENCH_JSON="$TG_DIR/peers.json" BENCH_XDP_COST="$TG_DIR/xdp-cost.json" \
	bash "$TG_ROOT/scripts/bench-peers.sh" || tg_fatal "bench-peers.sh failed"

# --- 3. sockmap mode behind nginx with TLS --------------------------------------------
# its own topology, servers and agent, torn down before it returns
BENCH_JSON="$TG_DIR/sockmap.json" bash "$TG_ROOT/scripts/bench-sockmap.sh" ||
	tg_fatal "bench-sockmap.sh failed"

# --- report: one JSON ---------------------------------------------------------------
"$PYTHON" - "$TG_DIR" "$OUT" "$STAMP" <<'PY' || tg_fatal "cannot write the results"
import json, os, platform, sys

tg_dir, out, stamp = sys.argv[1:4]

def part(name, key):
    path = os.path.join(tg_dir, name)
    if not os.path.exists(path):
        return None
    doc = json.load(open(path))
    return doc[key] if key else doc

peers = part("peers.json", None)
doc = {
    "date": stamp,
    "host": {"kernel": platform.release(), "cpus": os.cpu_count()},
    "xdp_cost": part("xdp-cost.json", None),
    "verifier": part("verifier.json", None),
    "billing": part("billing.json", "billing"),
    "api": part("api.json", "api"),
    "peers": peers,
    "sockmap": part("sockmap.json", None),
    "targets": {"request_packet_added_ns": 500, "non_request_packet_added_ns": 50,
                "billing_events_per_cpu_s": 500000, "invoice_run_10k_s": 10,
                "api_read_p99_ms": 100, "cpu_per_million_refusals_factor": 20,
                "p50_ratio": 1.05, "accuracy_host_pct": 1, "accuracy_global_pct": 5,
                "peers": peers["targets"] if peers else None},
}
with open(out, "w") as f:
    json.dump(doc, f, indent=2)
print(f"\nwrote {out}")
PY
