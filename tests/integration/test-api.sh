#!/usr/bin/env bash
# test-api.sh - the dashboard REST API (DESIGN §7) against the real binary,
# a real Postgres and a real Redis:
#   - every route of the routing table (`tollgate-api routes`): success with
#     admin credentials (a consumer's key on consumer-only routes, where the
#     admin gets 404), 401 with bad credentials, 404 for another consumer's
#     key on admin and admin/self routes, 405 with Allow for a wrong method;
#     every POST/PATCH: 400 naming "body" for malformed JSON and the field
#     for a wrong type, 413 for a body over 1 MiB; unknown paths 404;
#   - the routing table and /openapi.json list the same routes, and the
#     document is valid OpenAPI 3.1;
#   - pagination over 250+ consumers: no gaps, no repeats; bad limit 400;
#   - Idempotency-Key: replay, another body 409, replayed key creation 409
#     with the key's id, scoped per caller;
#   - strings with quotes, SQL and unicode round-trip unchanged;
#   - a consumer key sees only its consumer; revoked keys are refused; failed
#     authentications are rate-limited per address (429 + Retry-After);
#   - invoices: amounts as decimal strings plus *_minor; an invoice run is
#     queued once per period and NOTIFYs billing; audit log; metrics.
# Run: BUILD=/abs/build bash tests/integration/test-api.sh (as root).
set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/api_lib.sh"

tg_init api
api_setup --auth-fail-burst 100000 --auth-fail-per-min 100000
api_sample_server # the API's sandbox, for POST /v1/sandbox/requests

# --- fixtures ------------------------------------------------------------------
req "$API_ADMIN" POST /v1/apis '{"name": "orders", "base_path": "/v1/orders", "sandbox_url": "'"$SAMPLE_URL"'",
	"openapi": {"openapi": "3.1.0", "info": {"title": "orders", "version": "1"}, "paths": {}}}' \
	>/dev/null
API_ID=$(jb .id)
req "$API_ADMIN" POST /v1/plans '{"name": "Seed", "currency": "usd", "tiers_mode": "graduated",
	"tiers": [{"up_to": 1000, "unit_price": "0"}, {"up_to": 10000, "unit_price": "0.001"},
	{"up_to": null, "unit_price": "0.0005"}], "rate_per_sec": 100, "api_id": "'"$API_ID"'"}' >/dev/null
PLAN_ID=$(jb .id)
req "$API_ADMIN" POST /v1/consumers '{"name": "Ada", "email": "ada@example.com"}' >/dev/null
C1=$(jb .id)
req "$API_ADMIN" POST /v1/consumers '{"name": "Bo"}' >/dev/null
C2=$(jb .id)
newkey() { # CONSUMER: a key's "id key"
	req "$API_ADMIN" POST "/v1/consumers/$1/keys" "{\"plan_id\": \"$PLAN_ID\"}" >/dev/null
	echo "$(jb .id) $(jb .key)"
}
read -r K1_ID K1 <<<"$(newkey "$C1")"
read -r K2_ID K2 <<<"$(newkey "$C2")"
read -r KREV_ID _ <<<"$(newkey "$C1")"
read -r KROT_ID _ <<<"$(newkey "$C1")"
[ -n "$API_ID" ] && [ -n "$PLAN_ID" ] && [ -n "$C1" ] && [ -n "$C2" ] && [[ "$K1" == tg_1* ]] &&
	[[ "$K2" == tg_1* ]] || tg_fatal "fixtures: $(cat "$TG_DIR/body")"
INV=$(tg_psql "INSERT INTO invoices (consumer_id, period, period_start, period_end, currency,
	total_minor) VALUES ($C1, '2026-10-01', '2026-10-01Z', '2026-11-01Z', 'USD', 1017)
	RETURNING id")
tg_psql "INSERT INTO invoice_lines VALUES
	($INV, 1, $PLAN_ID, 'tier', 0, 'Seed: tier 1', 1000, 0, 0),
	($INV, 2, $PLAN_ID, 'tier', 1, 'Seed: tier 2, units 1001-10000 at 0.001 USD', 9000, 0.001, 900),
	($INV, 3, $PLAN_ID, 'tier', 2, 'Seed: tier 3', 2345, 0.0005, 117)" >/dev/null
tg_psql "INSERT INTO alerts (kind, api_id, opened_at) VALUES ('sla_uptime', $API_ID, now())" >/dev/null

# concrete path, success body and status of each route
concrete() { # PATTERN
	local p=$1
	case "$p" in
	/v1/apis/*) p=${p//\{id\}/$API_ID} ;;
	/v1/plans/*) p=${p//\{id\}/$PLAN_ID} ;;
	/v1/invoices/\{id\}*) p=${p//\{id\}/$INV} ;;
	/v1/consumers/*) p=${p//\{id\}/$C1} ;;
	esac
	case "$p" in
	*/rotate) p=${p//\{key_id\}/$KROT_ID} ;;
	*) p=${p//\{key_id\}/$KREV_ID} ;;
	esac
	echo "$p"
}
body_for() { # METHOD PATTERN
	case "$1 $2" in
	"POST /v1/apis") echo '{"name": "billing", "base_path": "/v1/billing"}' ;;
	"PATCH /v1/apis/{id}") echo '{"deprecated_at": "2026-12-01T00:00:00Z", "sla_p99_ms": 250}' ;;
	"POST /v1/plans") echo '{"name": "Free", "currency": "EUR", "tiers_mode": "volume",
		"tiers": [{"up_to": null, "unit_price": "0"}], "rate_per_sec": 2.5}' ;;
	"POST /v1/consumers") echo '{"name": "Cy"}' ;;
	"POST /v1/consumers/{id}/keys") echo "{\"plan_id\": \"$PLAN_ID\"}" ;;
	"POST /v1/consumers/{id}/keys/{key_id}/rotate") echo '{"grace_period": 3600}' ;;
	"POST /v1/invoices/run") echo '{"period": "2026-10"}' ;;
	"POST /v1/sandbox/requests") echo "{\"api_id\": \"$API_ID\", \"method\": \"GET\", \"path\": \"/v1/ok\"}" ;;
	esac
}
# a body field of the wrong type per POST/PATCH route: "FIELD BODY"
wrong_type() { # METHOD PATTERN
	case "$1 $2" in
	"POST /v1/apis" | "PATCH /v1/apis/{id}") echo 'name {"name": 7}' ;;
	"POST /v1/plans") echo 'tiers[0].up_to {"name": "X", "currency": "USD", "tiers_mode": "graduated",
		"tiers": [{"up_to": "ten", "unit_price": "0"}], "rate_per_sec": 1}' ;;
	"POST /v1/consumers") echo 'email {"name": "X", "email": ["x"]}' ;;
	"POST /v1/consumers/{id}/keys") echo 'plan_id {"plan_id": true}' ;;
	"POST /v1/consumers/{id}/keys/{key_id}/rotate") echo 'grace_period {"grace_period": "1d"}' ;;
	"POST /v1/invoices/run") echo 'period {"period": 202610}' ;;
	"POST /v1/sandbox/requests") echo "method {\"api_id\": \"$API_ID\", \"method\": 7, \"path\": \"/v1/ok\"}" ;;
	esac
}
expect_status() { # METHOD PATTERN -> the success status of the route
	case "$1 $2" in
	"POST /v1/invoices/run") echo 202 ;;
	POST\ /v1/consumers/\{id\}/keys/\{key_id\}/rotate | "POST /v1/apis" | "POST /v1/plans" | \
		"POST /v1/consumers" | "POST /v1/consumers/{id}/keys") echo 201 ;;
	*) echo 200 ;;
	esac
}

head -c $((1024 * 1024 + 10)) /dev/zero | tr '\0' ' ' >"$TG_DIR/big.json"
mapfile -t ROUTES < <("$BUILD/tollgate-api" routes)
assert_ge "the routing table lists the routes" 20 "${#ROUTES[@]}"

# --- every route ------------------------------------------------------------------
for line in "${ROUTES[@]}"; do
	read -r method pattern access <<<"$line"
	path=$(concrete "$pattern")
	what="$method $pattern"
	body=$(body_for "$method" "$pattern")
	if [ "$method" = DELETE ]; then
		# revocation runs last among this key's checks: first the refusals
		:
	fi
	# bad credentials: 401 everywhere, a bearer token or a well-formed unknown key
	assert_eq "$what: bad admin token -> 401" 401 \
		"$(req "not-the-admin-token-0123456789" "$method" "$path" "$body")"
	assert_eq "$what: 401 is an authentication error" authentication "$(jb .error.type)"
	assert_eq "$what: unknown key -> 401" 401 \
		"$(req "x:tg_1AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" "$method" "$path" "$body")"
	# who succeeds: the admin, or on consumer-only routes a consumer's own key
	who=$API_ADMIN
	if [ "$access" = self ]; then
		who=$K1
		assert_eq "$what: the admin on a consumer-only route -> 404" 404 \
			"$(req "$API_ADMIN" "$method" "$path" "$body")"
	fi
	# another consumer's key
	case "$access" in
	anyone | self) ;;
	*) assert_eq "$what: another consumer's key -> 404" 404 \
		"$(req "$K2" "$method" "$path" "$body")"
	   assert_eq "$what: 404 is not_found" not_found "$(jb .error.type)" ;;
	esac
	if [ "$access" != anyone ]; then
		assert_eq "$what: no credentials -> 401" 401 "$(req "" "$method" "$path" "$body")"
	fi
	# wrong method
	status=$(req "$API_ADMIN" PUT "$path")
	allow=$(header Allow)
	assert_eq "$what: PUT -> 405" 405 "$status"
	assert_match "$what: Allow names $method" "(^|, )$method(,|$)" "$allow"
	if [ "$method" = POST ] || [ "$method" = PATCH ]; then
		assert_eq "$what: malformed JSON -> 400" 400 "$(req "$who" "$method" "$path" '{"name": ')"
		assert_eq "$what: malformed JSON names param body" "invalid_request body" \
			"$(jb '.error.type + " " + .error.param')"
		read -r field wrong <<<"$(wrong_type "$method" "$pattern" | tr '\n' ' ')"
		assert_eq "$what: a wrong type -> 400" 400 "$(req "$who" "$method" "$path" "$wrong")"
		assert_eq "$what: the 400 names $field" "$field" "$(jb .error.param)"
		assert_eq "$what: a body over 1 MiB -> 413" 413 \
			"$(req "$who" "$method" "$path" "@$TG_DIR/big.json")"
	fi
	# success
	status=$(req "$who" "$method" "$path" "$body")
	assert_eq "$what: $([ "$access" = self ] && echo "own key" || echo admin) -> $(expect_status "$method" "$pattern")" \
		"$(expect_status "$method" "$pattern")" "$status"
	[ "$status" -lt 300 ] || tg_log "body: $(head -c 300 "$TG_DIR/body")"
done

# the consumer's own key on its routes
assert_eq "self: GET own consumer" 200 "$(req "$K1" GET "/v1/consumers/$C1")"
assert_eq "self: the consumer's name" Ada "$(jb .name)"
assert_eq "self: X-API-Key works too" 200 "$(req "x:$K1" GET "/v1/consumers/$C1/keys")"
assert_eq "self: the key list never shows a raw key" 0 "$(jq '[.data[] | select(has("key"))] | length' "$TG_DIR/body")"
assert_eq "self: own invoice" 200 "$(req "$K1" GET "/v1/invoices/$INV")"
assert_eq "self: another consumer's invoice -> 404" 404 "$(req "$K2" GET "/v1/invoices/$INV")"
assert_eq "self: another consumer's invoices list -> 404" 404 "$(req "$K2" GET "/v1/consumers/$C1/invoices")"
assert_eq "self: an admin list -> 404" 404 "$(req "$K1" GET /v1/consumers)"
assert_eq "self: create own key" 201 "$(req "$K1" POST "/v1/consumers/$C1/keys" "{\"plan_id\": \"$PLAN_ID\"}")"
assert_eq "self: the revoked key is refused" 401 "$(req "$API_ADMIN" DELETE "/v1/consumers/$C1/keys/$K1_ID" >/dev/null; req "$K1" GET "/v1/consumers/$C1")"

# --- invoice shape ---------------------------------------------------------------------
req "$API_ADMIN" GET "/v1/invoices/$INV" >/dev/null
assert_eq "invoice: period, total, total_minor" "2026-10 10.17 1017 draft" \
	"$(jb '[.period, .total, (.total_minor | tostring), .status] | join(" ")')"
assert_eq "invoice: lines with decimal amounts" "0.00 9.00 1.17" "$(jb '[.lines[].amount] | join(" ")')"
assert_eq "invoice: unit prices trimmed" "0 0.001 0.0005" "$(jb '[.lines[].unit_price] | join(" ")')"
assert_eq "invoice list of the consumer" "$INV" \
	"$(req "$API_ADMIN" GET "/v1/consumers/$C1/invoices" >/dev/null; jb '.data[0].id')"
assert_eq "invoice run: asking again answers the pending run" 1 \
	"$(req "$API_ADMIN" POST /v1/invoices/run '{"period": "2026-10"}' >/dev/null
	   tg_psql "SELECT count(*) FROM invoice_runs WHERE period = '2026-10-01'")"
assert_eq "invoice run: a bad period -> 400 period" "400 period" \
	"$(req "$API_ADMIN" POST /v1/invoices/run '{"period": "2026-13"}') $(jb .error.param)"

# --- unknown routes ------------------------------------------------------------------------
for p in /v1/nope /v1/plans/ /v1/plans/abc /v1/plans/007 /v1/consumers/1/keys/x/rotate /v2/apis /; do
	assert_eq "GET $p -> 404" 404 "$(req "$API_ADMIN" GET "$p")"
done
assert_eq "an unknown path's 404 is not_found" not_found "$(jb .error.type)"
assert_eq "a missing object -> 404" 404 "$(req "$API_ADMIN" GET /v1/plans/4000000000)"

# --- the routing table and /openapi.json ---------------------------------------------------
req "" GET /openapi.json >/dev/null
cp "$TG_DIR/body" "$TG_DIR/openapi.json"
table=$(printf '%s\n' "${ROUTES[@]}" | awk '{ print $1, $2 }' | sort)
doc=$(jq -r '.paths | to_entries[] | .key as $p | .value | keys[] | ascii_upcase + " " + $p' \
	"$TG_DIR/openapi.json" | sort)
assert_eq "every route is in /openapi.json and every operation is a route" "$table" "$doc"
assert_eq "openapi is 3.1" 3.1.0 "$(jq -r .openapi "$TG_DIR/openapi.json")"
check=""
for py in python3 "$PYTHON"; do
	check=$("$py" "$TG_LIB_DIR/api_openapi_check.py" "$TG_DIR/openapi.json" 2>&1)
	[[ "$check" == skip* ]] || break
done
if [[ "$check" == skip* ]]; then tg_log "openapi-spec-validator not installed: $check"; else
	assert_eq "openapi-spec-validator accepts the document" valid "$check"; fi

# --- pagination --------------------------------------------------------------------------
tg_psql "INSERT INTO consumers (name) SELECT 'page ' || i FROM generate_series(1, 250) i" >/dev/null
total=$(tg_psql "SELECT count(*) FROM consumers")
after="" pages=0
: >"$TG_DIR/ids"
while :; do
	req "$API_ADMIN" GET "/v1/consumers?limit=100${after:+&starting_after=$after}" >/dev/null
	jb '.data[].id' >>"$TG_DIR/ids"
	pages=$((pages + 1))
	[ "$(jb .has_more)" = true ] || break
	after=$(jb '.data[-1].id')
	[ "$pages" -lt 10 ] || break
done
assert_eq "pagination: every consumer once" "$total" "$(sort -u "$TG_DIR/ids" | wc -l)"
assert_eq "pagination: no repeats" "$(wc -l <"$TG_DIR/ids")" "$(sort -u "$TG_DIR/ids" | wc -l)"
assert_eq "pagination: ascending ids" "$(sort -n "$TG_DIR/ids")" "$(cat "$TG_DIR/ids")"
assert_eq "pagination: same as the database" \
	"$(tg_psql "SELECT id FROM consumers ORDER BY id")" "$(cat "$TG_DIR/ids")"
assert_eq "pagination: 3 pages of 100" 3 "$pages"
for l in 0 101 abc -1; do
	assert_eq "limit=$l -> 400 limit" "400 limit" \
		"$(req "$API_ADMIN" GET "/v1/consumers?limit=$l") $(jb .error.param)"
done
assert_eq "starting_after=x -> 400" "400 starting_after" \
	"$(req "$API_ADMIN" GET "/v1/consumers?starting_after=x") $(jb .error.param)"

# --- Idempotency-Key -----------------------------------------------------------------------
s1=$(req "$API_ADMIN" POST /v1/consumers '{"name": "Idem"}' -H 'Idempotency-Key: k-1')
first=$(cat "$TG_DIR/body")
s2=$(req "$API_ADMIN" POST /v1/consumers '{"name": "Idem"}' -H 'Idempotency-Key: k-1')
assert_eq "idempotency: replay answers the first status" "201 201" "$s1 $s2"
assert_eq "idempotency: replay answers the first body" "$first" "$(cat "$TG_DIR/body")"
assert_eq "idempotency: the replay says so" true "$(header Idempotent-Replayed)"
assert_eq "idempotency: one consumer made" 1 "$(tg_psql "SELECT count(*) FROM consumers WHERE name = 'Idem'")"
assert_eq "idempotency: another body -> 409" "409 conflict Idempotency-Key" \
	"$(req "$API_ADMIN" POST /v1/consumers '{"name": "Other"}' -H 'Idempotency-Key: k-1') $(jb '.error.type + " " + .error.param')"
assert_eq "idempotency: a refused request is not recorded (retry with the same key)" "400 201" \
	"$(req "$API_ADMIN" POST /v1/consumers '{"name": ""}' -H 'Idempotency-Key: k-2') $(req "$API_ADMIN" POST /v1/consumers '{"name": "Later"}' -H 'Idempotency-Key: k-2')"
s1=$(req "$K2" POST "/v1/consumers/$C2/keys" "{\"plan_id\": \"$PLAN_ID\"}" -H 'Idempotency-Key: key-1')
kid=$(jb .id)
n_keys=$(tg_psql "SELECT count(*) FROM api_keys WHERE consumer_id = $C2")
s2=$(req "$K2" POST "/v1/consumers/$C2/keys" "{\"plan_id\": \"$PLAN_ID\"}" -H 'Idempotency-Key: key-1')
assert_eq "idempotency: replayed key creation -> 409" "201 409" "$s1 $s2"
assert_eq "idempotency: the 409 names the key's id, not the key" "conflict $kid null" \
	"$(jb '.error.type + " " + .error.key_id + " " + (.key | tostring)')"
assert_eq "idempotency: no second key" "$n_keys" "$(tg_psql "SELECT count(*) FROM api_keys WHERE consumer_id = $C2")"
assert_eq "idempotency: no raw key stored" 0 \
	"$(tg_psql "SELECT count(*) FROM api_idempotency WHERE body LIKE '%tg\_1%'")"
assert_eq "idempotency: keys are per caller (admin's key-1 is another)" 201 \
	"$(req "$API_ADMIN" POST "/v1/consumers/$C2/keys" "{\"plan_id\": \"$PLAN_ID\"}" -H 'Idempotency-Key: key-1')"

# --- strings round-trip ----------------------------------------------------------------------
nasty=$'O\'Brien "quoted" \\ back; DROP TABLE consumers; -- ünïcødé 日本語 🚀 \t tab'
payload=$(jq -n --arg n "$nasty" --arg e "o'b+\"x\"@example.com" '{name: $n, email: $e}')
assert_eq "strings: create" 201 "$(req "$API_ADMIN" POST /v1/consumers "$payload")"
cid=$(jb .id)
req "$API_ADMIN" GET "/v1/consumers/$cid" >/dev/null
assert_eq "strings: name round-trips unchanged" "$nasty" "$(jb .name)"
assert_eq "strings: email round-trips unchanged" "o'b+\"x\"@example.com" "$(jb .email)"
assert_eq "strings: stored unchanged" "$nasty" "$(tg_psql "SELECT name FROM consumers WHERE id = $cid")"
assert_eq "strings: a NUL is refused" 400 "$(req "$API_ADMIN" POST /v1/consumers '{"name": "a\u0000b"}')"
assert_eq "strings: invalid UTF-8 is refused" 400 "$(req "$API_ADMIN" POST /v1/consumers "$(printf '{"name": "\xff"}')")"
req "$API_ADMIN" PATCH "/v1/apis/$API_ID" "$(jq -n --arg d "$nasty" '{description: $d}')" >/dev/null
assert_eq "strings: API description round-trips" "$nasty" "$(req "" GET "/v1/apis/$API_ID" >/dev/null; jb .description)"

# --- the rest ----------------------------------------------------------------------------
assert_eq "plan: the seed's tiers as stored" '[{"up_to":1000,"unit_price":"0","flat_price":"0"},{"up_to":10000,"unit_price":"0.001","flat_price":"0"},{"up_to":null,"unit_price":"0.0005","flat_price":"0"}]' \
	"$(req "" GET "/v1/plans/$PLAN_ID" >/dev/null; jq -c '[.tiers[] | {up_to, unit_price, flat_price}]' "$TG_DIR/body")"
assert_eq "plan: pricing errors name the tier field" "400 tiers[1].up_to" \
	"$(req "$API_ADMIN" POST /v1/plans '{"name": "Bad", "currency": "USD", "tiers_mode": "graduated",
	"tiers": [{"up_to": 10, "unit_price": "0"}, {"up_to": 5, "unit_price": "0"}, {"up_to": null, "unit_price": "0"}],
	"rate_per_sec": 1}') $(jb .error.param)"
assert_eq "plan: an unknown field is refused by name" "400 colour" \
	"$(req "$API_ADMIN" POST /v1/consumers '{"name": "x", "colour": "red"}') $(jb .error.param)"
assert_eq "catalog: the stored OpenAPI document" orders \
	"$(req "" GET "/v1/apis/$API_ID/openapi" >/dev/null; jb .info.title)"
assert_eq "alerts: ?state=open" "1 sla_uptime" \
	"$(req "$API_ADMIN" GET "/v1/alerts?state=open" >/dev/null; jb '(.data | length | tostring) + " " + .data[0].kind')"
assert_eq "alerts: ?state=bogus -> 400 state" "400 state" "$(req "$API_ADMIN" GET "/v1/alerts?state=bogus") $(jb .error.param)"
req "$API_ADMIN" GET "/v1/audit?limit=100" >/dev/null
assert_match "audit: admin changes are logged" "consumer.create.*plan.create.*key.create.*key.revoke.*key.rotate" \
	"$(jb '[.data[].action] | join(" ")')"
assert_eq "audit: the actor of a self-service key" "consumer:$C2" \
	"$(tg_psql "SELECT actor FROM audit_log WHERE action = 'key.create' AND object = 'key:$kid'")"
req "" GET /healthz >/dev/null
assert_eq "healthz: postgres and redis ok" "ok ok ok" "$(jb '[.status, .checks.postgres.status, .checks.redis.status] | join(" ")')"
req "" GET /metrics >/dev/null
assert_match "metrics: requests by route and status" 'tollgate_api_requests_total\{method="GET",route="/v1/consumers",status="200"\} [0-9]+' "$(cat "$TG_DIR/body")"
assert_match "metrics: latency histogram" 'tollgate_api_request_duration_seconds_bucket\{method="GET",route="/v1/consumers",le="\+Inf"\}' "$(cat "$TG_DIR/body")"

# --- failed authentications are limited per address -----------------------------------------
API_PORT_MAIN=$API_PORT API_BASE_MAIN=$API_BASE
API_PORT=$(tg_free_port)
sed -i "s/^listen = .*/listen = 127.0.0.1:$API_PORT/" "$API_CONF"
API_BASE="http://127.0.0.1:$API_PORT"
api_start --auth-fail-burst 3 --auth-fail-per-min 6
codes=""
for i in 1 2 3 4; do codes+="$(req "bad-token-0123456789abcdef" GET /v1/plans) "; done
assert_eq "limiter: three failures, then 429" "401 401 401 429 " "$codes"
assert_eq "limiter: 429 is rate_limited with Retry-After" "rate_limited yes" \
	"$(jb .error.type) $([ -n "$(header Retry-After)" ] && echo yes)"
assert_eq "limiter: good credentials wait too" 429 "$(req "$API_ADMIN" GET /v1/consumers)"
assert_eq "limiter: no credentials on a public route pass" 200 "$(req "" GET /v1/plans)"
API_BASE=$API_BASE_MAIN
assert_eq "limiter: per server and address; the other server still answers" 200 "$(req "$API_ADMIN" GET /v1/consumers)"

tg_summary
