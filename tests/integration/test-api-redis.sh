#!/usr/bin/env bash
# test-api-redis.sh - key, plan and route changes made through tollgate-api
# reach Redis through the Postgres outbox (DESIGN §7, §8):
#   - a key created through the API is apikey:{digest} with the digest that
#     tollgatectl computes independently from the same secret file, its key
#     id, consumer and plan, and its digest is PUBLISHed on tollgate:keys;
#     plans and routes likewise (plan:{id}, route:{id}, their channels);
#   - billing's partial outbox rows ({digest, suspended}) change only what
#     they name;
#   - with redis-server stopped, a revocation is accepted, waits in the
#     outbox, and is applied (is_active 0) when Redis returns;
#   - rotation: the new key works at once, the old one until its grace
#     period ends, then it is refused and inactive in Redis;
#   - `tollgate-api sync-redis` rebuilds apikey:*, plan:*, route:* from
#     Postgres and deletes what Postgres does not know.
# Run: BUILD=/abs/build bash tests/integration/test-api-redis.sh (as root).
set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/api_lib.sh"

tg_init apiredis
api_setup

subscribe() {
	tg_spawn "$TG_DIR/sub.$1.log" stdbuf -oL redis-cli -p "$API_RPORT" SUBSCRIBE tollgate:keys \
		tollgate:plans tollgate:routes
	SUB_LOG="$TG_DIR/sub.$1.log"
	tg_wait_for_line "$SUB_LOG" '^tollgate:routes' 5 || tg_fatal "redis-cli SUBSCRIBE did not start"
}
# wait_for DESCRIPTION TIMEOUT CMD...: until CMD succeeds
wait_for() {
	local what=$1 timeout=$2 i
	shift 2
	for ((i = 0; i < timeout * 10; i++)); do "$@" && return 0; sleep 0.1; done
	return 1
}
hget() { rcli HGET "$1" "$2"; }
field_is() { [ "$(hget "$1" "$2")" = "$3" ]; }
published() { grep -qx -- "$1" "$SUB_LOG"; }

subscribe 1
req "$API_ADMIN" POST /v1/apis '{"name": "orders", "base_path": "/v1/orders"}' >/dev/null
API_ID=$(jb .id)
ROUTE_ID=$(jb .route_id)
req "$API_ADMIN" POST /v1/plans '{"name": "Seed", "currency": "USD", "tiers_mode": "graduated",
	"tiers": [{"up_to": null, "unit_price": "0.001"}], "rate_per_sec": 2.5, "monthly_quota": 100000,
	"api_id": "'"$API_ID"'"}' >/dev/null
PLAN_ID=$(jb .id)
req "$API_ADMIN" POST /v1/consumers '{"name": "Ada"}' >/dev/null
C1=$(jb .id)
assert_eq "key created" 201 "$(req "$API_ADMIN" POST "/v1/consumers/$C1/keys" "{\"plan_id\": \"$PLAN_ID\"}")"
K1=$(jb .key)
K1_ID=$(jb .id)
D1=$(tg_digest "$K1")
assert_match "tollgatectl computes the digest independently" '^[0-9a-f]{32}$' "$D1"
assert_eq "Postgres holds the digest, never the key" "$D1 0" \
	"$(tg_psql "SELECT digest || ' ' || (SELECT count(*) FROM api_keys WHERE prefix = '$K1') FROM api_keys WHERE id = $K1_ID")"

wait_for "apikey hash" 10 field_is "apikey:$D1" is_active 1
assert_eq "apikey:{digest} has the key id, consumer, plan, active, not suspended" \
	"$K1_ID $C1 $PLAN_ID 1 0" \
	"$(rcli HMGET "apikey:$D1" key_id consumer_id plan_id is_active suspended | tr '\n' ' ' | sed 's/ $//')"
wait_for "publish" 5 published "$D1"
assert_true "the digest was PUBLISHed on tollgate:keys" "$(tail -6 "$SUB_LOG")" published "$D1"
assert_eq "plan:{id} has api_id, rate, burst, quota" "$API_ID 2.5 3 100000" \
	"$(rcli HMGET "plan:$PLAN_ID" api_id rate_per_sec burst monthly_quota | tr '\n' ' ' | sed 's/ $//')"
assert_true "the plan id was PUBLISHed on tollgate:plans" "" grep -qx -- "$PLAN_ID" "$SUB_LOG"
assert_eq "route:{id} maps the API's base path, no flags" "$API_ID /v1/orders ." \
	"$(rcli HMGET "route:$ROUTE_ID" api_id prefix | tr '\n' ' ').$(hget "route:$ROUTE_ID" flags)"
req "$API_ADMIN" PATCH "/v1/apis/$API_ID" '{"deprecated_at": "2026-12-01T00:00:00Z"}' >/dev/null
wait_for "route deprecated" 10 field_is "route:$ROUTE_ID" flags deprecated
assert_eq "deprecating the API flags its route" deprecated "$(hget "route:$ROUTE_ID" flags)"
assert_eq "the outbox is drained" 0 "$(tg_psql "SELECT count(*) FROM outbox WHERE applied_at IS NULL")"

# billing's dunning writes partial rows: only suspended changes
tg_psql "INSERT INTO outbox (kind, payload) VALUES ('key', jsonb_build_object('digest', '$D1',
	'suspended', true, 'key_id', $K1_ID, 'consumer_id', $C1, 'reason', 'payment_failed'))" >/dev/null
wait_for "suspended" 5 field_is "apikey:$D1" suspended 1
assert_eq "a partial row sets suspended and keeps plan_id and is_active" "1 $PLAN_ID 1" \
	"$(rcli HMGET "apikey:$D1" suspended plan_id is_active | tr '\n' ' ' | sed 's/ $//')"

# --- Redis down: a revocation waits in the outbox -------------------------------------------
api_redis_stop
assert_eq "revoking while Redis is down is accepted" 200 \
	"$(req "$API_ADMIN" DELETE "/v1/consumers/$C1/keys/$K1_ID")"
assert_eq "healthz says Redis is down" "503 down" \
	"$(req "" GET /healthz) $(jb .checks.redis.status)"
sleep 2
assert_ge "the revocation waits in the outbox" 1 \
	"$(tg_psql "SELECT count(*) FROM outbox WHERE applied_at IS NULL AND payload->>'digest' = '$D1'")"
req "" GET /metrics >/dev/null
assert_match "metrics count the relay's failures" 'tollgate_api_outbox_failures_total [1-9]' "$(cat "$TG_DIR/body")"
api_redis_start
subscribe 2
wait_for "revocation applied" 15 field_is "apikey:$D1" is_active 0
assert_eq "when Redis returns the revocation is applied (is_active 0)" 0 "$(hget "apikey:$D1" is_active)"
assert_eq "the revoked key's hash is whole (the API's rows carry every field)" "$K1_ID $C1 $PLAN_ID" \
	"$(rcli HMGET "apikey:$D1" key_id consumer_id plan_id | tr '\n' ' ' | sed 's/ $//')"
wait_for "publish" 5 published "$D1"
assert_true "and PUBLISHed" "" published "$D1"
assert_eq "the outbox is drained" 0 "$(tg_psql "SELECT count(*) FROM outbox WHERE applied_at IS NULL")"

# --- rotation with a grace period ------------------------------------------------------------
req "$API_ADMIN" POST "/v1/consumers/$C1/keys" "{\"plan_id\": \"$PLAN_ID\"}" >/dev/null
OLD=$(jb .key) OLD_ID=$(jb .id)
DOLD=$(tg_digest "$OLD")
assert_eq "rotate" 201 "$(req "$OLD" POST "/v1/consumers/$C1/keys/$OLD_ID/rotate" '{"grace_period": 2}')"
NEW=$(jb .key) NEW_ID=$(jb .id)
DNEW=$(tg_digest "$NEW")
assert_eq "the new key replaces the old one" "$OLD_ID" "$(jb .replaces)"
assert_eq "the new key works" 200 "$(req "$NEW" GET "/v1/consumers/$C1")"
assert_eq "the old key works during the grace period" 200 "$(req "$OLD" GET "/v1/consumers/$C1")"
wait_for "new key" 5 field_is "apikey:$DNEW" is_active 1
assert_eq "both keys active in Redis meanwhile" "1 1" "$(hget "apikey:$DOLD" is_active) $(hget "apikey:$DNEW" is_active)"
assert_eq "rotating it again is a conflict" 409 "$(req "$API_ADMIN" POST "/v1/consumers/$C1/keys/$OLD_ID/rotate")"
sleep 2.5
wait_for "old key inactive" 5 field_is "apikey:$DOLD" is_active 0
assert_eq "after the grace period the old key is refused" 401 "$(req "$OLD" GET "/v1/consumers/$C1")"
assert_eq "and inactive in Redis" 0 "$(hget "apikey:$DOLD" is_active)"
assert_eq "its revocation is dated at the end of the grace period" t \
	"$(tg_psql "SELECT revoked_at = expires_at FROM api_keys WHERE id = $OLD_ID")"

# --- sync-redis ---------------------------------------------------------------------------------
rcli FLUSHALL >/dev/null
rcli HSET "apikey:$(printf 'f%.0s' {1..32})" key_id 99 consumer_id 99 plan_id 99 is_active 1 >/dev/null
rcli HSET plan:424242 api_id 0 rate_per_sec 1 >/dev/null
"$BUILD/tollgate-api" --config "$API_CONF" sync-redis >"$TG_DIR/sync.log" 2>&1
assert_eq "sync-redis succeeds" 0 $?
assert_eq "every key of Postgres is in Redis" "$(tg_psql "SELECT count(*) FROM api_keys")" \
	"$(rcli --scan --pattern 'apikey:*' | wc -l)"
assert_eq "every plan" "$(tg_psql "SELECT count(*) FROM plans")" "$(rcli --scan --pattern 'plan:*' | wc -l)"
assert_eq "every route" "$(tg_psql "SELECT count(*) FROM routes")" "$(rcli --scan --pattern 'route:*' | wc -l)"
assert_eq "a hash Postgres does not know is deleted" 0 "$(rcli EXISTS "apikey:$(printf 'f%.0s' {1..32})")"
assert_eq "the rebuilt hashes say the truth" "0 1 0 $PLAN_ID" \
	"$(hget "apikey:$D1" is_active) $(hget "apikey:$DNEW" is_active) $(hget "apikey:$DOLD" is_active) $(hget "apikey:$DNEW" plan_id)"
assert_eq "the suspension is kept (consumers.suspended is billing's)" \
	"$(tg_psql "SELECT CASE WHEN suspended THEN 1 ELSE 0 END FROM consumers WHERE id = $C1")" \
	"$(hget "apikey:$DNEW" suspended)"

tg_summary
