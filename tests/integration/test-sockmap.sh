#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# test-sockmap.sh - sockmap mode (DESIGN §3, docs/sockmap.md): nginx from
# Debian terminates TLS (a self-signed certificate made here) and proxies to a
# real API server on loopback, both in agent.cgroup; tollgate-agent in
# sockmap mode with its refusal responder as nginx's backup upstream, in
# exactly the nginx configuration of docs/sockmap.md. Clients are in their own
# namespace, so their address differs from the proxy's.
#
#   1. a consumer over its plan (burst 5, no refill) on one kept-alive TLS
#      connection: 5 × 200, then 429 with Retry-After and RateLimit fields;
#      the API server receives exactly the 5 admitted requests
#   2. admitted requests: one event each, client_ip = the client's address
#      (X-Real-IP from nginx), not the proxy's
#   3. unknown and missing keys: 401 from the responder, nothing reaches the
#      server; a request the kernel did not refuse gets 503 from the responder
#   4. keep-alive upstream: 60 requests, all admitted, one event each, over a
#      few upstream connections; a public route over them charges nobody
#   5. 5 MiB responses, written and sent with sendfile(2), arrive intact
#   6. a proxy's own writes: two GETs and a POST (whose body looks like a
#      request) pipelined in one write are charged as three requests with
#      their own X-Forwarded-For addresses; a head split over three writes is
#      one request; bodies (Content-Length, chunked) whose writes begin like
#      requests are body; a refused write fails with EACCES
#  6b. the HAProxy backend of docs/sockmap.md: 429, 401 and 200 as above
#   7. mode = both: XDP for direct clients and sk_msg for proxied ones share
#      one bucket per consumer
#
# Run: BUILD=/abs/build bash tests/integration/test-sockmap.sh (as root).
set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tg_init sockmap
[ -x "$BUILD/tollgate-agent" ] && [ -x "$BUILD/tollgatectl" ] ||
	tg_fatal "$BUILD/tollgate-agent and $BUILD/tollgatectl must be built (make)"
tg_need nginx haproxy openssl sha256sum
NGINX=$(command -v nginx)
PROXY_CLIENT="$TG_ROOT/tests/integration/proxy_client.py"
DOC="$TG_ROOT/docs/sockmap.md"

tg_topology_up tg
tg_cgroup_up tg-sockmap
tg_server_up "$(tg_free_port)"
APP_PORT=$TG_PORT
TLS_PORT=$(tg_free_port)
RESP_PORT=$(tg_free_port)
tg_secrets_up

# --- nginx: the snippet of docs/sockmap.md, with this test's ports and files
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=api.test -days 1 \
	-keyout "$TG_DIR/api.key" -out "$TG_DIR/api.crt" >/dev/null 2>&1 ||
	tg_fatal "openssl could not make a certificate"
snippet=$(tg_sockmap_nginx_snippet "$APP_PORT" "$RESP_PORT" "$TG_DIR/api.crt" "$TG_DIR/api.key")
snippet=${snippet//listen 443 ssl/listen $TG_HOST_IP:$TLS_PORT ssl}
NGX=$TG_DIR/nginx
{ tg_nginx_conf_head "$NGX" info; printf '%s\n}\n' "$snippet"; } >"$NGX.conf"
"$NGINX" -t -c "$NGX.conf" -p "$NGX" >"$TG_DIR/nginx-t.log" 2>&1 ||
	tg_fatal "nginx -t: $(tail -3 "$TG_DIR/nginx-t.log")"
tg_spawn_in_cgroup "$TG_DIR/nginx.out" "$NGINX" -c "$NGX.conf" -p "$NGX"
NGINX_PID=$TG_SPAWNED
for ((i = 0; i < 50; i++)); do
	[ -n "$(ss -Htln "sport = :$TLS_PORT")" ] && break
	sleep 0.1
done
[ -n "$(ss -Htln "sport = :$TLS_PORT")" ] || tg_fatal "nginx did not listen: $(tail -3 "$TG_DIR/nginx.out")"

# A response without a length in its head (none here but the 429s the
# responder sends, on connections of their own) ends at the next response on
# its connection or at its close (DESIGN §3), and nginx keeps upstream
# connections open: a reload makes it close the idle ones.
flush_upstream() {
	kill -HUP "$NGINX_PID"
	sleep 1.5
}

sockmap_config() { # MODE
	tg_config_write "$APP_PORT" "$(printf 'mode = %s\nrefusal_listen = 127.0.0.1:%s' "$1" "$RESP_PORT")" "$(
		cat <<-EOF
			[plan.small]
			id = 1
			api_id = 1
			rate_per_sec = 0.001
			burst = 5

			[plan.both]
			id = 3
			api_id = 1
			rate_per_sec = 0.001
			burst = 6

			[route.health]
			id = 2
			api_id = 1
			prefix = /health
			public = true

			$(tg_generous_sections)
		EOF
	)"
}
sockmap_config sockmap

#                   key_id consumer plan
K_SMALL=$(tg_key_add 1 1 1)
K_OK=$(tg_key_add 2 2 2)
K_BIG=$(tg_key_add 3 3 2)
K_PIPE=$(tg_key_add 4 4 2)
K_SPLIT=$(tg_key_add 5 5 2)
K_BOTH=$(tg_key_add 6 6 3)
K_UPLOAD=$(tg_key_add 7 7 2)
K_DOTS=$(tg_key_add 8 8 2)
K_UNKNOWN=$("$PYTHON" "$TG_CLIENT_PY" newkey)

tg_agent_start 30
tg_log "agent pid $TG_AGENT_PID (sockmap), nginx pid $NGINX_PID TLS $TG_HOST_IP:$TLS_PORT, app 127.0.0.1:$APP_PORT, responder $RESP_PORT"
assert_true "no XDP program in sockmap mode" "ip link shows xdp on $TG_HOST_IF" \
	sh -c "! ip -d link show dev '$TG_HOST_IF' | grep -q 'prog/xdp'"

URL="https://$TG_HOST_IP:$TLS_PORT"
# curl from the client namespace over TLS: one connection for all URLs
tcurl() { tg_client curl -sk --max-time 10 "$@"; }
# tcodes KEY URL...: the status of each URL, on one connection, bodies dropped
tcodes() {
	local key=$1 u args=()
	shift
	for u in "$@"; do args+=(-o /dev/null "$u"); done
	tcurl ${key:+-H "X-API-Key: $key"} -w '%{http_code} ' "${args[@]}"
}

# ---------------------------------------------------------------------------
tg_log "1. over the plan through nginx: 200 × 5, then 429 from the responder"
urls=()
for ((i = 0; i < 10; i++)); do urls+=("$URL/v1/ok?n=$i"); done
codes=$(tcodes "$K_SMALL" "${urls[@]}")
assert_eq "burst 5, 10 requests on one TLS connection" "200 200 200 200 200 429 429 429 429 429 " "$codes"
assert_eq "the API server received only the admitted requests" 5 "$(tg_server_count " $K_SMALL\$")"
hdrs=$(tcurl -H "X-API-Key: $K_SMALL" -D - -o "$TG_DIR/429.body" "$URL/v1/ok" | tr -d '\r')
assert_match "429 status line" '^HTTP/1.1 429' "$(head -1 <<<"$hdrs")"
assert_match "Retry-After on the 429" 'retry-after: [0-9]+' "$(tr 'A-Z' 'a-z' <<<"$hdrs")"
assert_match "RateLimit-Policy on the 429" 'ratelimit-policy: "plan";q=5;w=[0-9]+' "$(tr 'A-Z' 'a-z' <<<"$hdrs")"
assert_match "RateLimit on the 429" 'ratelimit: "plan";r=0;t=[0-9]+' "$(tr 'A-Z' 'a-z' <<<"$hdrs")"
assert_eq "429 body names the verdict" '{"error":"over_limit"}' "$(cat "$TG_DIR/429.body")"
assert_eq "still only 5 at the API server" 5 "$(tg_server_count " $K_SMALL\$")"

# ---------------------------------------------------------------------------
tg_log "2. one event per admitted request, with the client's address"
n=$(tg_wait_events 1 5 10)
assert_eq "5 events for the limited key" 5 "$n"
assert_eq "events carry the client's address (X-Real-IP), status 200" \
	"5 $TG_CLIENT_IP 200" "$(tg_events 1 '{client_ip} {status}' | sort | uniq -c | awk '{ print $1, $2, $3 }')"
tg_counters "$TG_DIR/c1.json"
assert_eq "kernel counters: 5 admitted for consumer 1" 5 "$(tg_counter "$TG_DIR/c1.json" 1 1 requests)"
assert_eq "kernel counters: 6 over_limit for consumer 1" 6 "$(tg_counter "$TG_DIR/c1.json" 1 1 refused.over_limit)"

# ---------------------------------------------------------------------------
tg_log "3. unknown and missing keys; the responder without a refusal"
assert_eq "unknown key: 401" 401 "$(tcurl -H "X-API-Key: $K_UNKNOWN" -o /dev/null -w '%{http_code}' "$URL/v1/ok")"
# a request line longer than the bytes sk_msg reads: its key cannot be read
# (right after a refusal whose note is under a key's digest: this one's is not)
long=$(printf 'a%.0s' $(seq 1500))
assert_eq "missing key, a request line longer than the bytes read: 401" 401 \
	"$(tcurl -o /dev/null -w '%{http_code}' "$URL/v1/ok?probe=long&q=$long")"
assert_eq "missing key: 401" 401 "$(tcurl -o /dev/null -w '%{http_code}' "$URL/v1/ok")"
assert_eq "malformed key: 401" 401 "$(tcurl -H 'X-API-Key: nope' -o /dev/null -w '%{http_code}' "$URL/v1/ok")"
# a path whose literal prefix may not be the route served, with a key
assert_eq "an encoded dot segment: 403" 403 \
	"$(tcurl -o /dev/null -w '%{http_code}' -H "X-API-Key: $K_DOTS" "$URL/v1/%2e%2e/v1/ok")"
assert_eq "a method of other letters: 403" 403 \
	"$(tcurl -o /dev/null -w '%{http_code}' -X FETCH -H "X-API-Key: $K_DOTS" "$URL/v1/ok")"
assert_eq "no refused request reached the API server" 0 \
	"$(tg_server_count " ($K_UNKNOWN|-|nope|$K_DOTS)\$")"
assert_eq "nor the one with the encoded dot segment" 0 "$(tg_server_count "%2e%2e")"
assert_eq "the responder answers 503 for a request the kernel did not refuse" 503 \
	"$(curl -s -o /dev/null -w '%{http_code}' -H "X-API-Key: $K_OK" "http://127.0.0.1:$RESP_PORT/v1/ok")"

# ---------------------------------------------------------------------------
tg_log "4. keep-alive upstream: 60 requests"
urls=()
for ((i = 0; i < 60; i++)); do urls+=("$URL/v1/ok?k=$i"); done
codes=$(tcodes "$K_OK" "${urls[@]}" | tr ' ' '\n' | grep . | sort | uniq -c | awk '{ print $1, $2 }')
assert_eq "60 admitted" "60 200" "$codes"
assert_eq "60 at the API server" 60 "$(tg_server_count " $K_OK\$")"
upstream=$(ss -Htn state established "( dport = :$APP_PORT )" | wc -l)
assert_range "nginx kept its upstream connections alive (few, not 60)" 1 4 "$upstream"
assert_eq "60 events, the last one without waiting for nginx to close the upstream connection" \
	60 "$(tg_wait_events 2 60 10)"
# a public route through those same upstream connections, which carried a
# consumer's requests: its answers are nobody's, not that consumer's
unattributed_sum() {
	"$PYTHON" -c 'import json, sys; print(sum(r.get("unattributed", 0) for r in json.load(open(sys.argv[1]))))' "$1"
}
tg_counters "$TG_DIR/c4a.json"
assert_eq "three requests to /health, no key" "404 404 404 " \
	"$(tcodes "" "$URL/health" "$URL/health?n=1" "$URL/health?n=2")"
sleep 1
tg_counters "$TG_DIR/c4b.json"
assert_eq "nothing charged for them as unattributed, to anyone" \
	"$(unattributed_sum "$TG_DIR/c4a.json")" "$(unattributed_sum "$TG_DIR/c4b.json")"
assert_eq "no event for them" 60 "$(tg_events 2 | wc -l)"

# ---------------------------------------------------------------------------
tg_log "5. 5 MiB responses: write() and sendfile(2)"
want=$("$PYTHON" -c "
import sys; sys.path.insert(0, '$TG_ROOT/tests/integration')
import hashlib, http_server; print(hashlib.sha256(http_server.big_body(5 << 20)).hexdigest())")
for route in big bigfile; do
	got=$(tcurl -H "X-API-Key: $K_BIG" "$URL/v1/$route" | sha256sum | cut -d' ' -f1)
	assert_eq "/v1/$route: 5 MiB intact through nginx and sk_msg" "$want" "$got"
done
assert_eq "two events for the big responses, each at its last byte" 2 "$(tg_wait_events 3 2 10)"
assert_eq "their resp_bytes count the whole body" "2" \
	"$(tg_events 3 '{resp_bytes}' | awk '$1 >= 5242880' | wc -l)"

# ---------------------------------------------------------------------------
tg_log "6. a proxy's own writes: pipelined, split, refused"
in_cgroup() { sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$TG_CGROUP" "$@"; }
out=$(in_cgroup "$PYTHON" "$PROXY_CLIENT" pipeline --port "$APP_PORT" --key "$K_PIPE" \
	--xff 203.0.113.1 --xff 2001:db8::2)
assert_eq "two GETs and a POST in one write: all answered" "200 201 200" "$out"
assert_eq "three events for the pipelined write" 3 "$(tg_wait_events 4 3 10)"
assert_eq "each with its own X-Forwarded-For address, in order" \
	"/v1/ok 203.0.113.1,/v1/created 203.0.113.1,/v1/ok 2001:db8::2," \
	"$(tg_events 4 '{endpoint} {client_ip}' | tr '\n' ',')"
tg_counters "$TG_DIR/c4.json"
assert_eq "the POST body that looks like a request is not charged" 3 \
	"$(tg_counter "$TG_DIR/c4.json" 4 1 requests)"
out=$(in_cgroup "$PYTHON" "$PROXY_CLIENT" split --port "$APP_PORT" --key "$K_SPLIT" --xff 192.0.2.44)
assert_eq "a head in three writes: answered" "200" "$out"
assert_eq "... and one event, with its address" "/v1/ok 192.0.2.44" \
	"$(tg_wait_events 5 1 10 >/dev/null; tg_events 5 '{endpoint} {client_ip}')"
# a write that ends inside a second head, after a whole one (CUT bytes of
# it; PAD: the length of a header line that makes it longer): those bytes,
# the rest of a write whose first part went out, are held until the head is
# whole (after a pull, so that the kernel appends the next write where the
# held bytes end: without it the second head arrives mangled), and both
# requests are answered, with their own bytes
grep -q "sk_msg holds the rest of a split send" "$TG_AGENT_LOG" ||
	tg_fatal "this kernel is older than 6.13: the agent does not hold the rest of a split send"
events=1
for layout in 20:0 700:800 900:1400; do
	cut=${layout%%:*} pad=${layout##*:}
	out=$(in_cgroup "$PYTHON" "$PROXY_CLIENT" tail --port "$APP_PORT" --key "$K_SPLIT" \
		--cut "$cut" --pad "$pad" --xff 192.0.2.45 --xff 192.0.2.46)
	assert_eq "a write with a whole head and $cut bytes of another (X-Pad of $pad): both answered" \
		"all 200 200" "$out"
	events=$((events + 2))
	assert_eq "... one event each, with its own address" "/v1/ok 192.0.2.45,/v1/ok 192.0.2.46" \
		"$(tg_wait_events 5 "$events" 10 >/dev/null; tg_events 5 '{endpoint} {client_ip}' | tail -n 2 | paste -sd,)"
done
assert_eq "the server got each of those heads whole (its key, not a mangled line)" 7 \
	"$(tg_server_count "^GET /v1/ok $K_SPLIT\$")"
tg_counters "$TG_DIR/c5.json"
assert_eq "seven requests charged to the key, none unanswered" "7 0" \
	"$(for f in requests unanswered; do tg_counter "$TG_DIR/c5.json" 5 1 $f; done | xargs)"
# a body whose writes begin like requests with an unknown key (a whole head,
# then one cut before its blank line): with a Content-Length the verdict
# covers the body; a chunked one is body until the request is answered, so
# the cut head is neither held (the body's end would wait behind it) nor
# refused
for mode in length chunked; do
	flag=
	[ "$mode" = chunked ] && flag=--chunked
	out=$(in_cgroup "$PYTHON" "$PROXY_CLIENT" upload $flag --port "$APP_PORT" --key "$K_UPLOAD" \
		--xff 192.0.2.47 --lookalike-key "$K_UNKNOWN")
	assert_eq "$mode body in writes that begin like requests: the POST and a GET answered" \
		"201 200" "$out"
done
assert_eq "the server got two POSTs and two GETs, nothing with the body's key" "4 0" \
	"$(tg_server_count " $K_UPLOAD\$") $(tg_server_count " $K_UNKNOWN\$")"
assert_eq "one event each" "4 /v1/created 201,/v1/created 201,/v1/ok 200,/v1/ok 200," \
	"$(tg_wait_events 7 4 10) $(tg_events 7 '{endpoint} {status}' | sort | tr '\n' ',')"
tg_counters "$TG_DIR/c7.json"
assert_eq "four charged, none unanswered" "4 0" \
	"$(for f in requests unanswered; do tg_counter "$TG_DIR/c7.json" 7 1 $f; done | xargs)"
# the same through a public route (not admitted, so not followed to its
# answer: open until a response starts), with heads that claim a 100 MB
# body: taken for requests, they would pass (public) with a verdict over the
# next 100 MB, so the refused GET after the answer would pass too
out=$(in_cgroup "$PYTHON" "$PROXY_CLIENT" upload --chunked --path /health/upload \
	--lookalike-path /health/x --lookalike-length 100000000 --then-key "$K_UNKNOWN" \
	--port "$APP_PORT" --key "$K_UPLOAD" --xff 192.0.2.48 --lookalike-key "$K_UNKNOWN")
assert_eq "a public chunked body in writes that begin like requests: answered; a GET after refused" \
	"404 EACCES" "$out"
out=$(in_cgroup "$PYTHON" "$PROXY_CLIENT" refused --port "$APP_PORT" --key "$K_SMALL")
assert_eq "a refused write fails with EACCES" EACCES "$out"

# ---------------------------------------------------------------------------
tg_log "6b. the HAProxy backend of docs/sockmap.md, behind a plain HTTP frontend"
hap=$(awk '/^```haproxy$/ { on = 1; next } on && /^```$/ { exit } on' "$DOC")
[ -n "$hap" ] || tg_fatal "no haproxy snippet in $DOC"
hap=${hap//127.0.0.1:8080/127.0.0.1:$APP_PORT}
hap=${hap//127.0.0.1:9481/127.0.0.1:$RESP_PORT}
HAP_PORT=$(tg_free_port)
printf '%s\n' "defaults" "    mode http" "    timeout connect 2s" "    timeout client 10s" \
	"    timeout server 10s" "frontend fe" "    bind $TG_HOST_IP:$HAP_PORT" \
	"    default_backend api" "$hap" >"$TG_DIR/haproxy.cfg"
tg_spawn_in_cgroup "$TG_DIR/haproxy.out" haproxy -f "$TG_DIR/haproxy.cfg" -db
HAP_PID=$TG_SPAWNED
for ((i = 0; i < 50; i++)); do
	[ -n "$(ss -Htln "sport = :$HAP_PORT")" ] && break
	sleep 0.1
done
hcodes() { tg_client curl -s --max-time 5 -o /dev/null -w '%{http_code} ' "$@"; }
HAP_URL="http://$TG_HOST_IP:$HAP_PORT/v1/ok"
assert_eq "HAProxy: the limited key is refused with 429" "429 429 " \
	"$(hcodes -H "X-API-Key: $K_SMALL" "$HAP_URL"; hcodes -H "X-API-Key: $K_SMALL" "$HAP_URL")"
assert_eq "HAProxy: an unknown key with 401" "401 " "$(hcodes -H "X-API-Key: $K_UNKNOWN" "$HAP_URL")"
assert_eq "HAProxy: an admitted key passes" "200 " "$(hcodes -H "X-API-Key: $K_OK" "$HAP_URL")"
assert_eq "still only 5 requests of the limited key at the API server" 5 "$(tg_server_count " $K_SMALL\$")"
tg_stop_pid "$HAP_PID" 5

metrics=$(curl -s "http://127.0.0.1:$TG_METRICS_PORT/metrics")
assert_match "responder answers counted" 'tollgate_refusal_answers_total\{verdict="over_limit"\} [1-9]' "$metrics"
assert_match "proxied requests counted" 'tollgate_kernel_total\{stat="proxied_requests"\} [1-9]' "$metrics"

# ---------------------------------------------------------------------------
tg_log "7. mode = both: one bucket across XDP and sk_msg; no holds in the rest of a write"
tg_agent_stop
assert_eq "the agent (with its responder thread) exits 0 on SIGTERM" 0 "$?"
tg_ctl detach >/dev/null 2>&1
sockmap_config both
TOLLGATE_REST_HOLD=0 tg_agent_start 30
assert_true "TOLLGATE_REST_HOLD=0: the agent says it does not hold" "not in its log" \
	grep -q "sk_msg does not hold the rest of a split send" "$TG_AGENT_LOG"
assert_true "XDP attached in both mode" "ip link shows no xdp" tg_xdp_attached "$TG_HOST_IF"
# fresh maps: nginx's kept-alive upstream connections are not in them (a
# proxy reload after a detach, docs/sockmap.md)
flush_upstream
direct=""
for ((i = 0; i < 3; i++)); do
	direct+=$(tg_client curl -s --max-time 5 -o /dev/null -w '%{http_code} ' \
		-H "X-API-Key: $K_BOTH" "http://$TG_HOST_IP:$APP_PORT/v1/ok")
done
proxied=$(tcodes "$K_BOTH" "$URL/v1/ok" "$URL/v1/ok" "$URL/v1/ok")
assert_eq "3 direct (XDP) requests admitted" "200 200 200 " "$direct"
assert_eq "3 proxied (sk_msg) requests admitted" "200 200 200 " "$proxied"
assert_eq "the 7th, through nginx, is over the shared burst of 6" 429 \
	"$(tcurl -H "X-API-Key: $K_BOTH" -o /dev/null -w '%{http_code}' "$URL/v1/ok")"
assert_eq "the 8th, direct, is over it too (XDP's in-kernel 429)" 429 \
	"$(tg_client curl -s --max-time 5 -o /dev/null -w '%{http_code}' -H "X-API-Key: $K_BOTH" \
		"http://$TG_HOST_IP:$APP_PORT/v1/ok")"
assert_eq "6 at the API server" 6 "$(tg_server_count " $K_BOTH\$")"
flush_upstream
assert_eq "6 events" 6 "$(tg_wait_events 6 6 10)"
# where the rest of a write cannot be held (kernels before 6.13), the bytes
# of a head there are refused: the write comes out short by them, and the
# socket's later writes fail (the kernel keeps the verdict), as after a
# refusal; none of those bytes reach the server
before=$(tg_server_count "^GET /v1/ok $K_SPLIT\$")
out=$(in_cgroup "$PYTHON" "$PROXY_CLIENT" tail --port "$APP_PORT" --key "$K_SPLIT" \
	--cut 700 --pad 800 --xff 192.0.2.47 --xff 192.0.2.48)
assert_eq "without holds: the write takes the first request, the next write fails" "first EACCES" "$out"
assert_eq "... the first request reached the server, nothing of the second" 1 \
	"$(($(tg_server_count "^GET /v1/ok $K_SPLIT\$") - before))"

tg_agent_stop
tg_ctl detach >/dev/null 2>&1
tg_stop_pid "$NGINX_PID" 5
tg_summary
