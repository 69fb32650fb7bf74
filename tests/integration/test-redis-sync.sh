#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# test-redis-sync.sh - keys, plans and routes from a real Redis (DESIGN §4,
# §8): a full sync at start, then PUBLISHed changes on tollgate:keys and
# tollgate:plans; revocation and suspension; the miss path; real-time
# counters; a monthly quota; Redis stopped (enforcement goes on from the
# maps) and back empty, then refilled: a new key works and a revocation
# made meanwhile takes effect.
#
# Run: BUILD=/abs/build bash tests/integration/test-redis-sync.sh (as root).
set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tg_init redis
tg_need redis-server
tg_need redis-cli

RPORT=$(tg_free_port)
start_redis() {
	redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no \
		--dir "$TG_DIR" >"$TG_DIR/redis.log" 2>&1 &
	REDIS_PID=$!
	TG_PIDS+=("$REDIS_PID")
	for ((i = 0; i < 50; i++)); do rcli PING >/dev/null 2>&1 && return 0; sleep 0.1; done
	tg_fatal "redis-server did not start"
}
rcli() { redis-cli -p "$RPORT" "$@"; }

tg_topology_up rd
tg_cgroup_up tg-rd
tg_server_up "$(tg_free_port)"
PORT=$TG_PORT
URL="http://$TG_HOST_IP:$PORT"
tg_secrets_up
start_redis
tg_config_write "$PORT" "snapshot_interval = 1" "$(printf '[redis]\nurl = redis://127.0.0.1:%s\n' "$RPORT")"

# Redis as tollgate-api would fill it: one plan, one route, one key
newkey() { "$PYTHON" "$TG_CLIENT_PY" newkey; }
put_key() { # KEY KEY_ID CONSUMER PLAN IS_ACTIVE SUSPENDED
	rcli HSET "apikey:$(tg_digest "$1")" key_id "$2" consumer_id "$3" plan_id "$4" \
		is_active "$5" suspended "$6" >/dev/null
}
rcli HSET plan:7 api_id 1 rate_per_sec 1000 burst 1000 >/dev/null
rcli HSET route:1 api_id 1 prefix /v1 flags "" >/dev/null
K1=$(newkey)
put_key "$K1" 1 10 7 1 0

tg_agent_start 30
ccurl() { tg_client curl -s --max-time 5 -o /dev/null -w '%{http_code}' "$@"; }
# until CODE (or 2 s): PUBLISHed changes take effect within milliseconds
expect_code() { # WHAT CODE KEY [TRIES]
	local got i
	for ((i = 0; i < ${4:-20}; i++)); do
		got=$(ccurl -H "X-API-Key: $3" "$URL/v1/ok")
		[ "$got" = "$2" ] && break
		sleep 0.1
	done
	assert_eq "$1" "$2" "$got"
}

expect_code "a key in Redis at start is admitted" 200 "$K1"
K2=$(newkey)
assert_eq "a key not in Redis is refused" 401 "$(ccurl -H "X-API-Key: $K2" "$URL/v1/ok")"
put_key "$K2" 2 11 7 1 0
rcli PUBLISH tollgate:keys "$(tg_digest "$K2")" >/dev/null
expect_code "a key added and PUBLISHed is admitted" 200 "$K2"

rcli HSET "apikey:$(tg_digest "$K1")" is_active 0 >/dev/null
rcli PUBLISH tollgate:keys "$(tg_digest "$K1")" >/dev/null
expect_code "a revoked key is refused (401)" 401 "$K1"
rcli HSET "apikey:$(tg_digest "$K2")" suspended 1 >/dev/null
rcli PUBLISH tollgate:keys "$(tg_digest "$K2")" >/dev/null
expect_code "a suspended consumer is refused (403)" 403 "$K2"
rcli HSET "apikey:$(tg_digest "$K2")" suspended 0 >/dev/null
rcli PUBLISH tollgate:keys "$(tg_digest "$K2")" >/dev/null
expect_code "... and admitted again when reinstated" 200 "$K2"

# a plan change: plan 7 now covers API 2 only, so API 1 is forbidden
rcli HSET plan:7 api_id 2 >/dev/null
rcli PUBLISH tollgate:plans 7 >/dev/null
expect_code "a plan PUBLISHed with another API: forbidden_api (403)" 403 "$K2"
rcli HSET plan:7 api_id 1 >/dev/null
rcli PUBLISH tollgate:plans 7 >/dev/null
expect_code "... and back" 200 "$K2"

tg_log "the miss path"
KM=$(newkey)
put_key "$KM" 5 14 7 1 0 # in Redis, never PUBLISHed: the kernel does not know it
assert_eq "a key the kernel does not know yet: refused first" 401 \
	"$(ccurl -H "X-API-Key: $KM" "$URL/v1/ok")"
expect_code "... then found through the miss path and admitted" 200 "$KM"
KN=$(newkey)
assert_eq "a key Redis does not know either: 401" 401 "$(ccurl -H "X-API-Key: $KN" "$URL/v1/ok")"
neg=""
for ((i = 0; i < 20; i++)); do
	neg=$(tg_ctl keys --json | "$PYTHON" -c 'import json, sys
print([k["state"] for k in json.load(sys.stdin) if k["digest"] == sys.argv[1]])' "$(tg_digest "$KN")")
	[ "$neg" = "['negative']" ] && break
	sleep 0.1
done
assert_eq "... and a negative entry for it in tg_keys" "['negative']" "$neg"
put_key "$KN" 6 15 7 1 0
rcli PUBLISH tollgate:keys "$(tg_digest "$KN")" >/dev/null
expect_code "a PUBLISH replaces the negative entry: admitted" 200 "$KN"

tg_log "real-time counters"
day=$(date -u +%Y%m%d)
for ((i = 0; i < 5; i++)); do ccurl -H "X-API-Key: $K2" "$URL/v1/ok" >/dev/null; done
kernel_requests() { # CONSUMER: the kernel's admitted count for API 1
	tg_ctl counters --json | "$PYTHON" -c 'import json, sys
print(sum(r["requests"] for r in json.load(sys.stdin) if r["consumer_id"] == sys.argv[1] and r["api_id"] == "1"))' "$1"
}
for ((i = 0; i < 50; i++)); do
	[ "$(rcli GET "usage:11:1:$day")" = "$(kernel_requests 11)" ] && break
	sleep 0.2
done
assert_eq "usage:11:1:$day = the kernel's admitted count of consumer 11" \
	"$(kernel_requests 11)" "$(rcli GET "usage:11:1:$day")"
assert_eq "usage:10:1:$day = the kernel's count of consumer 10 (its refusals not counted)" \
	"$(kernel_requests 10)" "$(rcli GET "usage:10:1:$day")"
ttl=$(rcli TTL "usage:11:1:$day")
assert_true "... with a 40-day TTL ($ttl s)" "ttl $ttl" test "$ttl" -gt $((39 * 86400))
stamp=$(rcli GET lastused:2)
assert_true "lastused:2 holds the time of the key's latest request ($stamp)" "stamp '$stamp'" \
	test "${stamp:-0}" -ge $(($(date +%s) - 120))

tg_log "monthly quota"
rcli HSET plan:8 api_id 1 rate_per_sec 1000 burst 1000 monthly_quota 6 >/dev/null
rcli PUBLISH tollgate:plans 8 >/dev/null
KQ=$(newkey)
put_key "$KQ" 4 13 8 1 0
rcli PUBLISH tollgate:keys "$(tg_digest "$KQ")" >/dev/null
expect_code "a key on a plan with a quota of 6 a month is admitted" 200 "$KQ"
for ((i = 0; i < 5; i++)); do ccurl -H "X-API-Key: $KQ" "$URL/v1/ok" >/dev/null; done
# quotas are looked at every 5 s: up to 10 s of requests until the flag is set
expect_code "over its quota: 429" 429 "$KQ" 100
body=$(tg_client curl -s --max-time 5 -D "$TG_DIR/quota.h" -H "X-API-Key: $KQ" "$URL/v1/ok")
assert_eq "... answered quota_exhausted" '{"error":"quota_exhausted"}' "$body"
retry=$(awk 'tolower($1) == "retry-after:" { print $2 + 0 }' "$TG_DIR/quota.h")
assert_true "... with Retry-After up to the next month ($retry s)" "Retry-After $retry" \
	test "${retry:-0}" -gt 0 -a "${retry:-0}" -le $((31 * 86400))
rcli HSET plan:8 monthly_quota 1000 >/dev/null
rcli PUBLISH tollgate:plans 8 >/dev/null
expect_code "a quota raised in Redis: admitted again" 200 "$KQ" 100

tg_log "Redis stopped"
kill "$REDIS_PID"
wait "$REDIS_PID" 2>/dev/null
expect_code "Redis down: an admitted key still admitted" 200 "$K2"
expect_code "Redis down: a revoked key still refused" 401 "$K1"
assert_true "the agent keeps running" "agent gone" kill -0 "$TG_AGENT_PID"

tg_log "Redis back, empty (a restarted cache), then refilled with a revocation made meanwhile"
start_redis
sleep 2
expect_code "an empty Redis does not revoke every key" 200 "$K2"
# what tollgate-api's outbox relay writes back: K2 was revoked while Redis was
# away (no PUBLISH reaches the agent for it), K3 is new
rcli HSET plan:7 api_id 1 rate_per_sec 1000 burst 1000 >/dev/null
rcli HSET route:1 api_id 1 prefix /v1 >/dev/null
put_key "$K2" 2 11 7 0 0
K3=$(newkey)
put_key "$K3" 3 12 7 1 0
rcli PUBLISH tollgate:keys "$(tg_digest "$K3")" >/dev/null
expect_code "after the reconnection a new key is admitted" 200 "$K3"
# the empty Redis is looked at again every 5 s: then the full sync applies it
expect_code "the revocation made while Redis was away takes effect" 401 "$K2" 100
up=$(curl -s "http://127.0.0.1:$TG_METRICS_PORT/metrics" | awk '$1 == "tollgate_redis_up" { print $2 }')
assert_eq "metrics: tollgate_redis_up" 1 "$up"

tg_summary
