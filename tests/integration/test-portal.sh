#!/usr/bin/env bash
# test-portal.sh - the developer portal (/portal/, DESIGN §7) in a real browser:
# playwright-core (npm, tests/portal/) driving Debian's Chromium headless
# against the real tollgate-api, a real Postgres and Redis with seeded usage
# rollups, and real sandbox backends (http_server.py; api_refusal_server.py
# answering byte for byte as the gateway's kernel does for an over-limit call):
#   - over HTTP: /portal redirects to /portal/; the assets come from the binary
#     with their Content-Type, ETag (304 on If-None-Match), the
#     Content-Security-Policy and the other security headers; unknown files
#     404, other methods 405; no portal path in /openapi.json; no inline
#     script, style attribute or innerHTML in the assets;
#   - in the browser (tests/portal/portal.test.mjs): the catalog with
#     deprecation and sunset marked, API output shown as text (no markup
#     runs); sign-in with a bad key (an error in plain words) and a good one
#     (the key in session storage only); the usage dashboard's totals, top
#     endpoints, countries and today's counts equal the API's for the same
#     range, for two ranges picked in the form; a key created and shown once,
#     then revoked; an API's reference and "try it" through the sandbox
#     (admitted, and refused over the limit); an invoice's lines and total;
#     the admin's alerts, SLA status and consumers; every control labelled;
#   - every page fails the test on a console error, an uncaught exception or
#     a failed or 4xx/5xx request it did not cause on purpose;
#   - screenshots at laptop and phone widths in results/portal/.
# Run: BUILD=/abs/build bash tests/integration/test-portal.sh (as root).
set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/api_lib.sh"

PORTAL_TESTS="$TG_ROOT/tests/portal"
PORTAL_RESULTS="$TG_ROOT/results/portal"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

tg_init portal
tg_need node npm
[ -x "$CHROMIUM" ] || tg_fatal "$CHROMIUM not found (scripts/deps.sh installs Debian's chromium)"

# playwright-core from the committed lock file; never a browser download
if [ ! -f "$PORTAL_TESTS/node_modules/playwright-core/package.json" ] ||
	[ "$PORTAL_TESTS/package-lock.json" -nt "$PORTAL_TESTS/node_modules/.package-lock.json" ]; then
	tg_log "npm install in tests/portal"
	(cd "$PORTAL_TESTS" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund \
		--loglevel=error) >"$TG_DIR/npm.log" 2>&1 || tg_fatal "npm install failed: $(tail -5 "$TG_DIR/npm.log")"
fi

api_setup --auth-fail-burst 100000 --auth-fail-per-min 100000 --sandbox-burst 1000
api_sample_server
REFUSAL_PORT=$(tg_free_port)
REFUSAL_LOG="$TG_DIR/refusal-requests.log"
: >"$REFUSAL_LOG"
tg_spawn "$TG_DIR/refusal.out" "$PYTHON" "$TG_LIB_DIR/api_refusal_server.py" --port "$REFUSAL_PORT" \
	--log "$REFUSAL_LOG"
tg_wait_for_line "$TG_DIR/refusal.out" '^ready' 10 "$TG_SPAWNED" || tg_fatal "refusal server did not start"

# --- the portal over HTTP ----------------------------------------------------------
CSP="default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
assert_eq "/portal redirects to /portal/" "308 /portal/" "$(req "" GET /portal) $(header Location)"
assert_eq "/portal/ is the page" "200 text/html; charset=utf-8" "$(req "" GET /portal/) $(header Content-Type)"
assert_eq "... with the Content-Security-Policy" "$CSP" "$(header Content-Security-Policy)"
assert_eq "... nosniff, no referrer, no framing" "nosniff no-referrer DENY" \
	"$(header X-Content-Type-Options) $(header Referrer-Policy) $(header X-Frame-Options)"
assert_eq "... revalidated through its ETag" "no-cache" "$(header Cache-Control)"
etag=$(header ETag)
assert_match "... a quoted ETag" '^"[0-9a-f]{20}"$' "$etag"
assert_eq "If-None-Match with it -> 304" 304 "$(req "" GET /portal/ "" -H "If-None-Match: $etag")"
assert_eq "/portal/index.html is the same page" "200 $etag" "$(req "" GET /portal/index.html) $(header ETag)"
assert_eq "a module is JavaScript" "200 text/javascript; charset=utf-8" "$(req "" GET /portal/app.js) $(header Content-Type)"
assert_eq "... the file of the source tree, built in" \
	"$(sha256sum <"$TG_ROOT/dashboard-api/portal/app.js")" "$(sha256sum <"$TG_DIR/body")"
assert_eq "... under the same policy" "$CSP" "$(header Content-Security-Policy)"
assert_eq "the style sheet is CSS" "200 text/css; charset=utf-8" "$(req "" GET /portal/style.css) $(header Content-Type)"
assert_eq "HEAD works" 200 "$(req "" HEAD /portal/style.css "" -I)"
for p in /portal/nope.js /portal/portal.c /portal/sub/app.js /portal/.hidden "/portal/../openapi.json"; do
	assert_eq "GET $p -> 404" 404 "$(req "" GET "$p" "" --path-as-is)"
done
assert_eq "a 404 under /portal/ carries the policy too" "$CSP" "$(header Content-Security-Policy)"
assert_eq "POST /portal/ -> 405 with Allow" "405 GET, HEAD" "$(req "" POST /portal/ '{}') $(header Allow)"
assert_eq "/portalx is not the portal" 404 "$(req "" GET /portalx)"
req "" GET /openapi.json >/dev/null
assert_eq "/openapi.json has no portal path" 0 "$(jq '[.paths | keys[] | select(startswith("/portal"))] | length' "$TG_DIR/body")"
assert_eq "the routing table has no portal route" 0 "$("$BUILD/tollgate-api" routes | grep -c portal)"
assert_eq "index.html: every script is a file (no inline script)" 0 \
	"$(grep -iE '<script' "$TG_ROOT/dashboard-api/portal/index.html" | grep -vc 'src=')"
assert_eq "no style attribute, inline handler or innerHTML in the assets" "" \
	"$(grep -nE 'style=|innerHTML|outerHTML|insertAdjacentHTML|document\.write| on[a-z]+="' "$TG_ROOT"/dashboard-api/portal/* | head -3)"
assert_eq "no asset from another origin" "" \
	"$(grep -noE '(src|href)="(https?:)?//[^"]*"|@import|url\(' "$TG_ROOT"/dashboard-api/portal/* | head -3)"

# --- fixtures ---------------------------------------------------------------------------
mkapi() { # JSON: the new API's id
	req "$API_ADMIN" POST /v1/apis "$1" >/dev/null
	jb .id
}
ORDERS_DOC=$(cat <<-'EOF'
	{"openapi": "3.1.0", "info": {"title": "Orders", "version": "2.1.0", "description": "Orders of the shop."},
	 "paths": {
	  "/v1/ok": {"get": {"summary": "Health of the orders service", "operationId": "ok",
	    "parameters": [{"name": "verbose", "in": "query", "required": false, "description": "more detail",
	      "schema": {"type": "boolean"}}],
	    "responses": {"200": {"description": "the service is up", "content": {"text/plain": {"schema": {"type": "string"}, "example": "ok\n"}}}}}},
	  "/v1/orders/{id}": {"parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "example": 7}}],
	    "get": {"summary": "One order", "responses": {"200": {"description": "the order",
	      "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Order"}}}},
	      "404": {"description": "no such order"}}}},
	  "/v1/created": {"post": {"summary": "Create an order", "requestBody": {"required": true,
	    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Order"},
	      "example": {"item": "tea", "quantity": 2}}}},
	    "responses": {"201": {"description": "created"}, "429": {"description": "over the rate limit"}}}}},
	 "components": {"schemas": {"Order": {"type": "object", "required": ["item"], "properties": {
	   "id": {"type": "integer", "description": "the order's id"}, "item": {"type": "string", "description": "what was ordered"},
	   "quantity": {"type": "integer", "minimum": 1}}}}}}
	EOF
)
API=$(mkapi "$(jq -n --arg url "$SAMPLE_URL" --argjson doc "$ORDERS_DOC" '{name: "Orders", version: "2",
	base_path: "/v1", description: "Place and track orders.", sandbox_url: $url, sla_uptime: 99.5,
	sla_p99_ms: 250, openapi: $doc}')")
API_GW=$(mkapi "$(jq -n --arg url "http://127.0.0.1:$REFUSAL_PORT" '{name: "Gated", version: "1",
	base_path: "/gated", description: "An API behind a busy gateway.", sandbox_url: $url,
	deprecated_at: "2025-01-15T00:00:00Z", sunset_at: "2099-06-30T00:00:00Z",
	openapi: {openapi: "3.1.0", info: {title: "Gated", version: "1"}, paths: {"/over_limit": {get: {summary: "Always over the limit", responses: {"429": {description: "refused"}}}}}}}')")
API_XSS=$(mkapi "$(jq -n '{name: "Legacy <script>alert(1)</script>", version: "0.9", base_path: "/legacy",
	description: "<img src=x onerror=alert(2)> old & retired", sunset_at: "2025-12-31T00:00:00Z"}')")
req "$API_ADMIN" POST /v1/plans "$(jq -n --arg api "$API" '{name: "Starter", currency: "USD", tiers_mode: "graduated",
	tiers: [{up_to: 100, unit_price: "0"}, {up_to: null, unit_price: "0.002"}], rate_per_sec: 100, api_id: $api}')" >/dev/null
PLAN=$(jb .id)
req "$API_ADMIN" POST /v1/plans '{"name": "Everything", "currency": "USD", "tiers_mode": "volume",
	"tiers": [{"up_to": null, "unit_price": "0.001"}], "rate_per_sec": 10}' >/dev/null
PLAN2=$(jb .id)
mkconsumer() { # NAME EMAIL: "id key key_id"
	local id
	req "$API_ADMIN" POST /v1/consumers "{\"name\": \"$1\", \"email\": \"$2\"}" >/dev/null
	id=$(jb .id)
	req "$API_ADMIN" POST "/v1/consumers/$id/keys" "{\"plan_id\": \"$PLAN\"}" >/dev/null
	echo "$id $(jb .key) $(jb .id)"
}
read -r C1 K1 K1_ID <<<"$(mkconsumer Ada ada@example.com)"
read -r C2 K2 _ <<<"$(mkconsumer Bo bo@example.com)"
[[ "$K1" == tg_* && "$K2" == tg_* && -n "$API" && -n "$API_GW" && -n "$API_XSS" && -n "$PLAN2" ]] ||
	tg_fatal "fixtures: $(cat "$TG_DIR/body")"
# a second, older key of Ada's, so the list has more than one
req "$API_ADMIN" POST "/v1/consumers/$C1/keys" "{\"plan_id\": \"$PLAN2\"}" >/dev/null
tg_psql "UPDATE api_keys SET last_used_at = now() - interval '3 hours' WHERE id = $K1_ID" >/dev/null

# usage rollups: hours before the current one (H-N), all but one within the
# last 24 hours; minute rows are copies 5 minutes into the hour, day rows the sums
tg_psql "
CREATE TABLE rollup_minute_def PARTITION OF rollup_minute DEFAULT;
CREATE TABLE rollup_hour_def PARTITION OF rollup_hour DEFAULT;
CREATE TABLE rollup_day_def PARTITION OF rollup_day DEFAULT;
INSERT INTO rollup_hour (ts, consumer_id, plan_id, api_id, status_class, verdict, method, endpoint,
	country, requests, summarized, unanswered, unattributed, bytes_in, bytes_out, latency_sum_us, hist)
SELECT date_trunc('hour', now()) - make_interval(hours => h), c, $PLAN, $API, sc, v, m, e, co, n, 0, u, 0,
	n * 300, n * 2000, n * 1500, hist::bigint[]
FROM (VALUES
	(0, $C1, 2, 0, 1, '/v1/orders', 'US', 6, 0, '{82,6}'),
	(2, $C1, 2, 0, 1, '/v1/orders', 'US', 120, 0, '{82,100,100,20}'),
	(3, $C1, 2, 0, 1, '/v1/orders/{id}', 'CA', 40, 0, '{90,40}'),
	(4, $C1, 2, 0, 2, '/v1/orders', 'GB', 25, 0, '{95,25}'),
	(5, $C1, 4, 0, 2, '/v1/orders', 'DE', 12, 0, '{120,12}'),
	(7, $C1, 5, 0, 1, '/v1/orders/{id}', 'JP', 3, 0, '{140,3}'),
	(8, $C1, 0, 6, 1, '/v1/orders', 'US', 9, 0, '{}'),
	(10, $C1, 0, 0, 1, '/v1/orders/{id}', '--', 1, 1, '{}'),
	(30, $C1, 2, 0, 1, '/v1/orders', 'FR', 77, 0, '{82,77}'),
	(2, $C2, 2, 0, 1, '/v1/other', 'BR', 50, 0, '{82,50}')
) AS s (h, c, sc, v, m, e, co, n, u, hist);
INSERT INTO rollup_day (ts, consumer_id, plan_id, api_id, status_class, verdict, method, endpoint,
	country, requests, summarized, unanswered, unattributed, bytes_in, bytes_out, latency_sum_us, hist)
SELECT date_trunc('day', ts), consumer_id, plan_id, api_id, status_class, verdict, method, endpoint,
	country, sum(requests), sum(summarized), sum(unanswered), sum(unattributed), sum(bytes_in),
	sum(bytes_out), sum(latency_sum_us), tg_hist_sum(hist)
FROM rollup_hour GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9;
INSERT INTO rollup_minute (ts, consumer_id, plan_id, api_id, status_class, verdict, requests, summarized,
	unanswered, unattributed, bytes_in, bytes_out, latency_sum_us, hist)
SELECT ts + interval '5 minutes', consumer_id, plan_id, api_id, status_class, verdict, sum(requests),
	sum(summarized), sum(unanswered), sum(unattributed), sum(bytes_in), sum(bytes_out),
	sum(latency_sum_us), tg_hist_sum(hist)
FROM rollup_hour GROUP BY 1, 2, 3, 4, 5, 6;
-- the minute totals, as billing adds them with its minute rows
SELECT tg_minute_totals_rebuild('-infinity', 'infinity');
" >/dev/null || tg_fatal "rollup rows failed"
rcli SET "usage:$C1:$API:$(date -u +%Y%m%d)" 131 >/dev/null
rcli SET "usage:$C1:$API_GW:$(date -u +%Y%m%d)" 4 >/dev/null

# an invoice of last month with its tier lines; an open and a resolved alert
PREV_START=$(date -u -d "$(date -u +%Y-%m-01) -1 month" +%Y-%m-01)
INV=$(tg_psql "INSERT INTO invoices (consumer_id, period, period_start, period_end, currency,
	total_minor, status) VALUES ($C1, '$PREV_START', '${PREV_START}Z', '$(date -u +%Y-%m-01)Z', 'USD', 1835,
	'finalized') RETURNING id")
tg_psql "INSERT INTO invoice_lines VALUES
	($INV, 1, $PLAN, 'tier', 0, 'Starter: tier 1, units 1-100 free', 100, 0, 0),
	($INV, 2, $PLAN, 'tier', 1, 'Starter: tier 2, units 101-9275 at 0.002 USD', 9175, 0.002, 1835)" >/dev/null ||
	tg_fatal "invoice rows failed"
tg_psql "UPDATE invoices SET reconciliation = '{\"status\": \"ok\", \"checked_at\": \"${PREV_START}T00:00:00Z\",
	\"tolerance_pct\": 0.5, \"apis\": [{\"api_id\": \"$API\", \"postgres\": 9275, \"redis\": 9275,
	\"kernel\": 9276, \"ok\": true}]}' WHERE id = $INV" >/dev/null
tg_psql "INSERT INTO alerts (kind, api_id, opened_at, details, state, resolved_at) VALUES
	('sla_uptime', $API, now() - interval '2 hours', '{\"uptime\": 97.5, \"target\": 99.5}', 'open', NULL),
	('sla_latency', $API, now() - interval '3 days', '{}', 'resolved', now() - interval '2 days')" >/dev/null ||
	tg_fatal "alert rows failed"

# --- the browser ------------------------------------------------------------------------
rm -rf "$PORTAL_RESULTS"
mkdir -p "$PORTAL_RESULTS"
export PORTAL_BASE="$API_BASE" PORTAL_KEY="$K1" PORTAL_CONSUMER="$C1" PORTAL_OTHER_CONSUMER="$C2" \
	PORTAL_ADMIN="$API_ADMIN" PORTAL_API="$API" PORTAL_API_GATED="$API_GW" PORTAL_API_XSS="$API_XSS" \
	PORTAL_INVOICE="$INV" PORTAL_RESULTS PORTAL_CHROMIUM="$CHROMIUM" PORTAL_TMP="$TG_DIR"
tg_log "browser: node tests/portal/portal.test.mjs"
timeout 600 node "$PORTAL_TESTS/portal.test.mjs" 2>&1 | tee "$TG_DIR/portal-test.out"
rc=${PIPESTATUS[0]}
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$TG_DIR/portal-test.out" | tail -1)
if [[ "$summary" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
	TG_PASSED=$((TG_PASSED + BASH_REMATCH[1]))
	TG_FAILED=$((TG_FAILED + BASH_REMATCH[2]))
fi
assert_eq "the browser test ran to its end" "0 yes" "$rc $([ -n "$summary" ] && echo yes)"

# --- what the browser did, seen from the servers ---------------------------------------------
assert_ge "try it reached the sandbox with the consumer's key" 1 \
	"$(grep -c "^GET /v1/ok $K1\$" "$SAMPLE_LOG")"
assert_ge "... and the refusing sandbox too" 1 "$(grep -c "^GET /over_limit $K1\$" "$REFUSAL_LOG")"
assert_eq "the API server never logged the key" 0 "$(cat "$TG_DIR"/api.*.log | grep -c -- "$K1")"
assert_eq "the key the browser created is revoked" 1 \
	"$(tg_psql "SELECT count(*) FROM api_keys WHERE consumer_id = $C1 AND revoked_at IS NOT NULL")"
assert_ge "screenshots saved" 10 "$(find "$PORTAL_RESULTS" -name '*.png' | wc -l)"
tg_log "screenshots in $PORTAL_RESULTS"

tg_summary
