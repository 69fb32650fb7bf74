#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# test-gateway.sh - tollgate end to end in standalone mode (DESIGN §3, §4, §5):
# a real HTTP/1.1 server in a cgroup on the API host (root namespace), real
# clients in a client namespace, tollgate-agent attached to the host's veth.
#
#   1. rate limit: 100 requests on new connections within a second against
#      burst 10, 5/s, action reject: 10-16 admitted, the rest answered 429 by
#      the kernel (Retry-After, RateLimit-Policy, RateLimit, FIN), none of them
#      reaches the server or leaves a server socket; events and counters agree;
#      the clients' sockets close at once (their FIN acknowledged), and a new
#      connection on a refused one's ports is served
#   2. one event per answered request, right status, endpoint, ids, latency
#      (/v1/slow >= 100 ms)
#   3. keep-alive: several requests on one connection, one event each
#  3b. a request the server never answers: one status-0 unanswered event
#  3c. unanswered longer than unanswered_after on an open connection: the
#      event comes from the flow's timer; the late answer is unattributed
#  3d. a public route: no key needed, nothing charged, kept alive too
#  3e. 100-continue is skipped; after a 101 nothing is taken for a response
#  3f. request bodies (Content-Length, chunked; to a charged and to a public
#      route) whose segments begin like requests with an unknown key are
#      body: not refused, not charged; a keyless chunked POST to a public
#      route is answered, and a GET behind its body's end decided, in the
#      POST's segment or a later one; one whose framing XDP does not
#      follow (a trailer field) is refused (a GET behind its last chunk
#      would reach the server unseen), with a key it is charged and so is
#      that GET (unattributed)
#  3i. a segment TCP drops (it acknowledges unsent data) but XDP sees, a
#      public request, then a keyless request, a consumer's, or one for an
#      API outside the plan at the same sequence: refused, not passed as a
#      retransmission (a public request with a body to follow, then one
#      without in its place: so is the keyless one behind it)
#  3j. a copy of a request the server's TCP took already, keyless: TCP
#      drops it, so it passes (the socket's rcv_nxt says so); the
#      connection goes on. One 20 bytes longer: refused, and the RST
#      after it, at the socket's rcv_nxt, frees the server's socket
#   4. two pipelined requests in one segment: both charged, each its own
#      event; one for an API the plan does not cover behind an admitted one
#      refuses the segment, as do bytes behind the 8th; 20 behind a chunked
#      body XDP cannot follow: 16 unattributed, then the connection is
#      cut; six in flight, each in its own segment: the two beyond the
#      flow's four slots are charged once, when answered; answers beyond
#      the slots keep their order, also for a request sent once a slot is
#      free (a public one's answer is nobody's, a HEAD's has no body);
#      those beyond the slots still unanswered at the close, or past
#      unanswered_after, are unanswered events too;
#      responses the server coalesces into one send, with 103s and body
#      tails between them: one event each, with its own bytes; a status
#      line written in pieces shorter than itself is held until whole, and
#      seen; a chunked
#      response's event comes at its last chunk, the connection still open,
#      in sends of any size (even one byte), and coalesced ones are each
#      seen, also with "gzip, chunked" and when a send ends anywhere in the
#      framing after a head or chunk; a body that starts like a response at
#      a send boundary is body, not a response
#   5. unknown key and missing key: 401, nothing reaches the server, also
#      when the first 401 is lost and the client sends its request again;
#      body bytes lost ahead of a refused request: the server's socket is
#      reset all the same; a client silent after its answer: the agent
#      destroys the server's socket; Authorization: Bearer works; IPv6
#      works; events_file is CloudEvents
#  5b. SIGHUP: a key added to keys_file works, a removed one is refused
#   6. agent restart (SIGTERM, start again): enforcement continues while the
#      agent is down, the restarted agent adopts pins (same pin generation),
#      counters and buckets, and writes the event of a request admitted while
#      it was down
#  6c. pins of the ABI version before the agent's: adopted but for the maps
#      whose layout changed (tg_flows), the generation, counters, buckets
#      and queued events kept; pins of an unknown version: all made anew,
#      under a new generation
#   7. tollgatectl detach: no XDP, no pins, no cgroup programs left
#
# Run: BUILD=/abs/build bash tests/integration/test-gateway.sh (as root).
set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tg_init gateway
[ -x "$BUILD/tollgate-agent" ] && [ -x "$BUILD/tollgatectl" ] ||
	tg_fatal "$BUILD/tollgate-agent and $BUILD/tollgatectl must be built (make)"
tg_need bpftool

tg_topology_up tg
tg_cgroup_up tg-test
tg_server_up "$(tg_free_port)"
PORT=$TG_PORT
URL="http://$TG_HOST_IP:$PORT"
URL6="http://[$TG_HOST_IP6]:$PORT"
tg_secrets_up

# plan 1: the spec's limited plan; plan 2: generous, so functional tests are
# never limited; plan 3: strict (one token per 100 s) for the restart test,
# whose bucket cannot refill during the test.
tg_config_write "$PORT" $'snapshot_interval = 2\nunanswered_after = 1' "$(
	cat <<-EOF
		[plan.basic]
		id = 1
		api_id = 1
		rate_per_sec = 5
		burst = 10

		[plan.generous]
		id = 2
		api_id = 1
		rate_per_sec = 1000
		burst = 1000

		[plan.strict]
		id = 3
		api_id = 1
		rate_per_sec = 0.01
		burst = 2

		[route.v1]
		id = 1
		api_id = 1
		prefix = /v1

		[route.health]
		id = 2
		api_id = 1
		prefix = /health
		public = true

		[route.v2]
		id = 3
		api_id = 2
		prefix = /v2
	EOF
)"

# the digest contract: tollgatectl agrees with an independent SipHash-2-4-128
probe=$("$PYTHON" "$TG_CLIENT_PY" newkey)
assert_eq "tollgatectl digest = SipHash-2-4-128 under the version-1 secret" \
	"$("$PYTHON" "$TG_CLIENT_PY" digest --secret-file "$TG_SECRETS" "$probe")" "$(tg_digest "$probe")"

#                     key_id consumer plan
K_FLOOD=$(tg_key_add 1 1 1)
K_STATUS=$(tg_key_add 2 2 2)
K_KEEPALIVE=$(tg_key_add 3 2 2)
K_PIPE=$(tg_key_add 4 4 2)
K_STRICT=$(tg_key_add 5 3 3)
K_V6=$(tg_key_add 6 2 2)
K_BEARER=$(tg_key_add 7 2 2)
K_DOWNTIME=$(tg_key_add 8 5 2)
K_HANGUP=$(tg_key_add 9 6 2)
K_STALL=$(tg_key_add 10 7 2)
K_PIPE20=$(tg_key_add 11 8 2)
K_CONTINUE=$(tg_key_add 12 9 2)
K_UPGRADE=$(tg_key_add 13 10 2)
K_PIPE6=$(tg_key_add 14 11 2)
K_BATCH=$(tg_key_add 15 12 2)
K_PIECES=$(tg_key_add 16 13 2)
K_CHUNKED=$(tg_key_add 17 14 2)
K_LOOKALIKE=$(tg_key_add 18 15 2)
K_LONGHEAD=$(tg_key_add 19 16 2)
K_SPLIT=$(tg_key_add 20 17 2)
K_UPLOAD=$(tg_key_add 21 18 2)
K_MIXED=$(tg_key_add 22 19 2)
K_BEHIND=$(tg_key_add 23 20 2)
K_AFTER=$(tg_key_add 24 21 2)
K_PHANTOM=$(tg_key_add 25 22 2)
K_REUSE=$(tg_key_add 26 23 2)
K_LOSTBODY=$(tg_key_add 27 24 2)
K_BEYOND=$(tg_key_add 28 25 2)
K_BEYOND_HANGUP=$(tg_key_add 29 26 2)
K_BEYOND_STALL=$(tg_key_add 30 27 2)
K_UNKNOWN=$("$PYTHON" "$TG_CLIENT_PY" newkey) # well-formed, not in keys_file

tg_agent_start 30
tg_log "agent pid $TG_AGENT_PID, server port $PORT, host $TG_HOST_IF $TG_HOST_IP, ns $TG_NS"
assert_true "XDP program attached to $TG_HOST_IF" "ip link shows no xdp" tg_xdp_attached "$TG_HOST_IF"
status=$(tg_ctl status --json 2>&1)
assert_true "tollgatectl status --json prints JSON" "seen: ${status:0:300}" \
	"$PYTHON" -c 'import json, sys; json.loads(sys.argv[1])' "$status"

# the agent sized tg_xdp's key cache from agent.max_keys (default 100,000):
# the largest size, 4096 slots for each possible CPU. The cache is not
# pinned; it is the tg_keycache of the tg_xdp program that shares this
# agent's pinned tg_gen.
keycache_slots=$("$PYTHON" - "$TG_PIN_DIR/tg_gen" <<'PY'
import json, subprocess, sys
def bt(*a):
    return json.loads(subprocess.run(["bpftool", "-j", *a], capture_output=True, check=True).stdout)
gen = bt("map", "show", "pinned", sys.argv[1])["id"]
progs = [p for p in bt("prog", "show") if p.get("name") == "tg_xdp" and gen in p.get("map_ids", [])]
maps = {m["id"]: m for m in bt("map", "show")}
print(",".join(str(maps[i]["max_entries"]) for p in progs for i in p["map_ids"]
               if maps.get(i, {}).get("name") == "tg_keycache"))
PY
)
# the possible CPUs ("0-1", "0,2-5"), as libbpf counts them
ncpus=$("$PYTHON" -c 'import sys
print(sum(int(b or a) - int(a) + 1 for a, _, b in
          (r.partition("-") for r in open(sys.argv[1]).read().strip().split(","))))' \
	/sys/devices/system/cpu/possible)
assert_eq "tg_keycache slots for max_keys 100000 ($ncpus possible CPUs)" "$((4096 * ncpus))" "$keycache_slots"

# curl from the client namespace; prints the status code(s)
ccurl() { tg_client curl -s --max-time 5 -w '%{http_code}\n' "$@"; }

# ---------------------------------------------------------------------------
tg_log "1. rate limit: 100 requests on new connections, burst 10, 5/s, reject"
flood=$(tg_client "$PYTHON" "$TG_CLIENT_PY" flood --addr "$TG_HOST_IP" --port "$PORT" \
	--path /v1/ok --key "$K_FLOOD" --count 100)
read -r elapsed admitted rejected other no_retry no_policy no_rl no_fin slowest < <(
	"$PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
r = d["results"]
rej = [x for x in r if x["status"] == 429]
print(d["elapsed_s"], sum(x["status"] == 200 for x in r), len(rej),
      sum(x["status"] not in (200, 429) for x in r),
      sum("retry-after" not in x["headers"] for x in rej),
      sum("ratelimit-policy" not in x["headers"] for x in rej),
      sum("ratelimit" not in x["headers"] for x in rej),
      sum(not x["fin"] for x in rej),
      max([x["ms"] for x in rej] or [0]))' <<<"$flood")
tg_log "100 requests in ${elapsed}s: $admitted admitted, $rejected rejected, $other other"
if awk -v e="$elapsed" 'BEGIN { exit !(e < 1) }'; then
	tg_ok "100 requests on new connections within one second (${elapsed}s)"
else
	tg_not_ok "100 requests on new connections within one second" "expected: < 1 s" \
		"seen:     ${elapsed}s (a request that gets no answer waits for TCP retransmissions)"
fi
# 10 from the burst, up to 5/s refilled during the run, plus one for rounding
max_admitted=$(awk -v e="$elapsed" 'BEGIN { m = 10 + int(5 * (e < 1 ? 1 : e) + 0.999) + 1; print m }')
assert_range "admitted requests (burst 10 + 5/s over ${elapsed}s)" 10 "$max_admitted" "$admitted"
assert_eq "every other request answered 429" "$((100 - admitted))" "$rejected"
assert_eq "requests with neither 200 nor 429 (no answer, other status)" 0 "$other"
assert_eq "429 answers without Retry-After" 0 "$no_retry"
assert_eq "429 answers without RateLimit-Policy" 0 "$no_policy"
assert_eq "429 answers without RateLimit" 0 "$no_rl"
assert_eq "429 answers not followed by the server closing (FIN)" 0 "$no_fin"
if awk -v s="$slowest" 'BEGIN { exit !(s < 1000) }'; then
	tg_ok "429 answered at once (slowest ${slowest} ms)"
else
	tg_not_ok "429 answered at once" "expected: every 429 within 1000 ms" "seen:     slowest ${slowest} ms"
fi
example=$("$PYTHON" -c 'import json,sys; r=[x for x in json.load(sys.stdin)["results"] if x["status"]==429]; print(json.dumps(r[0]["headers"]) if r else "")' <<<"$flood")
tg_log "a 429's headers: $example"
assert_eq "requests of the limited consumer that reached the server" "$admitted" \
	"$(tg_server_count " $K_FLOOD\$")"
assert_eq "server sockets left established after the flood (within 5 s)" 0 \
	"$(tg_wait_established "$PORT" 0 5)"
# the client's FIN after a 429 went into the server's RST; sent again, XDP
# acknowledges it, so no client socket waits in LAST-ACK, its port taken
# wait_client_closed: until no client socket to the API port is closing (at
# most 5 s); prints how many still are
wait_client_closed() {
	local n i
	for ((i = 0; i <= 50; i++)); do
		n=$(tg_client ss -Htn state last-ack state closing state close-wait \
			"( dport = :$PORT )" | wc -l)
		[ "$n" -eq 0 ] && break
		sleep 0.1
	done
	echo "$n"
}
assert_eq "client sockets of the flood still closing (LAST-ACK) after 5 s" 0 "$(wait_client_closed)"
# a new connection on a refused one's ports is a new connection
lport=$(tg_client "$PYTHON" -c \
	'import socket; s = socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])')
assert_eq "a request with an unknown key from local port $lport" 401 \
	"$(ccurl -o /dev/null --local-port "$lport" -H "X-API-Key: $K_UNKNOWN" "$URL/v1/ok")"
wait_client_closed >/dev/null
assert_eq "the next request from local port $lport, with a valid key" 200 \
	"$(ccurl -o /dev/null --local-port "$lport" -H "X-API-Key: $K_REUSE" "$URL/v1/ok")"
n=$(tg_wait_events 1 "$admitted" 10)
assert_eq "events of the limited consumer (one per admitted request)" "$admitted" "$n"
assert_eq "events of the limited consumer with status 200 and verdict admitted" "$admitted" \
	"$(tg_events 1 '{status} {verdict}' | grep -c '^200 admitted$')"
tg_counters "$TG_DIR/c-flood.json"
assert_eq "kernel counter requests (consumer 1, api 1)" "$admitted" \
	"$(tg_counter "$TG_DIR/c-flood.json" 1 1 requests)"
assert_eq "kernel counter refused.over_limit (consumer 1, api 1)" "$((100 - admitted))" \
	"$(tg_counter "$TG_DIR/c-flood.json" 1 1 refused.over_limit)"
assert_eq "kernel counter 2xx (consumer 1, api 1)" "$admitted" \
	"$(tg_counter "$TG_DIR/c-flood.json" 1 1 2xx)"
# refusals reach the events as summaries, every snapshot_interval (2 s)
refused_summaries() {
	"$PYTHON" "$TG_CLIENT_PY" events "$TG_EVENTS" --consumer-id 1 --format '{flags} {verdict} {count}' |
		awk '$1 ~ /summary/ && $2 == "over_limit" { s += $3 } END { print s + 0 }'
}
for ((i = 0; i < 60; i++)); do
	[ "$(refused_summaries)" -ge $((100 - admitted)) ] && break
	sleep 0.1
done
assert_eq "over_limit summary events of consumer 1 add up to its 429s" "$((100 - admitted))" \
	"$(refused_summaries)"

# ---------------------------------------------------------------------------
tg_log "2. one event per answered request, one connection each"
got=""
for path in /v1/ok /v1/missing /v1/fail /v1/created /v1/slow; do
	body=()
	[ "$path" = /v1/created ] && body=(-d x=1)
	got+="$(ccurl -o /dev/null -H "X-API-Key: $K_STATUS" "${body[@]}" "$URL$path") "
done
assert_eq "statuses seen by the client" "200 404 500 201 200 " "$got"
assert_eq "requests of key 2 that reached the server" 5 "$(tg_server_count " $K_STATUS\$")"
n=$(tg_wait_events 2 5 10)
assert_eq "events of key 2" 5 "$n"
tg_events 2 '{method} {endpoint} {status} {latency_us} {flags} {verdict} {count} c{consumer_id} p{plan_id} a{api_id} r{route_id} k{key_id} {client_ip} {req_bytes} {resp_bytes}' \
	>"$TG_DIR/ev2.txt"
sed 's/^/#   /' "$TG_DIR/ev2.txt"
assert_eq "endpoint and status of each event" \
	"/v1/created 201,/v1/fail 500,/v1/missing 404,/v1/ok 200,/v1/slow 200," \
	"$(awk '{ print $2, $3 }' "$TG_DIR/ev2.txt" | sort | tr '\n' ',')"
assert_eq "events with flags, verdict, count, ids of key 2 (- admitted 1 c2 p2 a1 r1 k2)" 5 \
	"$(grep -c ' - admitted 1 c2 p2 a1 r1 k2 ' "$TG_DIR/ev2.txt")"
assert_eq "methods of the events" "GET,GET,GET,GET,POST," \
	"$(awk '{ print $1 }' "$TG_DIR/ev2.txt" | sort | tr '\n' ',')"
assert_ge "latency_us of /v1/slow (server sleeps 100 ms)" 100000 \
	"$(awk '$2 == "/v1/slow" { print $4 }' "$TG_DIR/ev2.txt" | head -1)"
assert_eq "events whose client_ip is the client's address" 5 \
	"$(awk -v ip="$TG_CLIENT_IP" '$13 == ip || $13 == "::ffff:" ip' "$TG_DIR/ev2.txt" | wc -l)"
assert_eq "events with req_bytes > 0 and resp_bytes > 0" 5 \
	"$(awk '$14 > 0 && $15 > 0' "$TG_DIR/ev2.txt" | wc -l)"

# ---------------------------------------------------------------------------
tg_log "3. keep-alive: four requests on one connection"
out=$(tg_client curl -s --max-time 5 -H "X-API-Key: $K_KEEPALIVE" -w '%{http_code}/%{num_connects} ' \
	-o /dev/null "$URL/v1/ok" -o /dev/null "$URL/v1/missing" -o /dev/null "$URL/v1/fail" \
	-o /dev/null "$URL/v1/slow")
assert_eq "statuses/new connections seen by curl" "200/1 404/0 500/0 200/0 " "$out"
n=$(tg_wait_events 3 4 10)
assert_eq "events of the keep-alive connection" 4 "$n"
assert_eq "their endpoints and statuses" "/v1/fail 500,/v1/missing 404,/v1/ok 200,/v1/slow 200," \
	"$(tg_events 3 '{endpoint} {status}' | sort | tr '\n' ',')"
assert_ge "latency_us of /v1/slow on the kept-alive connection" 100000 \
	"$(tg_events 3 '{endpoint} {latency_us}' | awk '$1 == "/v1/slow" { print $2 }' | head -1)"
assert_eq "keep-alive events flagged" "" "$(tg_events 3 '{flags}' | grep -v '^-$')"

table=$(tg_ctl events 2>&1)
assert_eq "tollgatectl events: a header and one row per line of events_file" \
	"$(($(wc -l <"$TG_EVENTS") + 1))" "$(wc -l <<<"$table")"
assert_true "tollgatectl events shows the keep-alive events" "seen: $(tail -2 <<<"$table")" \
	grep -q '/v1/slow' <<<"$table"

# ---------------------------------------------------------------------------
tg_log "3b. a request the server never answers"
tg_counters "$TG_DIR/c-hang0.json"
una0=$(tg_counter "$TG_DIR/c-hang0.json" 6 1 unanswered)
ccurl -o /dev/null -H "X-API-Key: $K_HANGUP" "$URL/v1/hangup" >/dev/null
assert_eq "the hung-up request reached the server" 1 "$(tg_server_count " $K_HANGUP\$")"
assert_eq "one event for it" 1 "$(tg_wait_events 9 1 10)"
assert_eq "its status and flags" "0 unanswered" "$(tg_events 9 '{status} {flags}')"
tg_counters "$TG_DIR/c-hang1.json"
assert_eq "kernel counter unanswered of consumer 6 (+1)" "$((una0 + 1))" \
	"$(tg_counter "$TG_DIR/c-hang1.json" 6 1 unanswered)"

# ---------------------------------------------------------------------------
tg_log "3c. a request unanswered for longer than unanswered_after (1 s), connection open"
ccurl -o "$TG_DIR/stall.out" -H "X-API-Key: $K_STALL" "$URL/v1/stall" >"$TG_DIR/stall.code" &
stall_pid=$!
sleep 3 # the server answers after 4 s; the flow's timer looks every second
assert_eq "status-0 unanswered event while the connection is still open" "0 unanswered" \
	"$(tg_events 10 '{status} {flags}')"
wait "$stall_pid"
assert_eq "the client still gets the late answer" 200 "$(cat "$TG_DIR/stall.code")"
assert_eq "the late answer is charged as unattributed" "0 unanswered,200 unattributed," \
	"$(tg_wait_events 10 2 10 >/dev/null; tg_events 10 '{status} {flags}' | sort | tr '\n' ',')"

# ---------------------------------------------------------------------------
tg_log "3d. a public route needs no key and charges nobody, kept alive too"
tg_counters "$TG_DIR/c-pub0.json"
urls=()
for ((i = 0; i < 20; i++)); do urls+=(-o /dev/null "$URL/health"); done
got=$(tg_client curl -s --max-time 10 -w '%{http_code} ' "${urls[@]}")
assert_eq "20 requests to /health on one connection, all answered by the server" \
	"$(printf '404 %.0s' $(seq 20))" "$got"
tg_counters "$TG_DIR/c-pub1.json"
for api in 0 1; do
	assert_eq "nothing charged to 'no consumer' for them (consumer 0, api $api, requests)" \
		"$(tg_counter "$TG_DIR/c-pub0.json" 0 $api requests)" \
		"$(tg_counter "$TG_DIR/c-pub1.json" 0 $api requests)"
done
# a kept-alive connection of a consumer that also asks a public route: its
# answers are nobody's, not the consumer's (curl sends the key each time)
got=$(tg_client curl -s --max-time 10 -w '%{http_code} ' -H "X-API-Key: $K_MIXED" \
	-o /dev/null "$URL/v1/ok" -o /dev/null "$URL/health" -o /dev/null "$URL/health" \
	-o /dev/null "$URL/v1/ok")
assert_eq "a consumer's GET, two to /health, a GET, on one connection" "200 404 404 200 " "$got"
assert_eq "two events, both its GETs" "2 200 -,200 -," \
	"$(tg_wait_events 22 2 10) $(tg_events 22 '{status} {flags}' | sort | tr '\n' ',')"
tg_counters "$TG_DIR/c-pub2.json"
assert_eq "the consumer charged for its two GETs, nothing unattributed" "2 0" \
	"$(tg_counter "$TG_DIR/c-pub2.json" 19 1 requests) $(tg_counter "$TG_DIR/c-pub2.json" 19 1 unattributed)"

# ---------------------------------------------------------------------------
tg_log "3e. interim 1xx responses are skipped, 101 ends HTTP on the connection"
head -c 4096 /dev/zero | tr '\0' 'x' >"$TG_DIR/body4k"
# curl asks for 100-continue before a body this large; the server sends it
code=$(tg_client curl -s --max-time 5 -w '%{http_code}' -o /dev/null -H "X-API-Key: $K_CONTINUE" \
	-H 'Expect: 100-continue' --data-binary @"$TG_DIR/body4k" "$URL/v1/created")
assert_eq "POST with Expect: 100-continue" 201 "$code"
assert_eq "one event for it, with the final status" "1 201" \
	"$(tg_wait_events 12 1 10) $(tg_events 12 '{status}')"
tg_client curl -s --max-time 3 -o /dev/null -H "X-API-Key: $K_UPGRADE" "$URL/v1/upgrade" || true
assert_eq "upgraded connection: one event, status 101" "1 101" \
	"$(tg_wait_events 13 1 10) $(tg_events 13 '{status}')"

# ---------------------------------------------------------------------------
tg_log "3f. request bodies whose segments begin like requests"
# Each body piece starts a segment with a request head that carries an
# unknown key (a whole head, then one cut before its blank line): XDP must
# take them for body, by the Content-Length, or for a chunked body until the
# request is answered; as requests they would be refused with a 401.
tg_counters "$TG_DIR/c-up0.json"
for mode in length chunked; do
	flag=
	[ "$mode" = chunked ] && flag=--chunked
	out=$(tg_client "$PYTHON" "$TG_CLIENT_PY" upload $flag --addr "$TG_HOST_IP" --port "$PORT" \
		--key "$K_UPLOAD" --lookalike-key "$K_UNKNOWN")
	assert_eq "$mode body: the POST, then a GET on the same connection, answered" "201 200" "$out"
done
assert_eq "the server got the two POSTs and two GETs, nothing with the body's key" "4 0" \
	"$(tg_server_count " $K_UPLOAD\$") $(tg_server_count " $K_UNKNOWN\$")"
assert_eq "one event each, nothing unanswered" "4 200 -,200 -,201 -,201 -," \
	"$(tg_wait_events 21 4 10) $(tg_events 21 '{status} {flags}' | sort | tr '\n' ',')"
tg_counters "$TG_DIR/c-up1.json"
assert_eq "the four charged, once each" 4 "$(tg_counter "$TG_DIR/c-up1.json" 18 1 requests)"
assert_eq "no unknown_key refusal for the body's heads" \
	"$(tg_counter "$TG_DIR/c-up0.json" 0 1 refused.unknown_key)" \
	"$(tg_counter "$TG_DIR/c-up1.json" 0 1 refused.unknown_key)"
# the same to a public route: its Content-Length body is body too
out=$(tg_client "$PYTHON" "$TG_CLIENT_PY" upload --addr "$TG_HOST_IP" --port "$PORT" \
	--path /health/upload --key "$K_UPLOAD" --lookalike-key "$K_UNKNOWN")
assert_eq "length body to a public route: the POST, then a GET, answered" "404 200" "$out"
n_upload_posts=$(tg_server_count "^POST /health/upload ")
tg_counters "$TG_DIR/c-up2.json"
assert_eq "only the GET charged" 5 "$(tg_counter "$TG_DIR/c-up2.json" 18 1 requests)"
assert_eq "still no unknown_key refusal for the body's heads" \
	"$(tg_counter "$TG_DIR/c-up0.json" 0 1 refused.unknown_key)" \
	"$(tg_counter "$TG_DIR/c-up2.json" 0 1 refused.unknown_key)"
# but a public route's chunked body ends where its client says, and the
# server reads what follows as its next request. XDP follows chunk framing
# to the body's end, across segments, and decides what follows. Where it
# cannot (here a trailer field), it cannot see a request behind the body's
# end in that segment either: a public request whose end XDP cannot find
# needs a key. So a keyless chunked POST to a public route, then a GET with
# an unknown key: in a segment of its own behind the whole POST, the POST
# is answered and the GET refused; in the POST's segment, or in the
# segment of the body's last chunk, the GET is refused (unknown_key) with
# its whole segment; behind a trailer field, that segment is refused
# (missing_key). Nothing of a refused segment reaches the server. A public
# route's request is nobody's, with a key too, where XDP finds its end
# refused0 FILE VERDICT: consumer 0's refusals of VERDICT (API 1, and API 0:
# segments refused before any request of theirs was read)
refused0() { echo $(($(tg_counter "$1" 0 0 "refused.$2") + $(tg_counter "$1" 0 1 "refused.$2"))); }
declare -A smuggled=([own]="404 401" [one]="401 0" [split]="401 0" [trailer]="401 0")
declare -A smuggled_refusals=([own]="0 1" [one]="0 1" [split]="0 1" [trailer]="1 0")
for layout in own one split trailer; do
	tg_counters "$TG_DIR/c-sm0.json"
	out=$(tg_client "$PYTHON" "$TG_CLIENT_PY" smuggle --layout "$layout" --addr "$TG_HOST_IP" \
		--port "$PORT" --key "$K_UNKNOWN")
	assert_eq "a keyless public chunked POST, a GET with an unknown key behind it ($layout)" \
		"${smuggled[$layout]}" "$out"
	tg_counters "$TG_DIR/c-sm1.json"
	assert_eq "its refusals, missing_key and unknown_key ($layout)" "${smuggled_refusals[$layout]}" \
		"$(($(refused0 "$TG_DIR/c-sm1.json" missing_key) - $(refused0 "$TG_DIR/c-sm0.json" missing_key))) $(($(refused0 "$TG_DIR/c-sm1.json" unknown_key) - $(refused0 "$TG_DIR/c-sm0.json" unknown_key)))"
done
assert_eq "the server never saw the GETs' key" 0 "$(tg_server_count " $K_UNKNOWN\$")"
assert_eq "it saw the POST's head where its first segment passed (own, split, trailer)" \
	"$((n_upload_posts + 3))" "$(tg_server_count "^POST /health/upload ")"
# the keyless public POST whose body XDP follows across segments, with a
# consumer's GET behind its last chunk: both answered, the GET charged as a
# request of its own
out=$(tg_client "$PYTHON" "$TG_CLIENT_PY" smuggle --layout split --addr "$TG_HOST_IP" --port "$PORT" \
	--key "$K_UPLOAD")
assert_eq "a keyless public chunked POST across segments, a consumer's GET behind it: answered" \
	"404 200" "$out"
tg_counters "$TG_DIR/c-up4.json"
assert_eq "the GET charged, not as unattributed" "6 0" \
	"$(tg_counter "$TG_DIR/c-up4.json" 18 1 requests) $(tg_counter "$TG_DIR/c-up4.json" 18 1 unattributed)"
# a consumer's chunked POST: where XDP cannot follow its body, its consumer
# answers for what follows: the GET XDP cannot see (behind the trailer
# field) is charged as unattributed. Where it can, the GET is decided: one
# with a key of no consumer is refused
k_hidden=$("$PYTHON" "$TG_CLIENT_PY" newkey)
out=$(tg_client "$PYTHON" "$TG_CLIENT_PY" smuggle --layout trailer --path /v1/created \
	--addr "$TG_HOST_IP" --port "$PORT" --post-key "$K_UPLOAD" --key "$k_hidden")
assert_eq "a consumer's chunked POST, a trailer field, a GET behind it: both answered" "201 200" "$out"
tg_counters "$TG_DIR/c-up5.json"
assert_eq "the POST charged, the GET charged to its consumer as unattributed" "8 1" \
	"$(tg_counter "$TG_DIR/c-up5.json" 18 1 requests) $(tg_counter "$TG_DIR/c-up5.json" 18 1 unattributed)"
out=$(tg_client "$PYTHON" "$TG_CLIENT_PY" smuggle --layout split --path /v1/created \
	--addr "$TG_HOST_IP" --port "$PORT" --post-key "$K_UPLOAD" --key "$k_hidden")
assert_eq "a consumer's chunked POST, the GET behind its last chunk: the GET refused" "401 0" "$out"
tg_counters "$TG_DIR/c-up6.json"
assert_eq "the POST charged, the GET refused as unknown_key" \
	"9 1 $(($(refused0 "$TG_DIR/c-up5.json" unknown_key) + 1))" \
	"$(tg_counter "$TG_DIR/c-up6.json" 18 1 requests) $(tg_counter "$TG_DIR/c-up6.json" 18 1 unattributed) $(refused0 "$TG_DIR/c-up6.json" unknown_key)"
assert_eq "the server saw the hidden GET's key only where XDP could not read it" 1 \
	"$(tg_server_count " $k_hidden\$")"
# a segment of a followed body past a gap (here a copy, sent by hand, of
# bytes the client sends next): in a consumer's body it passes, and the
# body is open until answered; in a keyless public one it is dropped
# (chunk_gaps_dropped) until the bytes before it are there
gaps0=$(tg_kernel_stat chunk_gaps_dropped)
tg_counters "$TG_DIR/c-gap0.json"
out=$(tg_client "$PYTHON" "$TG_CLIENT_PY" gapped --addr "$TG_HOST_IP" --port "$PORT" \
	--iface "$TG_CLIENT_IF" --key "$K_UPLOAD")
assert_eq "a consumer's chunked POST with a segment past a gap: answered" 201 "$out"
assert_eq "no segment of it dropped" "$gaps0" "$(tg_kernel_stat chunk_gaps_dropped)"
tg_counters "$TG_DIR/c-gap1.json"
assert_eq "charged once, as a request" "1 0" \
	"$(($(tg_counter "$TG_DIR/c-gap1.json" 18 1 requests) - $(tg_counter "$TG_DIR/c-gap0.json" 18 1 requests))) $(($(tg_counter "$TG_DIR/c-gap1.json" 18 1 unattributed) - $(tg_counter "$TG_DIR/c-gap0.json" 18 1 unattributed)))"
out=$(tg_client "$PYTHON" "$TG_CLIENT_PY" gapped --addr "$TG_HOST_IP" --port "$PORT" \
	--iface "$TG_CLIENT_IF" --path /health/upload)
assert_eq "a keyless public chunked POST with a segment past a gap: answered" 404 "$out"
assert_eq "that segment dropped" "$((gaps0 + 1))" "$(tg_kernel_stat chunk_gaps_dropped)"

# ---------------------------------------------------------------------------
tg_log "3g. requests pipelined behind a public one, in one segment"
# XDP reads every request behind one it lets through unadmitted: the
# server would read it next, and with no consumer on the connection nobody
# would answer for it
tg_counters "$TG_DIR/c-behind0.json"
out=$(tg_client "$PYTHON" "$TG_CLIENT_PY" pipeline --addr "$TG_HOST_IP" --port "$PORT" \
	--keyless 1 --key "$K_UNKNOWN" /health /v1/ok)
assert_eq "/health, then a GET with an unknown key, in one segment: refused" "401 0" "$out"
assert_eq "the server never saw the key" 0 "$(tg_server_count " $K_UNKNOWN\$")"
tg_counters "$TG_DIR/c-behind1.json"
assert_eq "refused as unknown_key" \
	"$(($(tg_counter "$TG_DIR/c-behind0.json" 0 1 refused.unknown_key) + 1))" \
	"$(tg_counter "$TG_DIR/c-behind1.json" 0 1 refused.unknown_key)"
out=$(tg_client "$PYTHON" "$TG_CLIENT_PY" pipeline --addr "$TG_HOST_IP" --port "$PORT" \
	--keyless 1 --key "$K_BEHIND" /health /v1/ok)
assert_eq "/health, then a consumer's GET, in one segment: both answered" "404 200" "$out"
assert_eq "one event, the GET's, attributed" "1 200 - /v1/ok" \
	"$(tg_wait_events 23 1 10) $(tg_events 23 '{status} {flags} {endpoint}')"
tg_counters "$TG_DIR/c-behind2.json"
assert_eq "the consumer charged once, nothing unattributed" "1 0" \
	"$(for f in requests unattributed; do tg_counter "$TG_DIR/c-behind2.json" 20 1 $f; done | xargs)"
# the same in two segments, the consumer's sent before the public one's
# answer (100 ms): that answer is not the consumer's
out=$(tg_client "$PYTHON" "$TG_CLIENT_PY" pipeline --gap 0.02 --addr "$TG_HOST_IP" --port "$PORT" \
	--keyless 1 --key "$K_AFTER" /health/slow /v1/ok)
assert_eq "a slow public request, then a consumer's GET before its answer" "503 200" "$out"
assert_eq "one event, the GET's, with its own status" "1 200 - /v1/ok" \
	"$(tg_wait_events 24 1 10) $(tg_events 24 '{status} {flags} {endpoint}')"
tg_counters "$TG_DIR/c-behind3.json"
assert_eq "that consumer charged once, nothing unattributed" "1 0" \
	"$(for f in requests unattributed; do tg_counter "$TG_DIR/c-behind3.json" 21 1 $f; done | xargs)"

# ---------------------------------------------------------------------------
tg_log "3h. request lines that cannot be read in their segment, paths not their route"
# each of these is a request to the server, but its line (and so its key)
# cannot be read where it starts: refused, rather than passed as no request
pieces() { tg_client "$PYTHON" "$TG_CLIENT_PY" pieces --addr "$TG_HOST_IP" --port "$PORT" "$@"; }
tg_counters "$TG_DIR/c-unread0.json"
assert_eq "a keyless request sent in two pieces, cut in its request line: refused" 401 \
	"$(pieces 'GET /v1/o' 'k?probe=split HTTP/1.1\r\nHost: a\r\n\r\n')"
assert_eq "a method of other letters sent in pieces: refused" 401 \
	"$(pieces 'FOO' ' /v1/ok?probe=splitother HTTP/1.1\r\nHost: a\r\n\r\n')"
assert_eq "an HTTP/0.9 request line: refused" 401 "$(pieces 'GET /v1/ok?probe=h09\r\n')"
assert_eq "a keyless request line longer than the bytes XDP reads: refused" 401 \
	"$(pieces 'GET /v1/ok?probe=long&q={long} HTTP/1.1\r\nHost: a\r\n\r\n')"
tg_counters "$TG_DIR/c-unread1.json"
assert_eq "refused as missing_key" \
	"$(($(tg_counter "$TG_DIR/c-unread0.json" 0 0 refused.missing_key) + 4))" \
	"$(tg_counter "$TG_DIR/c-unread1.json" 0 0 refused.missing_key)"
# nor is a path whose literal prefix may not be the route served: not
# public, and refused with a key
assert_eq "a public route's prefix, then a dot segment, no key: refused, 401" 401 \
	"$(ccurl --path-as-is -o /dev/null "$URL/health/../v1/ok?probe=dots")"
assert_eq "an encoded dot segment, with a consumer's key: refused, 403" 403 \
	"$(ccurl -o /dev/null -H "X-API-Key: $K_BEHIND" "$URL/v1/%2e%2e/v1/ok?probe=encoded")"
# nor is a method other than the seven (a server may route any to a handler)
assert_eq "a method of other letters, with a consumer's key: refused, 403" 403 \
	"$(ccurl -o /dev/null -X FETCH -H "X-API-Key: $K_BEHIND" "$URL/v1/ok?probe=method")"
assert_eq "a lower-case get, no key: refused, 401" 401 \
	"$(ccurl -o /dev/null -X get "$URL/v1/ok?probe=lower")"
assert_eq "none of them reached the server" 0 "$(tg_server_count 'probe=')"
tg_counters "$TG_DIR/c-unread2.json"
assert_eq "the consumer's refused as forbidden_api, nothing charged" "2 1" \
	"$(tg_counter "$TG_DIR/c-unread2.json" 20 1 refused.forbidden_api) $(tg_counter "$TG_DIR/c-unread2.json" 20 1 requests)"
# nor a request behind the end of a body that began in an earlier segment:
# the server reads it next, wherever in its segment it starts
assert_eq "a public request's body in two segments, a keyless request behind it: refused" 401 \
	"$(pieces 'POST /health HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n01234' \
		'56789GET /v1/ok?probe=behindpublic HTTP/1.1\r\nHost: a\r\n\r\n')"
assert_eq "a consumer's request body in two segments, a keyless request behind it: refused" 401 \
	"$(pieces "POST /v1/ok?at=body HTTP/1.1\r\nHost: a\r\nX-API-Key: $K_BEHIND\r\nContent-Length: 10\r\n\r\n01234" \
		'56789GET /v1/ok?probe=behindkeyed HTTP/1.1\r\nHost: a\r\n\r\n')"
# a body that begins like a method ("G" CR LF) but is none, in a segment
# of its own with a keyless request behind its end
assert_eq "a public request's body that begins like a method, a keyless request behind it: refused" 401 \
	"$(pieces 'POST /health HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n' \
		'G\r\n4567890GET /v1/ok?probe=behindmethodlike HTTP/1.1\r\nHost: a\r\n\r\n')"
assert_eq "none of them reached the server" 0 "$(tg_server_count 'probe=behind')"
tg_counters "$TG_DIR/c-unread3.json"
assert_eq "refused as missing_key, all three" \
	"$(($(tg_counter "$TG_DIR/c-unread2.json" 0 1 refused.missing_key) + 3))" \
	"$(tg_counter "$TG_DIR/c-unread3.json" 0 1 refused.missing_key)"

tg_log "3i. a segment TCP drops but XDP sees, then the real one in its place"
# the connection's first bytes, a public GET /health, in a frame that
# acknowledges data the server never sent: XDP sees it, TCP discards it.
# The real request then goes at the same sequence: a retransmission by the
# flow's records, decided again rather than passed as one.
phantom() {
	tg_client "$PYTHON" "$TG_CLIENT_PY" phantom --addr "$TG_HOST_IP" --port "$PORT" \
		--iface "$TG_CLIENT_IF" "$@"
}
tg_counters "$TG_DIR/c-phantom0.json"
assert_eq "a keyless request in the dropped public one's place: refused" 401 \
	"$(phantom --path '/v1/ok?probe=phantom-keyless')"
assert_eq "a consumer's request in its place (its answer would take the public one's slot, uncharged): refused" 401 \
	"$(phantom --path '/v1/ok?probe=phantom-keyed' --key "$K_PHANTOM")"
assert_eq "a request for an API the consumer's plan does not cover in its place: refused" 403 \
	"$(phantom --path '/v2/other?probe=phantom-v2' --key "$K_PHANTOM")"
# the dropped request says a body follows: a request as long without one
# in its place would have XDP take the keyless request behind it for body
assert_eq "a public request in place of one whose body was to follow: refused, the one behind unsent" "401 0" \
	"$(phantom --path '/health?probe=phantom-bodyless' --fake-body 5000 --then '/v1/ok?probe=phantom-behind')"
assert_eq "none of them reached the server" 0 "$(tg_server_count 'probe=phantom')"
tg_counters "$TG_DIR/c-phantom1.json"
assert_eq "refused as missing_key (3) and forbidden_api (1), nothing charged" "3 1 0" \
	"$(($(tg_counter "$TG_DIR/c-phantom1.json" 0 1 refused.missing_key) - $(tg_counter "$TG_DIR/c-phantom0.json" 0 1 refused.missing_key))) $(tg_counter "$TG_DIR/c-phantom1.json" 22 2 refused.forbidden_api) $(tg_counter "$TG_DIR/c-phantom1.json" 22 1 requests)"

tg_log "3j. a keyless copy of bytes the server's TCP has: passes, TCP drops it"
tg_counters "$TG_DIR/c-dup0.json"
assert_eq "a consumer's request, a keyless copy at its sequence, the request again: both answered" \
	"200 200" "$(tg_client "$PYTHON" "$TG_CLIENT_PY" duplicate --addr "$TG_HOST_IP" --port "$PORT" \
		--iface "$TG_CLIENT_IF" --path '/v1/ok?probe=duplicate' --key "$K_PHANTOM")"
assert_eq "the server read the two keyed requests only" 2 "$(tg_server_count 'probe=duplicate')"
tg_counters "$TG_DIR/c-dup1.json"
assert_eq "nothing refused, both charged" "0 2" \
	"$(($(tg_counter "$TG_DIR/c-dup1.json" 0 1 refused.missing_key) - $(tg_counter "$TG_DIR/c-dup0.json" 0 1 refused.missing_key))) $(($(tg_counter "$TG_DIR/c-dup1.json" 22 1 requests) - $(tg_counter "$TG_DIR/c-dup0.json" 22 1 requests)))"
# 20 bytes past what TCP took: decided again, refused; the server's TCP is
# then past the refused segment's start, and a RST there would only get a
# challenge ACK (RFC 5961), the socket left established
assert_eq "a copy 20 bytes longer: refused, the request behind it made a RST" "200 0" \
	"$(tg_client "$PYTHON" "$TG_CLIENT_PY" duplicate --addr "$TG_HOST_IP" --port "$PORT" \
		--iface "$TG_CLIENT_IF" --path '/v1/ok?probe=duplonger' --key "$K_PHANTOM" \
		--longer 20 --timeout 1)"
assert_eq "the server read the first request only" 1 "$(tg_server_count 'probe=duplonger')"
assert_eq "server sockets left established (within 5 s)" 0 "$(tg_wait_established "$PORT" 0 5)"
tg_counters "$TG_DIR/c-dup2.json"
assert_eq "refused as missing_key" 1 \
	"$(($(tg_counter "$TG_DIR/c-dup2.json" 0 1 refused.missing_key) - $(tg_counter "$TG_DIR/c-dup1.json" 0 1 refused.missing_key)))"

# ---------------------------------------------------------------------------
tg_log "4. two pipelined requests in one segment"
tg_counters "$TG_DIR/c-pipe0.json"
req0=$(tg_counter "$TG_DIR/c-pipe0.json" 4 1 requests)
una0=$(tg_counter "$TG_DIR/c-pipe0.json" 4 1 unattributed)
out=$(tg_client "$PYTHON" "$TG_CLIENT_PY" pipeline --addr "$TG_HOST_IP" --port "$PORT" \
	--key "$K_PIPE" /v1/ok /v1/missing)
assert_eq "statuses of the two pipelined requests" "200 404" "$out"
assert_eq "pipelined requests that reached the server" 2 "$(tg_server_count " $K_PIPE\$")"
for ((i = 0; i < 50; i++)); do
	n=$("$PYTHON" "$TG_CLIENT_PY" events "$TG_EVENTS" --consumer-id 4 | wc -l)
	[ "$n" -ge 2 ] && break
	sleep 0.1
done
sleep 1
tg_counters "$TG_DIR/c-pipe1.json"
assert_eq "kernel counter requests of consumer 4 (+2)" "$((req0 + 2))" \
	"$(tg_counter "$TG_DIR/c-pipe1.json" 4 1 requests)"
assert_eq "kernel counter unattributed of consumer 4 (+0)" "$una0" \
	"$(tg_counter "$TG_DIR/c-pipe1.json" 4 1 unattributed)"
ev=$("$PYTHON" "$TG_CLIENT_PY" events "$TG_EVENTS" --consumer-id 4 --format '{status} {flags} {endpoint}' | sort)
assert_eq "events of consumer 4, each request its own (status flags endpoint)" \
	"200 - /v1/ok,404 - /v1/missing," "$(tr '\n' ',' <<<"$ev")"
# each is decided: one for an API the key's plan does not cover, or with
# no key, refuses the whole segment, and none of it reaches the server
seen=$(tg_server_count " $K_PIPE\$")
out=$(tg_client "$PYTHON" "$TG_CLIENT_PY" pipeline --addr "$TG_HOST_IP" --port "$PORT" \
	--key "$K_PIPE" /v1/ok /v2/other)
assert_eq "a request for another API pipelined behind an admitted one: refused, 403" "403 0" "$out"
paths=()
for ((i = 0; i < 9; i++)); do paths+=(/v1/ok); done
out=$(tg_client "$PYTHON" "$TG_CLIENT_PY" pipeline --addr "$TG_HOST_IP" --port "$PORT" \
	--key "$K_PIPE" "${paths[@]}")
assert_eq "9 pipelined in one segment: the bytes behind the 8th are not read, refused" \
	"401 0 0 0 0 0 0 0 0" "$out"
assert_eq "none of those reached the server" "$seen" "$(tg_server_count " $K_PIPE\$")"
tg_counters "$TG_DIR/c-pipe2.json"
assert_eq "nothing more charged to consumer 4" "$((req0 + 2))" \
	"$(tg_counter "$TG_DIR/c-pipe2.json" 4 1 requests)"

# requests XDP does not read (behind a chunked body whose trailer field XDP
# does not follow, in the segment of its last chunk) are charged as their
# responses come, as unattributed; 16 of those, then
# the connection is cut
paths=()
for ((i = 0; i < 20; i++)); do paths+=(/v1/ok); done
out=$(tg_client "$PYTHON" "$TG_CLIENT_PY" pipeline --chunked-first --addr "$TG_HOST_IP" --port "$PORT" \
	--key "$K_PIPE20" "${paths[@]}")
assert_eq "20 pipelined requests behind a chunked body: the first admitted, 16 more answered unattributed, then cut" \
	"$(printf '200 %.0s' $(seq 17))0 0 0" "$out"
tg_counters "$TG_DIR/c-pipe20.json"
assert_eq "kernel counter unattributed of consumer 8" 16 \
	"$(tg_counter "$TG_DIR/c-pipe20.json" 8 1 unattributed)"
assert_eq "one event per delivered response (1 + 16 unattributed)" 17 "$(tg_wait_events 11 17 10)"

# Six requests in flight on one connection, each in its own segment: a flow
# keeps TG_FLOW_PENDING (4) of them; the two beyond are charged when their
# responses come, as unattributed ones, and not also when XDP admits them.
out=$(tg_client "$PYTHON" "$TG_CLIENT_PY" pipeline --gap 0.01 --addr "$TG_HOST_IP" --port "$PORT" \
	--key "$K_PIPE6" /v1/slow /v1/slow /v1/slow /v1/slow /v1/slow /v1/slow)
assert_eq "six requests in flight, each in its own segment: all answered" \
	"200 200 200 200 200 200" "$out"
assert_eq "one event per request (4 pending + 2 unattributed)" 6 "$(tg_wait_events 14 6 10)"
assert_eq "their flags" "-,-,-,-,unattributed,unattributed," \
	"$(tg_events 14 '{flags}' | sort | tr '\n' ',')"
tg_counters "$TG_DIR/c-pipe6.json"
assert_eq "kernel counter requests of consumer 11: each request once" 6 \
	"$(tg_counter "$TG_DIR/c-pipe6.json" 11 1 requests)"
assert_eq "kernel counter unattributed of consumer 11" 2 \
	"$(tg_counter "$TG_DIR/c-pipe6.json" 11 1 unattributed)"

# Beyond the four slots, answers keep their requests' order: the ones
# beyond are counted in order behind the slots' with their kinds, and a
# request sent after a slot is freed goes behind them too, so a public
# one's answer (503) is nobody's and a HEAD's has no body, and no later
# request's slot takes an earlier request's answer.
out=$(tg_client "$PYTHON" "$TG_CLIENT_PY" pipeline --gap 0.01 --late 1 --addr "$TG_HOST_IP" \
	--port "$PORT" --key "$K_BEYOND" /v1/slow /v1/slow /v1/slow /v1/slow /health/slow \
	"HEAD /v1/ok" /v1/slow /v1/ok)
assert_eq "four slow, a public one, a HEAD, a slow in flight, one more after the first answer" \
	"200 200 200 200 503 200 200 200" "$out"
assert_eq "one event per admitted request (4 in slots + 3 beyond)" 7 "$(tg_wait_events 28 7 10)"
assert_eq "their status, flags and method" \
	"200 - GET,200 - GET,200 - GET,200 - GET,200 unattributed -,200 unattributed -,200 unattributed HEAD," \
	"$(tg_events 28 '{status} {flags} {method}' | sed 's/ $/ -/' | sort | tr '\n' ',')"
tg_counters "$TG_DIR/c-beyond.json"
assert_eq "kernel counter requests of consumer 25: the admitted ones, once each" 7 \
	"$(tg_counter "$TG_DIR/c-beyond.json" 25 1 requests)"
assert_eq "kernel counters unattributed and 5xx of consumer 25 (the 503 is nobody's)" "3 0" \
	"$(tg_counter "$TG_DIR/c-beyond.json" 25 1 unattributed) $(tg_counter "$TG_DIR/c-beyond.json" 25 1 5xx)"

# A server that closes without answering (/v1/hangup) six requests in one
# segment: the four in slots and the two beyond them become unanswered
# events (those beyond: unattributed, as their endpoints were not kept),
# each counted once in the kernel's requests (billing reconciles those with
# the events), and none of them is billed.
out=$(tg_client "$PYTHON" "$TG_CLIENT_PY" pipeline --addr "$TG_HOST_IP" --port "$PORT" \
	--key "$K_BEYOND_HANGUP" /v1/hangup /v1/ok /v1/ok /v1/ok /v1/ok /v1/ok)
assert_eq "six in one segment behind one the server hangs up on: none answered" \
	"0 0 0 0 0 0" "$out"
assert_eq "an unanswered event each" 6 "$(tg_wait_events 29 6 10)"
assert_eq "their status and flags" \
	"0 unanswered,0 unanswered,0 unanswered,0 unanswered,0 unanswered,unattributed,0 unanswered,unattributed," \
	"$(tg_events 29 '{status} {flags}' | sort | tr '\n' ',')"
tg_counters "$TG_DIR/c-beyond-hangup.json"
assert_eq "kernel counters requests and unanswered of consumer 26" "6 6" \
	"$(tg_counter "$TG_DIR/c-beyond-hangup.json" 26 1 requests) $(tg_counter "$TG_DIR/c-beyond-hangup.json" 26 1 unanswered)"

# The same behind one the server answers after 4 s (/v1/stall), the
# connection open: past unanswered_after (1 s), the flow's timer makes the
# four in slots unanswered events, and the two beyond them once the last
# of them is as old; the late answers are then charged as unattributed.
out=$(tg_client "$PYTHON" "$TG_CLIENT_PY" pipeline --timeout 8 --addr "$TG_HOST_IP" --port "$PORT" \
	--key "$K_BEYOND_STALL" /v1/stall /v1/ok /v1/ok /v1/ok /v1/ok /v1/ok)
assert_eq "six in one segment behind one the server answers late: all answered" \
	"200 200 200 200 200 200" "$out"
assert_eq "an unanswered event each, then an unattributed one each" 12 "$(tg_wait_events 30 12 10)"
assert_eq "their status and flags" \
	"0 unanswered,0 unanswered,0 unanswered,0 unanswered,0 unanswered,unattributed,0 unanswered,unattributed,$(printf '200 unattributed,%.0s' {1..6})" \
	"$(tg_events 30 '{status} {flags}' | sort | tr '\n' ',')"
assert_eq "the unanswered ones came before the answers" "$(printf 'unanswered\n%.0s' {1..6})" \
	"$(tg_events 30 '{status} {flags}' | sed -n 1,6p | awk '{ print $2 }' | cut -d, -f1)"

# A server that coalesces the responses of pipelined requests (/v1/batch holds
# them until it has n): each response in the send is its own event, with its
# own bytes, none left unanswered.
batch_len=$("$PYTHON" -c 'print(len(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 8\r\n\r\nbatch 1\n"))')
out=$(tg_client "$PYTHON" "$TG_CLIENT_PY" pipeline --gap 0.01 --addr "$TG_HOST_IP" --port "$PORT" \
	--key "$K_BATCH" '/v1/batch?n=3' '/v1/batch?n=3' '/v1/batch?n=3')
assert_eq "three responses in one send: all answered" "200 200 200" "$out"
assert_eq "one event per response in the send" 3 "$(tg_wait_events 15 3 10)"
assert_eq "their status, flags and bytes" "$(printf "200 - $batch_len,%.0s" 1 2 3)" \
	"$(tg_events 15 '{status} {flags} {resp_bytes}' | tr '\n' ',')"
# 103 Early Hints before each; the first head alone, then the first body, the
# second 103 and the second response in one send
out=$(tg_client "$PYTHON" "$TG_CLIENT_PY" pipeline --gap 0.01 --addr "$TG_HOST_IP" --port "$PORT" \
	--key "$K_BATCH" '/v1/batch?n=2&early=1&split=1' '/v1/batch?n=2&early=1&split=1')
assert_eq "two responses after 103s, the second behind the first's body: both answered" \
	"200 200" "$out"
assert_eq "one event per final response, the 103s skipped" 5 "$(tg_wait_events 15 5 10)"
assert_eq "their status, flags and bytes (without the 103s)" "$(printf "200 - $batch_len,%.0s" 1 2)" \
	"$(tg_events 15 '{status} {flags} {resp_bytes}' | tail -n 2 | tr '\n' ',')"
tg_counters "$TG_DIR/c-batch.json"
assert_eq "kernel counter requests of consumer 12" 5 \
	"$(tg_counter "$TG_DIR/c-batch.json" 12 1 requests)"
assert_eq "kernel counters unattributed and unanswered of consumer 12" "0 0" \
	"$(tg_counter "$TG_DIR/c-batch.json" 12 1 unattributed) $(tg_counter "$TG_DIR/c-batch.json" 12 1 unanswered)"

# A server that writes its status line a few bytes at a time: sk_msg holds
# the pieces until a status line's worth is there, then sees the response.
held0=$(tg_kernel_stat response_heads_held)
pieces_len=$("$PYTHON" -c 'print(len(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 7\r\n\r\npieces\n"))')
assert_eq "a response whose status line came in pieces" 200 \
	"$(tg_client curl -s --max-time 5 -o /dev/null -w '%{http_code}' -H "X-API-Key: $K_PIECES" "$URL/v1/pieces")"
assert_eq "its event" 1 "$(tg_wait_events 16 1 10)"
assert_eq "its status, flags and bytes" "200 - $pieces_len" "$(tg_events 16 '{status} {flags} {resp_bytes}')"
# held once: the kernel adds the second piece to the first without running
# the program, as 16 bytes are not there yet
assert_eq "the kernel held the short pieces (response_heads_held +1)" "$((held0 + 1))" \
	"$(tg_kernel_stat response_heads_held)"
# The kernel keeps the message it held for every later send on the socket:
# on a kept-alive connection, responses after one in pieces (coalesced ones,
# a big one, and pairs whose first send ends 2 or 10 bytes into the second
# one's status line, which cannot be held there: sk_msg keeps those bytes
# in the flow) reach the client whole and are each seen, with their bytes.
out=$(tg_client "$PYTHON" "$TG_CLIENT_PY" pipeline --gap 0.05 --addr "$TG_HOST_IP" --port "$PORT" \
	--key "$K_PIECES" /v1/pieces /v1/ok '/v1/batch?n=2' '/v1/batch?n=2' '/v1/batch?n=2&cut=74' \
	'/v1/batch?n=2&cut=74' '/v1/batch?n=2&cut=82' '/v1/batch?n=2&cut=82' '/v1/big?bytes=300000' \
	/v1/pieces /v1/ok)
assert_eq "responses after one in pieces on its connection" "$(printf '200 %.0s' {1..11} | sed 's/ $//')" "$out"
assert_eq "one event each" 12 "$(tg_wait_events 16 12 10)"
assert_eq "none unanswered or unattributed" "" "$(tg_events 16 '{flags}' | grep -v '^-$')"
assert_eq "the bytes of the batches" "$batch_len $batch_len $batch_len $batch_len $batch_len $batch_len" \
	"$(tg_events 16 '{resp_bytes}' | sed -n 4,9p | xargs)"

# Chunked responses: the event is written at the last chunk, not when the
# connection closes (the client holds it open for 3 s after the answer).
chunked_len=$("$PYTHON" -c 'print(len(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n" + 3 * b"5\r\nhello\r\n" + b"0\r\n\r\n"))')
tg_client "$PYTHON" "$TG_CLIENT_PY" pipeline --hold 3 --addr "$TG_HOST_IP" --port "$PORT" \
	--key "$K_CHUNKED" /v1/chunked >"$TG_DIR/chunked.out" &
held=$!
for ((i = 0; i < 20; i++)); do
	[ "$(tg_events 17 | wc -l)" -ge 1 ] && break
	sleep 0.1
done
assert_eq "a chunked response's event while its connection is open" "1 open" \
	"$(tg_events 17 | wc -l) $(kill -0 "$held" 2>/dev/null && echo open || echo closed)"
wait "$held"
assert_eq "its status" 200 "$(cat "$TG_DIR/chunked.out")"
assert_eq "its status, flags and bytes" "200 - $chunked_len" "$(tg_events 17 '{status} {flags} {resp_bytes}')"
# the same response in sends of 7, 3 and 1 bytes: size lines and the blank
# line after the last chunk split over sends, followed from one to the next
events=1
for k in 7 3 1; do
	out=$(tg_client "$PYTHON" "$TG_CLIENT_PY" pipeline --addr "$TG_HOST_IP" --port "$PORT" \
		--key "$K_CHUNKED" "/v1/chunked?n=3&slices=$k")
	assert_eq "a chunked response in sends of $k bytes" 200 "$out"
	events=$((events + 1))
	assert_eq "its event" "$events" "$(tg_wait_events 17 "$events" 10)"
	assert_eq "its status, flags and bytes" "200 - $chunked_len" \
		"$(tg_events 17 '{status} {flags} {resp_bytes}' | tail -n 1)"
done
# many chunks in one send: 2,000 (20 KB, more than one run of the program
# reads), then 200 in sends of 1,000 bytes (more chunks than one run reads);
# each response ends where it does
for nk in 2000:1000000 200:1000; do
	out=$(tg_client "$PYTHON" "$TG_CLIENT_PY" pipeline --gap 0.05 --addr "$TG_HOST_IP" --port "$PORT" \
		--key "$K_CHUNKED" "/v1/chunked?n=${nk%:*}&slices=${nk#*:}" /v1/ok)
	assert_eq "${nk%:*} chunks in sends of ${nk#*:} bytes, then a response" "200 200" "$out"
	events=$((events + 2))
	assert_eq "their events" "$events" "$(tg_wait_events 17 "$events" 10)"
	len=$("$PYTHON" -c 'import sys; print(len(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n" + int(sys.argv[1]) * b"5\r\nhello\r\n" + b"0\r\n\r\n"))' "${nk%:*}")
	assert_eq "the chunked one's status, flags and bytes" "200 - $len" \
		"$(tg_events 17 '{status} {flags} {resp_bytes}' | tail -n 2 | head -n 1)"
done
# two_in_one_send KEY KEY_ID URL LEN LABEL: two requests for URL, whose
# responses (LEN bytes each, or LEN1,LEN2) /v1/batch writes in one send:
# both answered, one event each (the key's events so far counted in
# $events), with their own bytes.
two_in_one_send() {
	local key=$1 key_id=$2 url=$3 len=$4 label=$5 out want
	[[ $len == *,* ]] || len=$len,$len
	want="200 - ${len%,*},200 - ${len#*,},"
	out=$(tg_client "$PYTHON" "$TG_CLIENT_PY" pipeline --gap 0.01 --addr "$TG_HOST_IP" --port "$PORT" \
		--key "$key" "$url" "$url")
	assert_eq "two $label responses in one send: both answered" "200 200" "$out"
	events=$((events + 2))
	assert_eq "one event each" "$events" "$(tg_wait_events "$key_id" "$events" 10)"
	assert_eq "their status, flags and bytes ($len)" "$want" \
		"$(tg_events "$key_id" '{status} {flags} {resp_bytes}' | tail -n 2 | tr '\n' ',')"
}
# two chunked responses coalesced in one send: each seen; the same with
# "gzip, chunked" (chunked as the final coding is chunked framing)
for te in "" gzip; do
	coding=${te:+$te, }chunked
	len=$("$PYTHON" -c 'import sys; print(len(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: " + sys.argv[1].encode() + b"\r\n\r\n" + b"8\r\nbatch 1\n\r\n0\r\n\r\n"))' "$coding")
	two_in_one_send "$K_CHUNKED" 17 "/v1/batch?n=2&chunked=1${te:+&te=$te}" "$len" "'$coding'"
done
tg_counters "$TG_DIR/c-chunked.json"
assert_eq "kernel counters requests, unattributed and unanswered of consumer 14" "12 0 0" \
	"$(for f in requests unattributed unanswered; do tg_counter "$TG_DIR/c-chunked.json" 14 1 $f; done | xargs)"

# A body that is itself a response ("HTTP/1.1 200 OK" and a head), sent
# after its head in a send of its own: the length in the head says it is
# body, so it is neither a response of its own nor charged; the same inside
# a chunk.
lookalike_len=$("$PYTHON" -c 'print(len(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 38\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))')
lookalike_chunked_len=$("$PYTHON" -c 'print(len(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n26\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n\r\n0\r\n\r\n"))')
out=$(tg_client "$PYTHON" "$TG_CLIENT_PY" pipeline --gap 0.01 --addr "$TG_HOST_IP" --port "$PORT" \
	--key "$K_LOOKALIKE" /v1/lookalike '/v1/lookalike?chunked=1')
assert_eq "two responses whose bodies look like responses: both answered" "200 200" "$out"
assert_eq "one event each" 2 "$(tg_wait_events 18 2 10)"
assert_eq "their status, flags and bytes" "200 - $lookalike_len,200 - $lookalike_chunked_len," \
	"$(tg_events 18 '{status} {flags} {resp_bytes}' | tr '\n' ',')"
# The same without a length: its body runs to the close (RFC 9112 6.3), so
# a send that begins like a status line is body too.
lookalike_close_len=$("$PYTHON" -c 'print(len(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))')
assert_eq "a response without a length whose body looks like a response" 200 \
	"$(tg_client curl -s --max-time 5 -o /dev/null -w '%{http_code}' -H "X-API-Key: $K_LOOKALIKE" "$URL/v1/lookalike?close=1")"
assert_eq "one event, at the close" 3 "$(tg_wait_events 18 3 10)"
assert_eq "its status, flags and bytes" "200 - $lookalike_close_len" \
	"$(tg_events 18 '{status} {flags} {resp_bytes}' | tail -n 1)"
tg_counters "$TG_DIR/c-lookalike.json"
assert_eq "kernel counters requests, unattributed and unanswered of consumer 15" "3 0 0" \
	"$(for f in requests unattributed unanswered; do tg_counter "$TG_DIR/c-lookalike.json" 15 1 $f; done | xargs)"

# Heads longer than the 1024 bytes sk_msg reads at a time (a line of 1.5 or
# 3 KiB, then lines of 64 bytes, before Content-Length or Transfer-Encoding),
# and chunked responses with a trailer field: where each ends is found, so
# the second of two responses coalesced in one send is seen too, none is
# left unanswered, and the bytes are each response's own. The same when the
# first send ends inside the first head (cut=N: N bytes first, the rest
# 50 ms later): the kernel holds those bytes until the rest comes.
events=0
held0=$(tg_kernel_stat response_heads_held)
for q in hdr=3000 hdr=3000\&chunked=1 chunked=1\&trailers=1 hdr=6000\&chunked=1\&trailers=1 \
	cut=30 hdr=3000\&cut=2000; do
	len=$("$PYTHON" -c 'import sys; sys.path.insert(0, sys.argv[1]); import http_server
q = dict(p.split("=", 1) for p in sys.argv[2].split("&"))
print(len(http_server.Handler.batch_response(q, 1)))' "$TG_ROOT/tests/integration" "$q")
	two_in_one_send "$K_LONGHEAD" 19 "/v1/batch?n=2&$q" "$len" "($q)"
done
assert_eq "the kernel held the two cut heads (response_heads_held +2)" "$((held0 + 2))" \
	"$(tg_kernel_stat response_heads_held)"
tg_counters "$TG_DIR/c-longhead.json"
assert_eq "kernel counters requests, unattributed and unanswered of consumer 16" "12 0 0" \
	"$(for f in requests unattributed unanswered; do tg_counter "$TG_DIR/c-longhead.json" 16 1 $f; done | xargs)"

# Where a response ends inside a send, the kernel sends that far and runs the
# program again over the rest. (1) Three responses of shrinking length in
# one send, then two more in sends of their own: each is seen, with its own
# bytes (what one run told the kernel to send must not carry over to the
# next).
q='/v1/batch?n=3&shrink=1'
lens=$("$PYTHON" -c 'import sys; sys.path.insert(0, sys.argv[1]); import http_server
print(",".join("200 - %d" % len(http_server.Handler.batch_response({"shrink": "1"}, i)) for i in (1, 2, 3)))' \
	"$TG_ROOT/tests/integration")
out=$(tg_client "$PYTHON" "$TG_CLIENT_PY" pipeline --gap 0.01 --addr "$TG_HOST_IP" --port "$PORT" \
	--key "$K_SPLIT" "$q" "$q" "$q" /v1/ok /v1/ok)
assert_eq "three responses of shrinking length in one send, then two" "200 200 200 200 200" "$out"
assert_eq "one event each" 5 "$(tg_wait_events 20 5 10)"
assert_eq "their status, flags and bytes" "$lens" \
	"$(tg_events 20 '{status} {flags} {resp_bytes}' | head -n 3 | paste -sd,)"
assert_eq "the two after them" "200 -,200 -" "$(tg_events 20 '{status} {flags}' | tail -n 2 | paste -sd,)"
# (2) A send that ends inside the chunk framing after the first response's
# head or chunk: in its size line, in the last chunk's line, in its trailer
# field or the blank line (cut=N: the first N bytes in a send of their own,
# the rest 50 ms later). That rest of a send cannot be held until the line
# is whole (the kernel would put the next send's bytes in the wrong place):
# where the framing stands is kept in the flow and the next send goes on
# from there, so each response ends where it does, with its own bytes, and
# the client gets every byte as it was sent.
events=5
q='n=2&chunked=1&trailers=1'
len=$("$PYTHON" -c 'import sys; sys.path.insert(0, sys.argv[1]); import http_server
print(len(http_server.Handler.batch_response({"chunked": "1", "trailers": "1"}, 1)))' "$TG_ROOT/tests/integration")
head=$("$PYTHON" -c 'import sys; sys.path.insert(0, sys.argv[1]); import http_server
print(len(http_server.Handler.CHUNKED_HEAD))' "$TG_ROOT/tests/integration")
# "8" "\r" | "batch 1\n\r\n" | "0" "\r\n" "Che" ... "1f2e\r\n" "\r"
for at in 1 2 14 16 19 32 33; do
	two_in_one_send "$K_SPLIT" 20 "/v1/batch?$q&cut=$((head + at))" "$len" "(cut $at bytes after the head)"
done
# (3) A send that ends inside the second response's head, after the whole
# first one (30 bytes into it; 2000 bytes into a head of 3 KiB; 30 bytes into
# one of 3 KiB after a short response): that rest is held until the head is
# whole, after a pull that puts the kernel's write position back where the
# held bytes end (without it, when the rest of the head is longer than the
# first response, the client gets mangled bytes), so both responses end
# where they do.
rest_cut() { # QUERY OFFSET: "LEN1,LEN2 CUT", CUT OFFSET bytes into the second response
	"$PYTHON" -c 'import sys; sys.path.insert(0, sys.argv[1]); import http_server
q = dict(p.split("=", 1) for p in sys.argv[2].split("&"))
a, b = (len(http_server.Handler.batch_response(q, i)) for i in (1, 2))
print("%d,%d %d" % (a, b, a + int(sys.argv[3])))' "$TG_ROOT/tests/integration" "$1" "$2"
}
grep -q "sk_msg holds the rest of a split send" "$TG_AGENT_LOG" ||
	tg_fatal "this kernel is older than 6.13: the agent does not hold the rest of a split send"
held0=$(tg_kernel_stat response_heads_held)
for qa in "n=2 30" "n=2&hdr=3000 2000" "n=2&hdr2=3000 30"; do
	read -r len cut < <(rest_cut "${qa% *}" "${qa#* }")
	two_in_one_send "$K_SPLIT" 20 "/v1/batch?${qa% *}&cut=$cut" "$len" "(${qa% *}, cut ${qa#* } bytes into the second head)"
done
assert_eq "the kernel held the three cut heads (response_heads_held +3)" "$((held0 + 3))" \
	"$(tg_kernel_stat response_heads_held)"
tg_counters "$TG_DIR/c-split.json"
assert_eq "kernel counters requests, unattributed and unanswered of consumer 17" "25 0 0" \
	"$(for f in requests unattributed unanswered; do tg_counter "$TG_DIR/c-split.json" 17 1 $f; done | xargs)"

# ---------------------------------------------------------------------------
tg_log "5. key verdicts, Authorization: Bearer, IPv6"
before=$(wc -l <"$TG_SERVER_LOG")
assert_eq "unknown key answered" 401 "$(ccurl -o /dev/null -H "X-API-Key: $K_UNKNOWN" "$URL/v1/ok")"
assert_eq "missing key answered" 401 "$(ccurl -o /dev/null "$URL/v1/ok")"
assert_eq "unknown key over IPv6 answered" 401 \
	"$(ccurl -g -o /dev/null -H "X-API-Key: $K_UNKNOWN" "$URL6/v1/ok")"
# a lost answer: on the client's veth, lose_answer.bpf.o drops the first
# in-kernel answer it sees; the client sends its request again, which is
# decided and answered again
# (ip makes /sys/fs/bpf/tc/globals and /sys/fs/bpf/ip for an object with
# maps: removed at cleanup where this test made them and they are empty)
[ -e /sys/fs/bpf/ip ] || TG_CLEANUP_HOOKS+=("[ -e /sys/fs/bpf/tc ] || rm -f /sys/fs/bpf/ip")
[ -e /sys/fs/bpf/tc ] || TG_CLEANUP_HOOKS+=("rmdir /sys/fs/bpf/tc/globals /sys/fs/bpf/tc 2>/dev/null")
ip -n "$TG_NS" link set dev "$TG_CLIENT_IF" xdp off
ip -n "$TG_NS" link set dev "$TG_CLIENT_IF" xdp obj "$BUILD/lose_answer.bpf.o" sec xdp ||
	tg_fatal "cannot attach lose_answer.bpf.o to $TG_CLIENT_IF"
sent=$(tg_kernel_stat rejects_sent)
assert_eq "unknown key, its first 401 lost: answered when sent again" 401 \
	"$(ccurl -o /dev/null -H "X-API-Key: $K_UNKNOWN" "$URL/v1/ok")"
assert_eq "in-kernel answers for it (the lost one, then another)" 2 \
	"$(($(tg_kernel_stat rejects_sent) - sent))"
ip -n "$TG_NS" link set dev "$TG_CLIENT_IF" xdp off
ip -n "$TG_NS" link set dev "$TG_CLIENT_IF" xdp obj "$BUILD/noop.bpf.o" sec xdp ||
	tg_fatal "cannot attach noop.bpf.o to $TG_CLIENT_IF again"
assert_eq "refused key requests that reached the server" 0 "$(($(wc -l <"$TG_SERVER_LOG") - before))"
# body bytes lost ahead of a refused request: on the client's veth,
# lose_segment.bpf.o loses (tc egress) the second send of a POST's body,
# and a keyless GET follows it. XDP, sure the GET starts where the POST's
# body ends, refuses it and sends its RST there, off the server socket's
# rcv_nxt (its TCP still waits for the lost bytes): a challenge ACK. The
# client's answer to that (a duplicate ACK, or a RST once closed) has XDP
# reset the socket where it is
tc -n "$TG_NS" qdisc add dev "$TG_CLIENT_IF" clsact &&
	tc -n "$TG_NS" filter add dev "$TG_CLIENT_IF" egress bpf da \
		obj "$BUILD/lose_segment.bpf.o" sec tc ||
	tg_fatal "cannot attach lose_segment.bpf.o to $TG_CLIENT_IF"
read -r status cport < <(tg_client "$PYTHON" "$TG_CLIENT_PY" lostbody --addr "$TG_HOST_IP" \
	--port "$PORT" --key "$K_LOSTBODY")
assert_eq "a keyless GET behind a POST whose body's end was lost: answered" 401 "$status"
# server_socket CLIENT_PORT TENTHS: its socket of the connection from
# CLIENT_PORT, polled until it is gone or TENTHS tenths of a second passed
server_socket() {
	local socks i
	for ((i = 0; i < $2; i++)); do
		socks=$(ss -Htan "( sport = :$PORT and dport = :${1:-0} )")
		[ -z "$socks" ] && break
		sleep 0.1
	done
	echo "$socks"
}
assert_eq "the server's socket of that connection is gone within 3 s" "" "$(server_socket "$cport" 30)"
assert_eq "the admitted POST: one status-0 unanswered event" "1 0 unanswered" \
	"$(tg_wait_events 27 1 10) $(tg_events 27 '{status} {flags}')"
# a client that goes silent after its request (lose_segment.bpf.o loses what
# local port 61001 sends without payload after its data): no segment comes
# to be made the server's RST, so the agent destroys the server's socket
# 10 s after the answer (SOCK_DESTROY), and marks the connection reset
# reaper_metric NAME: tollgate_silent_refused_sockets_NAME_total, /metrics
reaper_metric() {
	curl -s --max-time 5 "http://127.0.0.1:$TG_METRICS_PORT/metrics" |
		sed -n "s/^tollgate_silent_refused_sockets_$1_total //p"
}
destroyed=$(reaper_metric destroyed)
assert_eq "a request with an unknown key from a client that then goes silent" 401 \
	"$(ccurl -o /dev/null --local-port 61001 -H "X-API-Key: $K_UNKNOWN" "$URL/v1/ok")"
sleep 1
assert_match "its server socket is still there 1 s after the answer" "ESTAB" \
	"$(ss -Htan "( sport = :$PORT and dport = :61001 )")"
assert_eq "... and destroyed by the agent within 15 s" "" "$(server_socket 61001 150)"
assert_eq "tollgate_silent_refused_sockets_destroyed_total (+1)" "$((destroyed + 1))" \
	"$(reaper_metric destroyed)"
tc -n "$TG_NS" qdisc del dev "$TG_CLIENT_IF" clsact
# an entry whose connection has no socket (written by hand, from local port
# 61002, answered 11 s ago): looked up by its tuple, the kernel finds the
# server's listener, which the agent must leave alone
gone=$(reaper_metric gone)
read -r rkey rvalue < <("$PYTHON" - "$TG_CLIENT_IP" "$TG_HOST_IP" 61002 "$PORT" <<'EOF'
import socket, struct, sys, time
def mapped(a):
    return bytes(10) + b"\xff\xff" + socket.inet_aton(a)
key = mapped(sys.argv[1]) + mapped(sys.argv[2]) + struct.pack(">HH", int(sys.argv[3]), int(sys.argv[4]))
answered = time.clock_gettime_ns(time.CLOCK_MONOTONIC) - 11 * 10**9
value = struct.pack("<IIQ", 1, 0, answered + 60 * 10**9)
print(key.hex(), value.hex())
EOF
)
bytes_of() { sed 's/../& /g' <<<"$1"; }
# shellcheck disable=SC2046 # the bytes go as separate words
bpftool map update pinned "$TG_PIN_DIR/tg_rejects" key hex $(bytes_of "$rkey") \
	value hex $(bytes_of "$rvalue") || tg_fatal "cannot write tg_rejects"
for ((i = 0; i < 30; i++)); do
	[ "$(reaper_metric gone)" = "$((gone + 1))" ] && break
	sleep 0.1
done
assert_eq "an entry with no socket of its own: counted as gone" "$((gone + 1))" "$(reaper_metric gone)"
assert_eq "... and the server's listener still takes connections" 200 \
	"$(ccurl -o /dev/null -H "X-API-Key: $K_REUSE" "$URL/v1/ok")"
assert_eq "key in Authorization: Bearer admitted" 200 \
	"$(ccurl -o /dev/null -H "Authorization: Bearer $K_BEARER" "$URL/v1/ok")"
assert_eq "admitted over IPv6" 200 "$(ccurl -g -o /dev/null -H "X-API-Key: $K_V6" "$URL6/v1/ok")"
assert_eq "events of the bearer key" 1 "$(tg_wait_events 7 1 10)"
n=$(tg_wait_events 6 1 10)
assert_eq "events of the IPv6 key" 1 "$n"
assert_eq "IPv6 event's client_ip and status" "$TG_CLIENT_IP6 200" "$(tg_events 6 '{client_ip} {status}')"
tg_counters "$TG_DIR/c-keys.json"
assert_ge "kernel counters: refused unknown_key (any consumer)" 2 "$("$PYTHON" -c '
import json, sys
print(sum(r.get("refused", {}).get("unknown_key", 0) for r in json.load(open(sys.argv[1]))))' \
	"$TG_DIR/c-keys.json" 2>/dev/null)"

# ---------------------------------------------------------------------------
tg_log "5b. SIGHUP reloads keys_file"
# ccurl_until STATUS KEY: poll (4/s, within the per-source limit) up to 5 s
ccurl_until() {
	local want=$1 key=$2 got i
	for ((i = 0; i < 20; i++)); do
		got=$(ccurl -o /dev/null -H "X-API-Key: $key" "$URL/v1/ok")
		[ "$got" = "$want" ] && break
		sleep 0.25
	done
	echo "$got"
}
K_NEW=$("$PYTHON" "$TG_CLIENT_PY" newkey)
assert_eq "key not yet in keys_file" 401 "$(ccurl -o /dev/null -H "X-API-Key: $K_NEW" "$URL/v1/ok")"
printf '%s 9 2 2\n' "$(tg_digest "$K_NEW")" >>"$TG_KEYS"
sed -i "/ 7 2 2\$/d" "$TG_KEYS" # the bearer key (key_id 7) goes
kill -HUP "$TG_AGENT_PID"
assert_eq "key added to keys_file admitted after SIGHUP" 200 "$(ccurl_until 200 "$K_NEW")"
assert_eq "key removed from keys_file refused after SIGHUP" 401 "$(ccurl_until 401 "$K_BEARER")"
assert_true "agent still running after SIGHUP" "pid $TG_AGENT_PID gone" kill -0 "$TG_AGENT_PID"

problems=$("$PYTHON" "$TG_CLIENT_PY" events "$TG_EVENTS" --check)
assert_eq "every line of events_file a valid CloudEvents tollgate.request" "" "$problems"

# ---------------------------------------------------------------------------
tg_log "5c. map fill: tollgatectl status and /metrics against bpftool's own count"
# three connections held open after their answers, so tg_flows is not empty
holders=()
for i in 1 2 3; do
	# not through tg_client: $! must be the client itself (ip execs it)
	ip netns exec "$TG_NS" "$PYTHON" "$TG_CLIENT_PY" pipeline --addr "$TG_HOST_IP" --port "$PORT" \
		--key "$K_KEEPALIVE" --hold 10 /v1/ok >"$TG_DIR/hold-$i.out" 2>&1 &
	holders+=($!)
	TG_PIDS+=($!) # stopped at cleanup if the test ends before them
done
for ((i = 0; i < 50; i++)); do
	[ "$(cat "$TG_DIR"/hold-*.out 2>/dev/null | grep -c '^200$')" -ge 3 ] && break
	sleep 0.1
done
assert_eq "three held connections answered" 3 "$(cat "$TG_DIR"/hold-*.out | grep -c '^200$')"
status=$(tg_ctl status --json 2>&1)
metrics=$(curl -s --max-time 5 "http://127.0.0.1:$TG_METRICS_PORT/metrics")
for m in tg_keys tg_buckets tg_flows tg_counters; do
	want=$(bpftool -j map dump pinned "$TG_PIN_DIR/$m" | "$PYTHON" -c 'import json, sys; print(len(json.load(sys.stdin)))')
	got=$("$PYTHON" -c 'import json, sys; print(json.loads(sys.argv[1])["maps"][sys.argv[2]]["entries"])' \
		"$status" "$m" 2>&1)
	assert_eq "tollgatectl status: entries of $m" "$want" "$got"
	got=$(sed -n "s/^tollgate_map_entries{map=\"$m\"} //p" <<<"$metrics")
	assert_eq "/metrics: tollgate_map_entries of $m" "$want" "$got"
done
assert_eq "tg_keys holds every line of keys_file" "$(grep -c . "$TG_KEYS")" \
	"$(sed -n 's/^tollgate_map_entries{map="tg_keys"} //p' <<<"$metrics")"
flows=$(sed -n 's/^tollgate_map_entries{map="tg_flows"} //p' <<<"$metrics")
assert_true "tg_flows holds the held connections ($flows)" "fewer than 3" test "${flows:-0}" -ge 3
kill "${holders[@]}" 2>/dev/null
wait "${holders[@]}" 2>/dev/null
keep=() # reaped: their pids are no longer ours to stop
for p in "${TG_PIDS[@]}"; do [[ " ${holders[*]} " == *" $p "* ]] || keep+=("$p"); done
TG_PIDS=("${keep[@]}")

# ---------------------------------------------------------------------------
tg_log "6. agent restart keeps enforcement, pins, counters and buckets"
assert_eq "strict plan: burst of 2 admitted then 429" "200 200 429 " "$(for i in 1 2 3; do
	ccurl -o /dev/null -H "X-API-Key: $K_STRICT" "$URL/v1/ok" | tr '\n' ' '
done)"
# pin_generation of tg_meta: new whenever the maps are created (DESIGN §3)
meta0=$(tg_meta_field pin_generation)
tg_counters "$TG_DIR/c-restart0.json"
tg_agent_stop
assert_eq "agent exit status after SIGTERM" 0 "$?"
assert_true "XDP still attached while the agent is down" "no xdp on $TG_HOST_IF" \
	tg_xdp_attached "$TG_HOST_IF"
assert_eq "rejected consumer while the agent is down" "429 429 429 " "$(for i in 1 2 3; do
	ccurl -o /dev/null -H "X-API-Key: $K_STRICT" "$URL/v1/ok" | tr '\n' ' '
done)"
assert_eq "unknown key while the agent is down" 401 \
	"$(ccurl -o /dev/null -H "X-API-Key: $K_UNKNOWN" "$URL/v1/ok")"
assert_eq "admitted consumer while the agent is down" 200 \
	"$(ccurl -o /dev/null -H "X-API-Key: $K_DOWNTIME" "$URL/v1/ok")"
tg_counters "$TG_DIR/c-down.json"
assert_eq "counter refused.over_limit of consumer 3 grows while the agent is down" \
	"$(($(tg_counter "$TG_DIR/c-restart0.json" 3 1 refused.over_limit) + 3))" \
	"$(tg_counter "$TG_DIR/c-down.json" 3 1 refused.over_limit)"
tg_agent_start 30
meta1=$(tg_meta_field pin_generation)
assert_eq "pin generation (tg_meta) unchanged by the restart" "$meta0" "$meta1"
assert_eq "rejected consumer after the restart" 429 \
	"$(ccurl -o /dev/null -H "X-API-Key: $K_STRICT" "$URL/v1/ok")"
tg_counters "$TG_DIR/c-restart1.json"
for field in requests 2xx refused.over_limit; do
	assert_eq "counter $field of consumer 1 kept across the restart" \
		"$(tg_counter "$TG_DIR/c-restart0.json" 1 1 $field)" \
		"$(tg_counter "$TG_DIR/c-restart1.json" 1 1 $field)"
done
assert_eq "counter requests of consumer 3 kept (2)" 2 "$(tg_counter "$TG_DIR/c-restart1.json" 3 1 requests)"
assert_eq "counter refused.over_limit of consumer 3 (1 before, 3 during, 1 after)" 5 \
	"$(tg_counter "$TG_DIR/c-restart1.json" 3 1 refused.over_limit)"
assert_eq "counter requests of the consumer admitted while the agent was down" 1 \
	"$(tg_counter "$TG_DIR/c-restart1.json" 5 1 requests)"
assert_eq "request admitted while the agent was down reaches events_file after the restart (count)" 1 \
	"$(tg_consumer_events 5 1)"
# every connection so far kept its flow until it closed (max_flows is roomy)
assert_eq "flows lost (kernel flows_lost)" 0 \
	"$(tg_kernel_stat flows_lost)"

# ---------------------------------------------------------------------------
tg_log "6b. kernels where the rest of a send cannot be held (TOLLGATE_REST_HOLD=0)"
tg_agent_stop
out=$(TOLLGATE_REST_HOLD=yes timeout 10 "$BUILD/tollgate-agent" --config "$TG_CONFIG" 2>&1)
assert_eq "TOLLGATE_REST_HOLD=yes: the agent stops" 1 "$?"
assert_match "... naming the variable" "TOLLGATE_REST_HOLD must be 0 or 1, not 'yes'" "$out"
TOLLGATE_REST_HOLD=0 tg_agent_start 30
assert_true "TOLLGATE_REST_HOLD=0: the agent says it does not hold" "not in its log" \
	grep -q "sk_msg does not hold the rest of a split send" "$TG_AGENT_LOG"
# a head cut there is not held: the client still gets every byte as it was
# sent and each request its event, the first with its own bytes (the second
# ends at the close, with its own bytes too as nothing follows it)
events=$(tg_events 20 | wc -l)
held0=$(tg_kernel_stat response_heads_held)
read -r len cut < <(rest_cut "n=2&hdr2=3000" 30)
two_in_one_send "$K_SPLIT" 20 "/v1/batch?n=2&hdr2=3000&cut=$cut" "$len" "(no hold, cut 30 bytes into the second head)"
assert_eq "nothing held (response_heads_held)" "$held0" "$(tg_kernel_stat response_heads_held)"

# ---------------------------------------------------------------------------
tg_log "6c. pins of the ABI before the agent's are taken over; of another, made anew"
# tg_meta as an agent of ABI $1 would have left it (the same generation)
set_meta_abi() {
	local v
	v=$("$PYTHON" -c 'import struct, sys
b = struct.pack("<IIQQ", int(sys.argv[1]), 0, int(sys.argv[2]), int(sys.argv[3]))
print(" ".join(str(x) for x in b))' "$1" "$(tg_meta_field pin_generation)" "$(tg_meta_field created_unix_ns)")
	# shellcheck disable=SC2086 # one argument a byte
	bpftool map update pinned "$TG_PIN_DIR/tg_meta" key 0 0 0 0 value $v
}
tg_agent_stop
abi=$(tg_meta_field abi_version)
gen0=$(tg_meta_field pin_generation)
flows0=$(tg_map_id tg_flows)
counters0=$(tg_map_id tg_counters)
buckets0=$(tg_map_id tg_buckets)
events0=$(tg_map_id tg_events)
set_meta_abi $((abi - 1))
assert_eq "tg_meta says the ABI before ($((abi - 1)))" "$((abi - 1))" "$(tg_meta_field abi_version)"
ev0=$(tg_consumer_events 5 0)
assert_eq "admitted while the agent is down" 200 \
	"$(ccurl -o /dev/null -H "X-API-Key: $K_DOWNTIME" "$URL/v1/ok")"
tg_counters "$TG_DIR/c-abi0.json"
tg_agent_start 30
assert_true "the agent says it took the pins over" "not in its log" \
	grep -q "pins of ABI $((abi - 1)) under .* taken for ABI $abi" "$TG_AGENT_LOG"
assert_eq "tg_meta says the agent's ABI again" "$abi" "$(tg_meta_field abi_version)"
assert_eq "pin generation unchanged" "$gen0" "$(tg_meta_field pin_generation)"
assert_eq "tg_counters adopted (the same map)" "$counters0" "$(tg_map_id tg_counters)"
assert_eq "tg_buckets and tg_events adopted" "$buckets0 $events0" "$(tg_map_id tg_buckets) $(tg_map_id tg_events)"
flows1=$(tg_map_id tg_flows)
assert_true "tg_flows made anew (map $flows1, was $flows0)" "the same map" \
	test -n "$flows1" -a "$flows1" != "$flows0"
tg_counters "$TG_DIR/c-abi1.json"
assert_eq "counter requests of consumer 5 kept" \
	"$(tg_counter "$TG_DIR/c-abi0.json" 5 1 requests)" "$(tg_counter "$TG_DIR/c-abi1.json" 5 1 requests)"
assert_eq "the event queued while the agent was down reaches events_file" "$((ev0 + 1))" \
	"$(tg_consumer_events 5 $((ev0 + 1)))"
assert_eq "admitted after the upgrade" 200 "$(ccurl -o /dev/null -H "X-API-Key: $K_DOWNTIME" "$URL/v1/ok")"
assert_eq "... and its event" "$((ev0 + 2))" "$(tg_consumer_events 5 $((ev0 + 2)))"
# pins of an ABI the agent does not know: all made anew, counters from zero
# under a new generation (billing tells them apart); with no XDP attached
# (taken off by hand here), libxdp loads the object, not the agent
tg_agent_stop
set_meta_abi 99
ip link set dev "$TG_HOST_IF" xdp off
tg_agent_start 30
assert_eq "tg_meta says the agent's ABI" "$abi" "$(tg_meta_field abi_version)"
gen2=$(tg_meta_field pin_generation)
assert_true "a new pin generation ($gen2, was $gen0)" "the same" \
	test -n "$gen2" -a "$gen2" != "$gen0" -a "$gen2" != 0
assert_true "tg_counters made anew" "the same map" test "$(tg_map_id tg_counters)" != "$counters0"
tg_counters "$TG_DIR/c-abi2.json"
assert_eq "counter requests of consumer 5 from zero" 0 "$(tg_counter "$TG_DIR/c-abi2.json" 5 1 requests)"
assert_eq "admitted with the new maps" 200 "$(ccurl -o /dev/null -H "X-API-Key: $K_DOWNTIME" "$URL/v1/ok")"
assert_eq "... and its event" "$((ev0 + 3))" "$(tg_consumer_events 5 $((ev0 + 3)))"

# ---------------------------------------------------------------------------
tg_log "7. tollgatectl detach"
tg_agent_stop
tg_ctl detach >"$TG_DIR/detach.out" 2>&1
assert_eq "tollgatectl detach exit status" 0 "$?"
if tg_xdp_attached "$TG_HOST_IF"; then
	tg_not_ok "no XDP on $TG_HOST_IF after detach" "seen: $(ip -d link show dev "$TG_HOST_IF" | grep -o 'prog/xdp.*')"
else
	tg_ok "no XDP on $TG_HOST_IF after detach"
fi
left=$(ls -A "$TG_PIN_DIR" 2>/dev/null | tr '\n' ' ')
assert_eq "pins left under $TG_PIN_DIR" "" "$left"
cg_progs=$(bpftool cgroup show "$TG_CGROUP" 2>/dev/null | grep -v '^ID' | tr '\n' ' ')
assert_eq "programs left on the cgroup" "" "$cg_progs"
assert_eq "an unknown key reaches the server once detached" 200 \
	"$(ccurl -o /dev/null -H "X-API-Key: $K_UNKNOWN" "$URL/v1/ok")"

tg_summary
