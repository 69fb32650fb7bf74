#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# test-demo.sh - `make demo` (scripts/demo.sh) run non-interactively, its
# figures (DEMO_SUMMARY=FILE) checked against the traffic it sent (issue 6):
#   - every client: sent = admitted + refused in the kernel counters;
#   - the kernel counters, the API's usage (the Postgres rollups), the Redis
#     day counters and the sample API's own request log agree per consumer;
#     the calls without a valid key are refused, counted, never served;
#   - the consumer within its limit has no refusal, the one far over it is
#     mostly refused with over_limit;
#   - each consumer's invoice for the month: the plan's tiers applied to its
#     billable count (admitted and answered below 500, from the kernel's
#     status classes), computed here with Python's Decimal, line by line,
#     rounded half-even to the cent; the upcoming-invoice route agrees;
#   - an SLA alert for the API answering 500s, a deprecation notice for the
#     consumer on the deprecated API;
#   - geography: each consumer's admitted events and the API's geo figures
#     carry the country the demo's GeoIP database gives its address;
#   - afterwards nothing is left: namespace, veths, pins, cgroup, temp dir,
#     processes, listeners on the demo's ports;
#   - SIGINT (Ctrl-C) in the middle of the traffic stops the demo with 130
#     and leaves nothing either; a port already taken stops it before it
#     creates anything, with a message naming the port.
# Run: BUILD=/abs/build bash tests/integration/test-demo.sh (as root).
set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tg_init demotest
DEMO="$TG_ROOT/scripts/demo.sh"
# ports of our own, so a demo left running (make demo KEEP=1) is no obstacle
export DEMO_API_PORT DEMO_APP_PORT DEMO_METRICS_PORT
DEMO_API_PORT=$(tg_free_port)
DEMO_APP_PORT=$(tg_free_port)
DEMO_METRICS_PORT=$(tg_free_port)

# leftovers of a demo whose shell had pid PID (the names scripts/demo.sh and
# lib.sh derive from it), one line each; nothing = clean
leftovers() { # PID [PORT...]
	local pid=$1 p
	shift
	ip netns list | grep -q "^tgd-$pid\b" && echo "namespace tgd-$pid"
	ip link show "tgdh$pid" >/dev/null 2>&1 && echo "veth tgdh$pid"
	[ -e "/sys/fs/bpf/tollgate-demo-$pid" ] && echo "pins /sys/fs/bpf/tollgate-demo-$pid"
	[ -e "$TG_CG2/tollgate-demo-$pid" ] && echo "cgroup $TG_CG2/tollgate-demo-$pid"
	compgen -G "/tmp/tg-demo.$pid.*" >/dev/null && echo "temp dir $(compgen -G "/tmp/tg-demo.$pid.*")"
	pgrep -f "/tmp/tg-demo\\.$pid\\." >/dev/null && echo "processes: $(pgrep -af "/tmp/tg-demo\\.$pid\\." | head -3)"
	for p in "$@"; do
		[ -n "$(ss -Htln "sport = :$p")" ] && echo "a listener on port $p"
	done
	return 0
}

# --- a port already taken: a clear message, nothing created --------------------
BUSY=$(tg_free_port)
tg_spawn "$TG_DIR/busy.log" "$PYTHON" -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); print("ready", flush=True); time.sleep(600)' "$BUSY"
BUSY_PID=$TG_SPAWNED
tg_wait_for_line "$TG_DIR/busy.log" ready 5 "$BUSY_PID" || tg_fatal "cannot hold a port"
DEMO_API_PORT=$BUSY bash "$DEMO" >"$TG_DIR/demo-busy.out" 2>&1 &
pid=$!
wait "$pid"
assert_eq "a port taken: the demo stops (exit 1)" 1 $?
assert_match "... with a message naming the port and the variable" "port $BUSY .*taken.*DEMO_API_PORT" \
	"$(tr '\n' ' ' <"$TG_DIR/demo-busy.out")"
assert_eq "... before creating anything" "" "$(leftovers "$pid")"
tg_stop_pid "$BUSY_PID" 5

# --- the demo, to the end --------------------------------------------------------
SUMMARY="$TG_DIR/summary.json"
t0=$(date +%s)
DEMO_SUMMARY=$SUMMARY bash "$DEMO" >"$TG_DIR/demo.out" 2>&1 &
pid=$!
wait "$pid"
rc=$?
t1=$(date +%s)
tg_log "demo run time $((t1 - t0)) s"
assert_eq "the demo succeeds" 0 "$rc"
if [ "$rc" -ne 0 ] || [ ! -s "$SUMMARY" ]; then
	tg_log "last lines of the demo's output:"
	tail -40 "$TG_DIR/demo.out" | sed 's/^/#   /'
	tg_fatal "no summary to check"
fi
assert_match "it prints the per-consumer table" "Requests per consumer" "$(cat "$TG_DIR/demo.out")"
assert_match "it prints each consumer's invoice" "Invoice of initech for" "$(cat "$TG_DIR/demo.out")"
assert_match "it prints the services' URLs" "tollgate-api \(REST\) +http://127.0.0.1:" "$(cat "$TG_DIR/demo.out")"

# The checks, computed from the summary by an independent Python: one line
# "WHAT<TAB>EXPECTED<TAB>SEEN" each.
cat >"$TG_DIR/check.py" <<'PY'
import json
import sys
from decimal import ROUND_HALF_EVEN, Decimal

s = json.load(open(sys.argv[1]))


def check(what, expected, seen):
    print(f"{what}\t{expected}\t{seen}")


def price(plan, units):
    """The plan's invoice lines for `units` billable units: (kind, quantity,
    amount as a 2-decimal string), as DESIGN §6 defines them."""
    cent = Decimal("0.01")
    lines = []
    fee = Decimal(plan.get("period_fee") or "0")
    if fee:
        lines.append(("period_fee", 1, str(fee.quantize(cent, ROUND_HALF_EVEN))))
    lower = 0
    for t in plan["tiers"]:
        upper = t["up_to"]
        if plan["tiers_mode"] == "graduated":
            n = max(0, min(units, upper if upper is not None else units) - lower)
            if n:
                amount = (Decimal(t["unit_price"]) * n).quantize(cent, ROUND_HALF_EVEN)
                lines.append(("tier", n, str(amount)))
        elif units > lower and (upper is None or units <= upper):  # volume
            amount = (Decimal(t["unit_price"]) * units).quantize(cent, ROUND_HALF_EVEN)
            lines.append(("tier", units, str(amount)))
        if upper is None:
            break
        lower = upper
    return lines


by_name = {c["name"]: c for c in s["consumers"]}
for c in s["consumers"]:
    n, k, a = c["name"], c["kernel"], c["api_usage"]
    check(f"{n}: sent = admitted + refused (kernel)", c["client"]["sent"],
          k["admitted"] + k["refused_total"])
    check(f"{n}: the API's admitted = the kernel's", k["admitted"], a["admitted"])
    check(f"{n}: the API's refused = the kernel's", k["refused_total"], a["refused"])
    check(f"{n}: Redis day counter = the kernel's admitted", k["admitted"], c["realtime"])
    check(f"{n}: the server received what the kernel admitted", k["admitted"],
          c["server_received"])
    check(f"{n}: the API's 5xx = the kernel's", k["status"]["5xx"], a["errors_5xx"])
    # the client read an answer for every request but those still in flight at the end
    client_ok = sum(v for st, v in c["client"]["by_status"].items()
                    if not st.startswith("kernel-") and 100 <= int(st) < 500)
    unread = c["client"]["sent"] - c["client"]["answered"]
    billable = sum(v for cls, v in k["status"].items() if cls[0] in "1234")
    check(f"{n}: billable (kernel status classes) within the client's answers below 500 "
          f"+ unread", "yes", "yes" if client_ok <= billable <= client_ok + unread else
          f"no: kernel {billable}, client {client_ok} + {unread} unread")
    plan = s["plans"][c["plan_id"]]
    want = price(plan, billable)
    inv = c["invoice"] or {"lines": [], "total": None, "currency": None}
    seen = [(l["kind"], l["quantity"], l["amount"]) for l in inv["lines"]]
    check(f"{n}: invoice lines = {plan['name']}'s tiers applied to {billable} billable units",
          want, seen)
    total = sum((Decimal(x[2]) for x in want), Decimal("0.00"))
    check(f"{n}: invoice total", f"{total} USD", f"{inv['total']} {inv['currency']}")
    check(f"{n}: the upcoming-invoice route agrees", True, c.get("upcoming_agrees"))

# geography: each consumer's address is in the demo's GeoIP database
for c in s["consumers"]:
    n, cc = c["name"], c["geoip_country"]
    geo = {g["country"]: g["requests"] for g in s["geo"][n]}
    check(f"{n}: the agent's admitted events carry {cc}, its address's country", [cc],
          sorted(c["event_countries"]))
    check(f"{n}: the API's geography counts its admitted requests under {cc}", c["kernel"]["admitted"],
          geo.get(cc, 0))

acme, globex, initech = by_name["acme"], by_name["globex"], by_name["initech"]
check("acme (within its limit): nothing refused", 0, acme["kernel"]["refused_total"])
check("acme: every answer read came from the server", 0,
      sum(v for st, v in acme["client"]["by_status"].items() if st.startswith("kernel-")))
og = globex["kernel"]["refused"]["over_limit"]
check("globex (far over its limit): refused over_limit at least 3x its admitted", "yes",
      "yes" if og >= 3 * globex["kernel"]["admitted"] else f"no: {og} vs {globex['kernel']['admitted']}")
seen429 = globex["client"]["by_status"].get("kernel-429", 0)
unread = globex["client"]["sent"] - globex["client"]["answered"]
check("globex: the client read the kernel's 429s (all but any unread at the end)", "yes",
      "yes" if seen429 <= og <= seen429 + unread else f"no: kernel {og}, client {seen429} + {unread}")
check("initech: some 5xx and 4xx", "yes",
      "yes" if initech["kernel"]["status"]["5xx"] and initech["kernel"]["status"]["4xx"] else "no")
check("initech: its calls to the deprecated API were admitted", "yes",
      "yes" if initech["kernel"]["apis"].get(s["apis"]["legacy"], 0) > 0 else "no")

an = s["anonymous"]
check("no valid key: sent = refused (kernel)", an["sent"], an["kernel"]["refused_total"])
check("no valid key: missing_key + unknown_key", "10 10",
      f"{an['kernel']['refused']['missing_key']} {an['kernel']['refused']['unknown_key']}")
check("no valid key: the API's refused = the kernel's", an["kernel"]["refused_total"],
      an["api_usage"]["refused"])
check("no valid key: answered 401 by the kernel", an["sent"],
      sum(r["by_status"].get("kernel-401", 0) for r in an["client"]))

alerts = [(a["kind"], a["api_id"], a["state"]) for a in s["alerts"]]
check("SLA: an open uptime alert on orders (its 500s)", True,
      ("sla_uptime", s["apis"]["orders"], "open") in alerts)
check("SLA: no alert on legacy", [], [x for x in alerts if x[1] == s["apis"]["legacy"]])
dep = s["deprecation"]["legacy"]["consumers"]
check("deprecation: initech is on the deprecated API, notified", [("initech", True)],
      [(c["name"], bool(c["notified_at"])) for c in dep])
check("the demo saw no problem", [], s["problems"])
PY
while IFS=$'\t' read -r what expected seen; do
	assert_eq "$what" "$expected" "$seen"
done < <("$PYTHON" "$TG_DIR/check.py" "$SUMMARY" || echo "check.py failed	ok	failed")

read -r -a ports < <("$PYTHON" -c 'import json, sys; print(*json.load(open(sys.argv[1]))["cleanup"]["ports"])' "$SUMMARY")
assert_eq "afterwards nothing is left (namespace, veth, pins, cgroup, dir, processes, ports ${ports[*]})" "" \
	"$(leftovers "$pid" "${ports[@]}")"

# --- Ctrl-C in the middle of the traffic ---------------------------------------------
# (job control on, so the demo does not start with SIGINT ignored as a
# background job of a script would; and SIGINT back to its default, for a
# shell cannot undo an ignored SIGINT it inherited, as this test does when
# whatever started it ignores SIGINT)
set -m
env --default-signal=INT bash "$DEMO" >"$TG_DIR/demo-int.out" 2>&1 &
pid=$!
set +m
TG_PIDS+=("$pid")
tg_wait_for_line "$TG_DIR/demo-int.out" '^== traffic' 120 "$pid" || tg_log "the second run did not reach the traffic"
sleep 2
kill -INT "$pid"
wait "$pid"
assert_eq "SIGINT during the traffic: the demo exits 130" 130 $?
assert_match "... it was sending traffic, and says it removes everything" \
	"== traffic.*interrupted: removing everything" "$(tr '\n' ' ' <"$TG_DIR/demo-int.out")"
assert_eq "... and leaves nothing (namespace, veth, pins, cgroup, dir, processes, ports ${ports[*]:0:3})" "" \
	"$(leftovers "$pid" "${ports[@]:0:3}")"

tg_summary
