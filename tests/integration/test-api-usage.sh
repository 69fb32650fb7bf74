#!/usr/bin/env bash
# test-api-usage.sh - the analytics routes and the sandbox of tollgate-api
# (DESIGN §7) over HTTP, against a real Postgres, Redis and sample APIs:
#   - usage series (minute, hour, day, per API), top endpoints and geo of a
#     consumer over rollup rows written here answer exactly the JSON that
#     analytics-driver computes from the same rows (no HTTP), reals printed
#     with 15 digits (0.1 ms is 0.1); the default range is the last 24 h;
#   - SLA, deprecation, realtime and the upcoming invoice equal the driver's;
#   - bad from/to/granularity/limit/window/api_id are 400 naming the
#     parameter; another consumer's usage and an unknown consumer are 404;
#     realtime with Redis stopped is 503, and works again when it returns;
#   - the sandbox sends the request to sandbox_url + path with the caller's
#     key (never the admin token), returns status, headers, body, latency and
#     verdict; answers shaped like the kernel's refusals (bpf/lib/reply.h)
#     are reported as that verdict, look-alikes are not; redirects are not
#     followed; bodies are cut at 64 KiB and made valid UTF-8; a dead or
#     hanging sandbox is "no_response"; input errors are 400 naming the
#     field and send nothing; Idempotency-Key replays without sending again;
#     calls are rate-limited per consumer.
# Run: BUILD=/abs/build bash tests/integration/test-api-usage.sh (as root).
set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/api_lib.sh"

tg_init apiusage
DRIVER="$BUILD/tests/analytics-driver"
[ -x "$DRIVER" ] || tg_fatal "$DRIVER not built (make build/tests/analytics-driver)"
api_setup --auth-fail-burst 100000 --auth-fail-per-min 100000 --sandbox-burst 1000
api_sample_server

# the gateway look-alike sandbox
REFUSAL_PORT=$(tg_free_port)
REFUSAL_LOG="$TG_DIR/refusal-requests.log"
: >"$REFUSAL_LOG"
tg_spawn "$TG_DIR/refusal.out" "$PYTHON" "$TG_LIB_DIR/api_refusal_server.py" --port "$REFUSAL_PORT" \
	--log "$REFUSAL_LOG"
tg_wait_for_line "$TG_DIR/refusal.out" '^ready' 10 "$TG_SPAWNED" || tg_fatal "refusal server did not start"
DEAD_PORT=$(tg_free_port) # nothing listens there

# --- fixtures ------------------------------------------------------------------
mkapi() { # NAME SANDBOX-URL-JSON: the id
	req "$API_ADMIN" POST /v1/apis "{\"name\": \"$1\", \"base_path\": \"/$1\", \"sandbox_url\": $2}" >/dev/null
	jb .id
}
API=$(mkapi orders "\"$SAMPLE_URL\"")
API_GW=$(mkapi gated "\"http://127.0.0.1:$REFUSAL_PORT/\"")
API_NONE=$(mkapi nosandbox null)
API_DEAD=$(mkapi dead "\"http://127.0.0.1:$DEAD_PORT\"")
req "$API_ADMIN" PATCH "/v1/apis/$API" '{"sla_uptime": 99.5, "sla_p99_ms": 200}' >/dev/null
req "$API_ADMIN" POST /v1/plans '{"name": "Seed", "currency": "USD", "tiers_mode": "graduated",
	"tiers": [{"up_to": 1000, "unit_price": "0"}, {"up_to": null, "unit_price": "0.001"}],
	"rate_per_sec": 100}' >/dev/null
PLAN=$(jb .id)
mkconsumer() { # NAME: "id key"
	local id
	req "$API_ADMIN" POST /v1/consumers "{\"name\": \"$1\"}" >/dev/null
	id=$(jb .id)
	req "$API_ADMIN" POST "/v1/consumers/$id/keys" "{\"plan_id\": \"$PLAN\"}" >/dev/null
	echo "$id $(jb .key)"
}
read -r C1 K1 <<<"$(mkconsumer Ada)"
read -r C2 K2 <<<"$(mkconsumer Bo)"
read -r C3 K3 <<<"$(mkconsumer Cy)"
[[ "$K1" == tg_* && "$K2" == tg_* && "$K3" == tg_* && -n "$API" && -n "$API_GW" ]] ||
	tg_fatal "fixtures: $(cat "$TG_DIR/body")"

# rollup rows: T0 is the UTC day two days ago (inside the minute retention);
# every row its own hour, so the minute and day rows are copies of it
T0=$((($(date +%s) / 86400 - 2) * 86400))
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
row() { # HOUR CONSUMER STATUS_CLASS VERDICT METHOD ENDPOINT COUNTRY REQUESTS UNANSWERED HIST LATSUM
	echo "(to_timestamp($((T0 + $1 * 3600))), $2, $PLAN, $API, $3, $4, $5, '$6', '$7', $8, 0, $9, 0,
	${8}00, ${8}000, ${11}, '${10}')"
}
tg_psql "
CREATE TABLE rollup_minute_def PARTITION OF rollup_minute DEFAULT;
CREATE TABLE rollup_hour_def PARTITION OF rollup_hour DEFAULT;
CREATE TABLE rollup_day_def PARTITION OF rollup_day DEFAULT;
INSERT INTO rollup_hour (ts, consumer_id, plan_id, api_id, status_class, verdict, method, endpoint,
	country, requests, summarized, unanswered, unattributed, bytes_in, bytes_out, latency_sum_us, hist)
VALUES $(row 9 "$C1" 2 0 1 /v1/orders US 10 0 '{82,6,100,4}' 1200),
 $(row 10 "$C1" 2 0 1 /v1/orders CA 20 0 '{82,20}' 2000),
 $(row 11 "$C1" 4 0 2 /v1/orders DE 3 0 '{120,3}' 9000),
 $(row 12 "$C1" 5 0 1 '/v1/orders/{id}' JP 2 0 '{140,2}' 30000),
 $(row 13 "$C1" 0 6 1 '/v1/orders/{id}' JP 4 0 '{}' 0),
 $(row 14 "$C1" 0 0 5 '/v1/orders/{id}' '--' 1 1 '{}' 0),
 $(row 33 "$C1" 2 0 1 /v1/orders US 7 0 '{90,7}' 900),
 $(row 10 "$C2" 2 0 1 /v1/other BR 50 0 '{82,50}' 5000);
INSERT INTO rollup_day SELECT to_timestamp(floor(extract(epoch FROM ts) / 86400) * 86400), consumer_id,
	plan_id, api_id, status_class, verdict, method, endpoint, country, requests, summarized,
	unanswered, unattributed, bytes_in, bytes_out, latency_sum_us, hist FROM rollup_hour;
INSERT INTO rollup_minute SELECT ts + interval '5 minutes', consumer_id, plan_id, api_id, status_class,
	verdict, requests, summarized, unanswered, unattributed, bytes_in, bytes_out, latency_sum_us, hist
	FROM rollup_hour;
-- the minute totals, as billing adds them with its minute rows
SELECT tg_minute_totals_rebuild('-infinity', 'infinity');
" >/dev/null || tg_fatal "rollup rows failed"

drv() { "$DRIVER" --dsn "$TG_PG_DSN" "$@"; }
# same_json NAME FILE-A EXPR-A FILE-B EXPR-B: python's equality of the two values
same_json() {
	local out
	out=$("$PYTHON" - "$2" "$3" "$4" "$5" <<-'PY'
		import json, sys
		a = eval(sys.argv[2], {"d": json.load(open(sys.argv[1]))})
		b = eval(sys.argv[4], {"d": json.load(open(sys.argv[3]))})
		print("same" if a == b else "differ:\n  %s\n  %s" % (json.dumps(a)[:600], json.dumps(b)[:600]))
	PY
	)
	assert_eq "$1" same "$out"
}
# http_vs_driver NAME PATH DRIVER-ARGS...: GET PATH (admin) equals the driver's data
http_vs_driver() {
	local name=$1 path=$2
	shift 2
	assert_eq "$name: 200" 200 "$(req "$API_ADMIN" GET "$path")"
	cp "$TG_DIR/body" "$TG_DIR/http.json"
	drv "$@" >"$TG_DIR/drv.json" 2>"$TG_DIR/drv.err" || tg_log "driver: $(cat "$TG_DIR/drv.err")"
	same_json "$name: the same JSON as analytics-driver" "$TG_DIR/http.json" 'd["data"]' \
		"$TG_DIR/drv.json" d
}
F=$(iso "$T0") T=$(iso $((T0 + 86400)))
CU="/v1/consumers/$C1/usage"

# --- usage series, endpoints, geo through HTTP = the driver -------------------------
http_vs_driver "hour series of a day" "$CU?from=$F&to=$T&granularity=hour" \
	usage --consumer "$C1" --from "$F" --to "$T" --granularity hour
assert_eq "... a list of 24 hourly points, never paged" "list false 24 hour $F $T" \
	"$(jq -r '[.object, .has_more, (.data | length), .granularity, .from, .to] | join(" ")' "$TG_DIR/http.json")"
assert_eq "... the requests of the day" 40 "$(jq '[.data[].requests] | add' "$TG_DIR/http.json")"
assert_match "reals are written with 15 digits: 0.1 ms is 0.1" '"p50_ms":0\.1,' "$(cat "$TG_DIR/http.json")"
assert_eq "... never with 17" "" "$(grep -o '0\.1000000000000000[0-9]' "$TG_DIR/http.json")"
http_vs_driver "day series over 4 days" "$CU?from=$(iso $((T0 - 86400)))&to=$(iso $((T0 + 3 * 86400)))&granularity=day" \
	usage --consumer "$C1" --from "$(iso $((T0 - 86400)))" --to "$(iso $((T0 + 3 * 86400)))" --granularity day
http_vs_driver "minute series over 6 hours" "$CU?from=$(iso $((T0 + 8 * 3600)))&to=$(iso $((T0 + 14 * 3600)))&granularity=minute" \
	usage --consumer "$C1" --from "$(iso $((T0 + 8 * 3600)))" --to "$(iso $((T0 + 14 * 3600)))" --granularity minute
assert_eq "... 360 points, the 09:05 minute has its 10 requests" "360 10" \
	"$(jq -r '[(.data | length), (.data[65].requests)] | join(" ")' "$TG_DIR/http.json")"
http_vs_driver "series of one API (api_id)" "$CU?from=$F&to=$T&api_id=$API" \
	usage --consumer "$C1" --api "$API" --from "$F" --to "$T" --granularity hour
http_vs_driver "per-API series, every consumer" "/v1/apis/$API/usage?from=$F&to=$T" \
	usage --api "$API" --from "$F" --to "$T" --granularity hour
assert_eq "... C2's requests are in it" 90 "$(jq '[.data[].requests] | add' "$TG_DIR/http.json")"
EF=$(iso $((T0 + 9 * 3600 + 1800))) ET=$(iso $((T0 + 86400 + 10 * 3600)))
http_vs_driver "top endpoints (hour rows at the edges, day rows inside)" \
	"$CU/endpoints?from=$EF&to=$ET" endpoints --consumer "$C1" --from "$EF" --to "$ET"
assert_eq "... busiest first" "GET /v1/orders 37" \
	"$(jq -r '.data[0] | [.method, .endpoint, .requests] | join(" ")' "$TG_DIR/http.json")"
http_vs_driver "top endpoints, limit=1" "$CU/endpoints?from=$EF&to=$ET&limit=1" \
	endpoints --consumer "$C1" --from "$EF" --to "$ET" --limit 1
assert_eq "... one" 1 "$(jq '.data | length' "$TG_DIR/http.json")"
http_vs_driver "geo" "$CU/geo?from=$EF&to=$ET" geo --consumer "$C1" --from "$EF" --to "$ET"
assert_eq "... countries, busiest first" "CA:20 US:17 JP:6 DE:3 --:1" \
	"$(jq -r '[.data[] | "\(.country):\(.requests)"] | join(" ")' "$TG_DIR/http.json")"
assert_match "default range: the last 24 hours, hourly (25 points unless now is on the hour)" \
	'^200 list 2[45] hour$' "$(req "$K1" GET "$CU") $(jb '[.object, (.data | length), .granularity] | join(" ")')"
assert_eq "... from is 24 h before to" 86400 \
	"$(( $(date -u -d "$(jb .to)" +%s) - $(date -u -d "$(jb .from)" +%s) ))"
assert_eq "an offset, its '+' unencoded or %2B, is read as UTC" "$F $F" \
	"$(req "$K1" GET "$CU?from=$(date -u -d "@$T0" +%Y-%m-%dT02:00:00+02:00)&to=$T" >/dev/null; jb .from) $(
	req "$K1" GET "$CU?from=$(date -u -d "@$T0" +%Y-%m-%dT02:00:00%%2B02:00)&to=$T" >/dev/null; jb .from)"
req "$K1" GET "$CU/geo?from=$EF&to=$ET" >/dev/null
same_json "the consumer's own key sees the same geo" "$TG_DIR/body" d "$TG_DIR/http.json" d

# --- errors ---------------------------------------------------------------------
bad() { # NAME PATH STATUS PARAM
	assert_eq "$1 -> $3 $4" "$3 $4" "$(req "$API_ADMIN" GET "$2") $(jb '.error.param // "-"')"
}
bad "granularity=week" "$CU?granularity=week" 400 granularity
bad "from=yesterday" "$CU?from=yesterday" 400 from
bad "from=2026-02-30T00:00:00Z" "$CU?from=2026-02-30T00:00:00Z" 400 from
bad "to=2026-11-28" "$CU?to=2026-11-28" 400 to
bad "from after to" "$CU?from=$T&to=$F" 400 from
bad "minute series past the minute retention" "$CU?from=2026-01-01T00:00:00Z&to=2026-01-01T01:00:00Z&granularity=minute" 400 granularity
bad "too many minute points" "$CU?from=$(iso $((T0 - 3 * 86400)))&to=$T&granularity=minute" 400 from
bad "limit=0" "$CU/endpoints?limit=0" 400 limit
bad "limit=101" "$CU/endpoints?limit=101" 400 limit
bad "api_id=abc" "$CU?api_id=abc" 400 api_id
bad "an unknown api_id" "$CU?api_id=4000000000" 404 api_id
bad "window=90" "/v1/apis/$API/sla?window=90" 400 window
bad "an unknown consumer" "/v1/consumers/4000000000/usage" 404 -
bad "an unknown API's usage" "/v1/apis/4000000000/usage" 404 -
bad "an unknown API's SLA" "/v1/apis/4000000000/sla" 404 -
assert_eq "another consumer's usage -> 404" "404 404 404 404 404" \
	"$(for p in "" /endpoints /geo /realtime; do printf '%s ' "$(req "$K2" GET "$CU$p")"; done
	req "$K2" GET "/v1/consumers/$C1/invoices/upcoming")"
assert_eq "a consumer cannot read per-API analytics" 404 "$(req "$K1" GET "/v1/apis/$API/usage")"

# --- SLA, deprecation, upcoming invoice, realtime = the driver ------------------
SF=$(iso $((T0 + 8 * 3600))) ST=$(iso $((T0 + 14 * 3600)))
req "$API_ADMIN" GET "/v1/apis/$API/sla?from=$SF&to=$ST&window=3600" >/dev/null
cp "$TG_DIR/body" "$TG_DIR/http.json"
drv sla --api "$API" --from "$SF" --to "$ST" --window 3600 >"$TG_DIR/drv.json"
same_json "SLA: the driver's figures" "$TG_DIR/http.json" '{k: v for k, v in d.items() if k != "object"}' \
	"$TG_DIR/drv.json" d
assert_eq "... api_sla with 6 windows and the targets" "api_sla 6 99.5 200" \
	"$(jq -r '[.object, (.windows | length), .target_uptime, .target_p99_ms] | join(" ")' "$TG_DIR/http.json")"
req "$API_ADMIN" GET "/v1/apis/$API/deprecation" >/dev/null
cp "$TG_DIR/body" "$TG_DIR/http.json"
drv deprecation --api "$API" >"$TG_DIR/drv.json"
same_json "deprecation: the driver's consumers" "$TG_DIR/http.json" 'd["consumers"]' "$TG_DIR/drv.json" 'd["consumers"]'
assert_eq "... api_deprecation, C1 and C2 used it" "api_deprecation 2" \
	"$(jq -r '[.object, (.consumers | length)] | join(" ")' "$TG_DIR/http.json")"
assert_eq "upcoming invoice: 200 for the owner" 200 "$(req "$K1" GET "/v1/consumers/$C1/invoices/upcoming")"
cp "$TG_DIR/body" "$TG_DIR/http.json"
drv upcoming --consumer "$C1" >"$TG_DIR/drv.json"
same_json "upcoming invoice: the driver's invoice" "$TG_DIR/http.json" \
	'{k: v for k, v in d.items() if k not in ("object", "as_of")}' "$TG_DIR/drv.json" \
	'{k: v for k, v in d.items() if k != "as_of"}'
assert_eq "... an invoice, upcoming, this month" "invoice upcoming $(date -u +%Y-%m)" \
	"$(jq -r '[.object, .status, .period] | join(" ")' "$TG_DIR/http.json")"
assert_eq "upcoming invoice: an unknown consumer -> 404" 404 \
	"$(req "$API_ADMIN" GET /v1/consumers/4000000000/invoices/upcoming)"

rcli SET "usage:$C1:$API:$(date -u +%Y%m%d)" 42 >/dev/null
rcli SET "usage:$C1:$API_GW:$(date -u +%Y%m%d)" 7 >/dev/null
assert_eq "realtime: 200" 200 "$(req "$K1" GET "$CU/realtime")"
cp "$TG_DIR/body" "$TG_DIR/http.json"
drv --redis "redis://127.0.0.1:$API_RPORT" realtime --consumer "$C1" >"$TG_DIR/drv.json"
same_json "realtime: the driver's counts" "$TG_DIR/http.json" 'd["apis"]' "$TG_DIR/drv.json" 'd["apis"]'
assert_eq "... today's counts per API" "realtime_usage 49 $API:42 $API_GW:7" \
	"$(jq -r '[.object, .requests, (.apis[] | "\(.api_id):\(.requests)")] | join(" ")' "$TG_DIR/http.json")"
api_redis_stop
codes=""
for i in 1 2 3; do codes+="$(req "$K1" GET "$CU/realtime") "; done
assert_eq "realtime with Redis stopped -> 503 (each time)" "503 503 503 " "$codes"
assert_eq "... internal, with Retry-After" "internal realtime counters unavailable yes" \
	"$(jb '.error.type + " " + .error.message') $([ -n "$(header Retry-After)" ] && echo yes)"
assert_eq "... the rollup routes still answer" 200 "$(req "$K1" GET "$CU")"
api_redis_start
rcli SET "usage:$C1:$API:$(date -u +%Y%m%d)" 43 >/dev/null
codes=""
for i in $(seq 12); do codes+="$(req "$K1" GET "$CU/realtime") "; done
assert_eq "realtime reconnects when Redis returns, on every worker" "$(printf '200 %.0s' $(seq 12))43" \
	"$codes$(jb .requests)"

# --- the sandbox ----------------------------------------------------------------------
sb() { # KEY BODY [CURL-ARGS...]: POST /v1/sandbox/requests
	local key=$1 body=$2
	shift 2
	req "$key" POST /v1/sandbox/requests "$body" "$@"
}
sample_lines() { wc -l <"$SAMPLE_LOG"; }
assert_eq "sandbox: GET /v1/ok" 200 "$(sb "$K1" "{\"api_id\": \"$API\", \"method\": \"GET\", \"path\": \"/v1/ok?x=1&y=%20\"}")"
assert_eq "... the API's status, body and verdict" "200|ok
|admitted|false|$SAMPLE_URL/v1/ok?x=1&y=%20" \
	"$(jb '[(.status | tostring), .body, .verdict, (.body_truncated | tostring), .url] | join("|")')"
assert_eq "... headers in lower case" "text/plain 3" "$(jb '.headers["content-type"] + " " + .headers["content-length"]')"
assert_match "... a latency in ms" '^[0-9]+(\.[0-9]+)?$' "$(jb .latency_ms)"
assert_eq "... the sandbox received it with the caller's key" "GET /v1/ok?x=1&y=%20 $K1" "$(tail -1 "$SAMPLE_LOG")"
assert_eq "sandbox: the key from Authorization: Bearer is sent as X-API-Key" "200 GET /v1/missing $K3 404 admitted" \
	"$(sb "$K3" "{\"api_id\": \"$API\", \"method\": \"GET\", \"path\": \"/v1/missing\"}") $(tail -1 "$SAMPLE_LOG") $(jb '(.status | tostring) + " " + .verdict')"
assert_eq "sandbox: X-API-Key callers too" "200 $K2" \
	"$(sb "x:$K2" "{\"api_id\": \"$API\", \"method\": \"DELETE\", \"path\": \"/v1/ok\"}") $(tail -1 "$SAMPLE_LOG" | cut -d' ' -f3)"
assert_eq "... never the admin token" 0 "$(grep -c -- "$API_ADMIN" "$SAMPLE_LOG")"
assert_eq "sandbox: POST with a body and headers -> the API's 201" "201 created" \
	"$(sb "$K1" "{\"api_id\": \"$API\", \"method\": \"POST\", \"path\": \"/v1/created\",
		\"headers\": {\"X-Trace\": \"abc\", \"Content-Type\": \"text/plain\"}, \"body\": \"hello\"}" >/dev/null
	jb '(.status | tostring) + " " + (.body | rtrimstr("\n"))')"
assert_eq "sandbox: a JSON body is sent as JSON" "201" \
	"$(sb "$K1" "{\"api_id\": \"$API\", \"method\": \"POST\", \"path\": \"/v1/created\", \"body\": {\"a\": [1, 2.5]}}" >/dev/null; jb .status)"
assert_eq "sandbox: the API's 500 is admitted" "500 admitted" \
	"$(sb "$K1" "{\"api_id\": \"$API\", \"method\": \"GET\", \"path\": \"/v1/fail\"}" >/dev/null; jb '(.status | tostring) + " " + .verdict')"
assert_eq "sandbox: HEAD" "200 200 " \
	"$(sb "$K1" "{\"api_id\": \"$API\", \"method\": \"HEAD\", \"path\": \"/v1/ok\"}") $(jb '(.status | tostring) + " " + .body')"
assert_eq "sandbox: a server hanging up is no_response" "200 null no_response yes" \
	"$(sb "$K1" "{\"api_id\": \"$API\", \"method\": \"GET\", \"path\": \"/v1/hangup\"}") $(jb '(.status | tostring) + " " + .verdict') $([ -n "$(jb '.error // empty')" ] && echo yes)"
assert_eq "sandbox: nothing listening is no_response" "200 null no_response" \
	"$(sb "$K1" "{\"api_id\": \"$API_DEAD\", \"method\": \"GET\", \"path\": \"/v1/ok\"}") $(jb '(.status | tostring) + " " + .verdict')"

verdict() { # PATH [METHOD]: "status verdict" of the gateway look-alike's PATH
	sb "$K1" "{\"api_id\": \"$API_GW\", \"method\": \"${2:-GET}\", \"path\": \"$1\"}" >/dev/null
	jb '(.status | tostring) + " " + .verdict'
}
assert_eq "sandbox: the kernel's 429 is refused: over_limit" "429 over_limit" "$(verdict /over_limit)"
assert_eq "... with its RateLimit headers" "1 \"plan\";q=5;w=1" \
	"$(jb '.headers["retry-after"] + " " + .headers["ratelimit-policy"]')"
assert_eq "... the request went to sandbox_url + path with the caller's key" "GET /over_limit $K1" \
	"$(tail -1 "$REFUSAL_LOG")"
assert_eq "sandbox: the kernel's 429 quota_exhausted" "429 quota_exhausted" "$(verdict /quota_exhausted)"
assert_eq "sandbox: the kernel's 401 unknown_key" "401 unknown_key" "$(verdict /unknown_key)"
assert_eq "sandbox: the kernel's 401 revoked_key" "401 revoked_key" "$(verdict /revoked_key)"
assert_eq "sandbox: the kernel's 403 suspended" "403 suspended" "$(verdict /suspended)"
assert_eq "sandbox: the kernel's 403 forbidden_api" "403 forbidden_api" "$(verdict /forbidden_api)"
assert_eq "sandbox: a 429 without the RateLimit fields is the API's own" "429 admitted" "$(verdict /plain429)"
assert_eq "sandbox: a 401 with another body is the API's own" "401 admitted" "$(verdict /app401)"
assert_eq "sandbox: redirects are not followed" "302 admitted /over_limit 1" \
	"$(verdict /redirect) $(jb '.headers.location') $(grep -c '/redirect' "$REFUSAL_LOG")"
assert_eq "... and the target was not asked" 1 "$(grep -c 'GET /over_limit' "$REFUSAL_LOG")"
verdict /big >/dev/null
assert_eq "sandbox: a body over 64 KiB is cut, with the flag" "200 65536 true" \
	"$(jb '(.status | tostring) + " " + (.body | length | tostring) + " " + (.body_truncated | tostring)')"
verdict /binary >/dev/null
assert_eq "sandbox: bytes that are not UTF-8 become U+FFFD" "ok �� end" "$(jb .body)"

n=$(sample_lines)
sbad() { # NAME BODY PARAM [STATUS]
	assert_eq "sandbox input: $1 -> ${4:-400} $3" "${4:-400} $3" "$(sb "$K1" "$2") $(jb '.error.param // "-"')"
}
sbad "method FOO" "{\"api_id\": \"$API\", \"method\": \"FOO\", \"path\": \"/v1/ok\"}" method
sbad "method lower case" "{\"api_id\": \"$API\", \"method\": \"get\", \"path\": \"/v1/ok\"}" method
sbad "a path without /" "{\"api_id\": \"$API\", \"method\": \"GET\", \"path\": \"v1/ok\"}" path
sbad "a path with a space" "{\"api_id\": \"$API\", \"method\": \"GET\", \"path\": \"/v1/o k\"}" path
sbad "a path with a fragment" "{\"api_id\": \"$API\", \"method\": \"GET\", \"path\": \"/v1/ok#x\"}" path
sbad "no path" "{\"api_id\": \"$API\", \"method\": \"GET\"}" path
sbad "no api_id" '{"method": "GET", "path": "/v1/ok"}' api_id
sbad "headers an array" "{\"api_id\": \"$API\", \"method\": \"GET\", \"path\": \"/v1/ok\", \"headers\": [\"a\"]}" headers
sbad "a header not a string" "{\"api_id\": \"$API\", \"method\": \"GET\", \"path\": \"/v1/ok\", \"headers\": {\"X-A\": 1}}" headers.X-A
sbad "a header value with a newline" "{\"api_id\": \"$API\", \"method\": \"GET\", \"path\": \"/v1/ok\", \"headers\": {\"X-A\": \"a\\r\\nHost: evil\"}}" headers.X-A
sbad "a header name with a colon" "{\"api_id\": \"$API\", \"method\": \"GET\", \"path\": \"/v1/ok\", \"headers\": {\"X:A\": \"a\"}}" headers
sbad "Host" "{\"api_id\": \"$API\", \"method\": \"GET\", \"path\": \"/v1/ok\", \"headers\": {\"Host\": \"evil\"}}" headers.Host
sbad "X-API-Key" "{\"api_id\": \"$API\", \"method\": \"GET\", \"path\": \"/v1/ok\", \"headers\": {\"x-api-key\": \"tg_1x\"}}" headers.x-api-key
sbad "Authorization" "{\"api_id\": \"$API\", \"method\": \"GET\", \"path\": \"/v1/ok\", \"headers\": {\"Authorization\": \"Bearer x\"}}" headers.Authorization
sbad "Content-Length" "{\"api_id\": \"$API\", \"method\": \"POST\", \"path\": \"/v1/ok\", \"headers\": {\"Content-Length\": \"5\"}}" headers.Content-Length
sbad "an unknown field" "{\"api_id\": \"$API\", \"method\": \"GET\", \"path\": \"/v1/ok\", \"url\": \"http://x\"}" url
sbad "an unknown API" '{"api_id": "4000000000", "method": "GET", "path": "/v1/ok"}' api_id 404
sbad "an API without sandbox_url" "{\"api_id\": \"$API_NONE\", \"method\": \"GET\", \"path\": \"/v1/ok\"}" api_id
assert_eq "sandbox input errors send nothing" "$n" "$(sample_lines)"
assert_eq "sandbox: the admin cannot call it (no consumer key to send)" 404 \
	"$(sb "$API_ADMIN" "{\"api_id\": \"$API\", \"method\": \"GET\", \"path\": \"/v1/ok\"}")"

s1=$(sb "$K1" "{\"api_id\": \"$API\", \"method\": \"GET\", \"path\": \"/v1/ok?idem\"}" -H 'Idempotency-Key: try-1')
first=$(cat "$TG_DIR/body")
s2=$(sb "$K1" "{\"api_id\": \"$API\", \"method\": \"GET\", \"path\": \"/v1/ok?idem\"}" -H 'Idempotency-Key: try-1')
assert_eq "sandbox: an Idempotency-Key replay answers the first response" "200 200 true" \
	"$s1 $s2 $(header Idempotent-Replayed)"
assert_eq "... the same body" "$first" "$(cat "$TG_DIR/body")"
assert_eq "... and sends nothing again" 1 "$(grep -c 'GET /v1/ok?idem ' "$SAMPLE_LOG")"
assert_eq "... another body with the key -> 409" 409 \
	"$(sb "$K1" "{\"api_id\": \"$API\", \"method\": \"GET\", \"path\": \"/v1/ok?other\"}" -H 'Idempotency-Key: try-1')"

# --- sandbox calls are limited per consumer ----------------------------------------
tg_stop_pid "$API_PID" 5
api_start --sandbox-burst 2 --sandbox-per-min 1
ok_call="{\"api_id\": \"$API\", \"method\": \"GET\", \"path\": \"/v1/ok\"}"
codes="$(sb "$K1" '{"api_id": "1", "method": "FOO", "path": "/"}') "
for i in 1 2 3; do codes+="$(sb "$K1" "$ok_call") "; done
assert_eq "limit: an input error does not count; two calls, then 429" "400 200 200 429 " "$codes"
assert_eq "... rate_limited with Retry-After" "rate_limited yes" \
	"$(jb .error.type) $([ -n "$(header Retry-After)" ] && echo yes)"
assert_eq "... per consumer: another one still calls" 200 "$(sb "$K2" "$ok_call")"

tg_summary
