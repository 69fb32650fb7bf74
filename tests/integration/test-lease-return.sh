#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# test-lease-return.sh - the leases of ratelimit.scope = global go back to
# Redis when enforcement ends (DESIGN §4, README "global scope",
# lease_return() in agent/lease.c). Plan 3 allows 1 request/s with a burst
# of 1000; its Redis buckets rl:{consumer}:3 start at 500 tokens (as if
# other hosts had drawn from them), so the Lua script's cap never clips
# what is given back. Leases are always 40 tokens (lease_min = lease_max),
# topped up under 30: a consumer that sends 8 requests holds 32 unused.
#
# With agent.detach_on_exit = true: the lease the kernel holds is what the
# Redis bucket lost (net of its refill, computed from the bucket's own
# timestamps); on SIGTERM the bucket gets back exactly granted_total -
# consumed_total of the kernel's bucket, at shutdown. With
# detach_on_exit = false (a second agent run, another consumer): the Redis
# bucket is left as it was, byte for byte, and the tokens stay with the
# kernel, which goes on admitting with them.
#
# Run: BUILD=/abs/build bash tests/integration/test-lease-return.sh (as root).
set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PLAN=3
RATE=1
BURST=1000
SEED=500
LEASE=40

tg_init lease-return
tg_need redis-server redis-cli bpftool

RPORT=$(tg_free_port)
tg_spawn "$TG_DIR/redis.log" redis-server --port "$RPORT" --bind 127.0.0.1 --save '' \
	--appendonly no --dir "$TG_DIR"
rcli() { redis-cli -p "$RPORT" "$@"; }
for ((i = 0; i < 50; i++)); do rcli PING >/dev/null 2>&1 && break; sleep 0.1; done
[ "$(rcli PING 2>/dev/null)" = PONG ] || tg_fatal "redis-server did not start"

tg_topology_up lr
tg_cgroup_up tg-lr
tg_server_up "$(tg_free_port)"
PORT=$TG_PORT
tg_secrets_up

# config_write DETACH: the agent's config, global scope, detach_on_exit = DETACH
config_write() {
	tg_config_write "$PORT" "detach_on_exit = $1" "$(cat <<-EOF
		[redis]
		url = redis://127.0.0.1:$RPORT
		[ratelimit]
		scope = global
		lease_min = $LEASE
		lease_max = $LEASE
		lease_interval_ms = 50
	EOF
	)"
}
config_write true

rcli HSET plan:$PLAN api_id 1 rate_per_sec $RATE burst $BURST >/dev/null
rcli HSET route:1 api_id 1 prefix /v1 >/dev/null
KEY_A=$("$PYTHON" "$TG_CLIENT_PY" newkey) # consumer 21: detach_on_exit = true
KEY_B=$("$PYTHON" "$TG_CLIENT_PY" newkey) # consumer 22: detach_on_exit = false
rcli HSET "apikey:$(tg_digest "$KEY_A")" key_id 1 consumer_id 21 plan_id $PLAN is_active 1 \
	suspended 0 >/dev/null
rcli HSET "apikey:$(tg_digest "$KEY_B")" key_id 2 consumer_id 22 plan_id $PLAN is_active 1 \
	suspended 0 >/dev/null

now_ms() { date +%s%3N; }
not() { ! "$@"; }

# rl CONSUMER: "tokens ts" of the Redis bucket rl:CONSUMER:PLAN
rl() { rcli HMGET "rl:$1:$PLAN" tokens ts | paste -sd' '; }

# bucket CONSUMER: "granted_total consumed_total" of the kernel's bucket
bucket() {
	bpftool -j map lookup pinned "$TG_PIN_DIR/tg_buckets" key "$1" 0 0 0 $PLAN 0 0 0 2>/dev/null |
		"$PYTHON" -c 'import json, sys
v = json.load(sys.stdin)["formatted"]["value"]
print(v["granted_total"], v["consumed_total"])' 2>/dev/null
}

# moved "T0 TS0" "T1 TS1": the tokens the Redis bucket gained from the first
# state to the second beyond its own refill (negative: it lost them), whole
moved() {
	awk -v a="$1" -v b="$2" -v rate=$RATE 'BEGIN {
		split(a, x, " "); split(b, y, " ")
		refill = y[2] > x[2] ? (y[2] - x[2]) * rate / 1000 : 0
		printf "%.0f", y[1] - x[1] - refill }'
}

# request KEY: one request's HTTP status
request() {
	tg_client curl -s --max-time 5 -o /dev/null -w '%{http_code}' -H "X-API-Key: $1" \
		"http://$TG_HOST_IP:$PORT/v1/ok"
}

# use KEY N: the first request makes the consumer's bucket (refused:
# nothing is leased yet), the agent leases within 50 ms, then N requests;
# prints their status codes
use() {
	local i codes
	codes="warm:$(request "$1")"
	sleep 0.5
	for ((i = 0; i < $2; i++)); do codes="$codes $(request "$1")"; done
	sleep 0.3 # a few lease ticks: nothing more to lease (32 of 40 left)
	echo "$codes"
}

# --- detach_on_exit = true: the unused part of the lease goes back -------------
rcli HSET rl:21:$PLAN tokens $SEED ts "$(now_ms)" >/dev/null
tg_agent_start 30
r0=$(rl 21)
codes=$(use "$KEY_A" 8)
tg_log "consumer 21: $codes"
assert_eq "consumer 21: 8 requests admitted on its lease" 8 "$(grep -o ' 200' <<<"$codes" | wc -l)"
k1=$(bucket 21)
r1=$(rl 21)
assert_eq "no lease while the state was read (kernel bucket granted/consumed)" "$k1" "$(bucket 21)"
read -r granted consumed <<<"$k1"
tg_log "Redis rl:21:$PLAN before: $r0; leased: $r1; kernel: granted $granted consumed $consumed"
lost=$(moved "$r0" "$r1")
assert_eq "the kernel's granted_total is what the Redis bucket lost (net of refill)" \
	"$granted" "$((-lost))"
assert_range "the host holds unused leased tokens" 1 $((LEASE - 1)) $((granted - consumed))

t_stop=$(now_ms)
tg_agent_stop
assert_eq "the agent exits 0 on SIGTERM" 0 "$?"
t_end=$(now_ms)
r2=$(rl 21)
tg_log "Redis rl:21:$PLAN after SIGTERM: $r2"
assert_eq "SIGTERM gave the unused leased tokens back to rl:21:$PLAN (granted - consumed)" \
	$((granted - consumed)) "$(moved "$r1" "$r2")"
assert_range "the Redis bucket was written at shutdown (its ts)" "$t_stop" "$t_end" \
	"$(cut -d' ' -f2 <<<"$r2")"
assert_true "the bucket stays under its cap (nothing given back was clipped)" "$r2" \
	awk -v t="${r2%% *}" -v c=$BURST 'BEGIN { exit !(t + 0 > 0 && t + 0 < c) }'
assert_true "detach_on_exit: no XDP program left on $TG_HOST_IF" "still attached" \
	not tg_xdp_attached "$TG_HOST_IF"
assert_true "the agent logs what it gave back" "$(tail -3 "$TG_AGENT_LOG")" \
	grep -q "gave $((granted - consumed)) leased tokens back to Redis" "$TG_AGENT_LOG"

# --- detach_on_exit = false: the leases stay with the kernel ------------------
config_write false
rcli HSET rl:22:$PLAN tokens $SEED ts "$(now_ms)" >/dev/null
tg_agent_start 30
codes=$(use "$KEY_B" 8)
tg_log "consumer 22: $codes"
assert_eq "consumer 22: 8 requests admitted on its lease" 8 "$(grep -o ' 200' <<<"$codes" | wc -l)"
k1=$(bucket 22)
read -r granted consumed <<<"$k1"
r1=$(rcli HGETALL rl:22:$PLAN | paste -sd' ')
tg_log "Redis rl:22:$PLAN before SIGTERM: $r1; kernel: granted $granted consumed $consumed"
assert_range "the host holds unused leased tokens" 1 $((LEASE - 1)) $((granted - consumed))
tg_agent_stop
assert_eq "the agent exits 0 on SIGTERM" 0 "$?"
assert_eq "without detach_on_exit, rl:22:$PLAN is left as it was" "$r1" \
	"$(rcli HGETALL rl:22:$PLAN | paste -sd' ')"
assert_eq "the kernel's bucket keeps its lease (pinned tg_buckets)" "$k1" "$(bucket 22)"
assert_true "the programs stay attached to $TG_HOST_IF" "detached" tg_xdp_attached "$TG_HOST_IF"
assert_eq "the kernel goes on admitting on what it holds" 200 "$(request "$KEY_B")"
assert_eq "... and counts it against the lease" "$granted $((consumed + 1))" "$(bucket 22)"

tg_summary
