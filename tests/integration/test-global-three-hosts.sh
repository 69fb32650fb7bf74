#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# test-global-three-hosts.sh - a global rate limit holds across hosts
# (DESIGN §3, §4, issue 3): three API hosts in the root namespace (each its
# own veth, address, cgroup, pin dir, API server and tollgate-agent) share
# one Redis; a consumer's plan allows 100 requests/s with a burst of 100 in
# global scope. Clients behind every host push 100 requests/s each (3x the
# limit) for 10 s: the total admitted over the three hosts is within 5 % of
# 100 x 10 + 100, and every host admitted some (the leases follow the
# traffic).
#
# Run: BUILD=/abs/build bash tests/integration/test-global-three-hosts.sh (as root).
set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RATE=100
BURST=100
SECONDS_=10

tg_init global3
tg_need redis-server redis-cli

RPORT=$(tg_free_port)
tg_spawn "$TG_DIR/redis.log" redis-server --port "$RPORT" --bind 127.0.0.1 --save '' \
	--appendonly no --dir "$TG_DIR"
rcli() { redis-cli -p "$RPORT" "$@"; }
for ((i = 0; i < 50; i++)); do rcli PING >/dev/null 2>&1 && break; sleep 0.1; done
rcli HSET plan:3 api_id 1 rate_per_sec "$RATE" burst "$BURST" >/dev/null
rcli HSET route:1 api_id 1 prefix /v1 >/dev/null
tg_secrets_up
KEY=$("$PYTHON" "$TG_CLIENT_PY" newkey)
DIGEST=$("$PYTHON" "$TG_CLIENT_PY" digest --secret-file "$TG_SECRETS" "$KEY")
rcli HSET "apikey:$DIGEST" key_id 1 consumer_id 21 plan_id 3 is_active 1 \
	suspended 0 >/dev/null

BASE_DIR=$TG_DIR
declare -a NS HOST_IP PORT CONFIG AGENT

# host_cleanup H: what tg_cleanup does for its one host, for host H
host_cleanup() {
	local h=$1 pid
	"$BUILD/tollgatectl" --config "${CONFIG[$h]}" detach >/dev/null 2>&1
	ip link set dev "${HOST_IF[$h]}" xdp off 2>/dev/null
	if [ -d "${CGROUP[$h]}" ]; then
		while read -r pid; do echo "$pid" >"$TG_CG2/cgroup.procs" 2>/dev/null; done \
			<"${CGROUP[$h]}/cgroup.procs"
		rmdir "${CGROUP[$h]}" 2>/dev/null
	fi
	rm -rf "${PIN[$h]}"
	ip link del "${HOST_IF[$h]}" 2>/dev/null
	ip netns del "${NS[$h]}" 2>/dev/null
}
declare -a HOST_IF CGROUP PIN

for h in 1 2 3; do
	TG_DIR=$BASE_DIR/host$h
	mkdir -p "$TG_DIR"
	tg_topology_up "g$h"
	tg_cgroup_up "tg-g$h"
	tg_server_up "$(tg_free_port)"
	TG_SECRETS=$BASE_DIR/secrets
	tg_config_write "$TG_PORT" "snapshot_interval = 1" "$(printf '[redis]\nurl = redis://127.0.0.1:%s\n[ratelimit]\nscope = global\nlease_min = 2\nlease_max = 20\nlease_interval_ms = 50\n' "$RPORT")"
	# every host its own pin dir
	TG_PIN_DIR="/sys/fs/bpf/tg-test-$$-h$h"
	sed -i "s|^pin_dir = .*|pin_dir = $TG_PIN_DIR|" "$TG_CONFIG"
	NS[$h]=$TG_NS HOST_IF[$h]=$TG_HOST_IF HOST_IP[$h]=$TG_HOST_IP PORT[$h]=$TG_PORT
	CGROUP[$h]=$TG_CGROUP PIN[$h]=$TG_PIN_DIR CONFIG[$h]=$TG_CONFIG
	TG_CLEANUP_HOOKS+=("host_cleanup $h")
	tg_agent_start 30
	AGENT[$h]=$TG_AGENT_PID
	TG_PIDS+=("$TG_AGENT_PID") # stopped before the hooks run
	TG_AGENT_PID=""
done
# tg_cleanup's own single-host steps have nothing left to do
TG_NS="" TG_HOST_IF="" TG_CGROUP="" TG_PIN_DIR="" TG_CONFIG="" TG_HOST_IFINDEX=""
TG_DIR=$BASE_DIR

# each host's bucket is made by its first request; the leases follow
for h in 1 2 3; do
	ip netns exec "${NS[$h]}" curl -s --max-time 5 -o /dev/null -H "X-API-Key: $KEY" \
		"http://${HOST_IP[$h]}:${PORT[$h]}/v1/ok"
done
sleep 0.5
rcli DEL rl:21:3 >/dev/null # the measured window starts from a full bucket

for h in 1 2 3; do
	ip netns exec "${NS[$h]}" "$PYTHON" "$TG_CLIENT_PY" rate --addr "${HOST_IP[$h]}" \
		--port "${PORT[$h]}" --key "$KEY" --rps "$RATE" --seconds "$SECONDS_" \
		>"$TG_DIR/rate.$h.json" 2>"$TG_DIR/rate.$h.err" &
	LOAD[$h]=$!
done
for h in 1 2 3; do wait "${LOAD[$h]}"; done

total=0
all_admitted=1
for h in 1 2 3; do
	read -r sent admitted refused elapsed < <("$PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1]))
b = d["by_status"]
print(d["sent"], b.get("200", 0), b.get("429", 0), d["elapsed_s"])' "$TG_DIR/rate.$h.json")
	tg_log "host $h: $sent sent in ${elapsed}s, $admitted admitted, $refused refused"
	assert_eq "host $h: every request answered 200 or 429" "$sent" $((admitted + refused))
	total=$((total + admitted))
	[ "$admitted" -gt 0 ] || all_admitted=0
done
want=$((RATE * SECONDS_ + BURST))
lo=$((want * 95 / 100))
hi=$((want * 105 / 100))
assert_range "three hosts at 3x the limit for ${SECONDS_}s admit $want +- 5 % in all" "$lo" "$hi" "$total"
assert_eq "each host admitted some (leases follow the traffic)" 1 "$all_admitted"
granted=0
for h in 1 2 3; do
	b=$(bpftool -j map lookup pinned "${PIN[$h]}/tg_buckets" key 21 0 0 0 3 0 0 0 2>/dev/null)
	g=$("$PYTHON" -c 'import json,sys; print(json.loads(sys.argv[1])["formatted"]["value"]["granted_total"])' "$b" 2>/dev/null)
	granted=$((granted + ${g:-0}))
done
tg_log "tokens granted by leases over the three hosts: $granted"
assert_true "the hosts were granted no more than the Redis bucket gave (burst + refill + the warm-up's)" \
	"granted $granted" test "$granted" -le $((want * 110 / 100))

tg_summary
