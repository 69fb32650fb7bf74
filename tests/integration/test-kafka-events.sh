#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# test-kafka-events.sh - usage events go to Kafka through the agent's
# write-ahead log, exactly once per event id (DESIGN §4, §5), against the
# development broker (scripts/kafka-dev-broker.c, three brokers):
#
#   1. events arrive on tollgate.usage, keyed by consumer id, with the
#      CloudEvents content-type, one per request
#   2. every broker down: requests go on being served, events wait in the
#      spool; the agent is killed (SIGKILL) meanwhile; a new agent sends the
#      spool first; brokers up: every request's event arrives, none missing,
#      any duplicate carrying the same id
#  2b. the same under steady traffic, brokers down for 20 s: every request
#      answered, as many distinct ids in Kafka as requests the server saw
#   3. kafka.format = binary: the v1 records (92-byte header + endpoint) with
#      their content-type
#   4. kernel counter snapshots on tollgate.counters, keyed
#      {host_id}:{pin_generation}:{consumer}:{api}
#
# Run: BUILD=/abs/build bash tests/integration/test-kafka-events.sh (as root).
set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tg_init kafka
tg_need kcat

# the broker, controlled through a FIFO
mkfifo "$TG_DIR/broker.ctl"
"$BUILD/kafka-dev-broker" --brokers 3 --topic tollgate.usage:4 --topic tollgate.counters:1 \
	--bootstrap-file "$TG_DIR/bootstrap" <"$TG_DIR/broker.ctl" >"$TG_DIR/broker.out" 2>&1 &
TG_PIDS+=("$!")
exec 7>"$TG_DIR/broker.ctl"
for ((i = 0; i < 50; i++)); do [ -s "$TG_DIR/bootstrap" ] && break; sleep 0.1; done
BOOT=$(cat "$TG_DIR/bootstrap") || tg_fatal "the dev broker did not start"
brokers() { for id in 1 2 3; do echo "$1 $id" >&7; done; sleep 0.5; }

tg_topology_up kf
tg_cgroup_up tg-kf
tg_server_up "$(tg_free_port)"
PORT=$TG_PORT
URL="http://$TG_HOST_IP:$PORT"
tg_secrets_up
write_config() { # FORMAT
	tg_config_write "$PORT" "snapshot_interval = 1" "$(
		tg_generous_sections
		printf '[kafka]\nbrokers = %s\nformat = %s\nspool_dir = %s\n' "$BOOT" "$1" "$TG_DIR/spool"
	)"
}
write_config cloudevents
KEY=$(tg_key_add 1 5 2)
tg_agent_start 30

requests() { # N: N requests of the key on new connections, prints the statuses
	for ((i = 0; i < $1; i++)); do
		tg_client curl -s --max-time 5 -o /dev/null -w '%{http_code} ' -H "X-API-Key: $KEY" "$URL/v1/ok"
	done
}
consume() { # everything on the topic: key<TAB>headers<TAB>payload
	kcat -b "$BOOT" -t tollgate.usage -C -e -q -f '%k\t%h\t%s\n' 2>/dev/null
}
# wait until the topic holds N distinct events of the key
wait_distinct() {
	local n=0 i
	for ((i = 0; i < 100; i++)); do
		consume | cut -f3 >"$TG_DIR/kafka.jsonl"
		n=$("$PYTHON" "$TG_CLIENT_PY" events "$TG_DIR/kafka.jsonl" --key-id 1 --format '{id}' |
			sort -u | wc -l)
		[ "$n" -ge "$1" ] && break
		sleep 0.2
	done
	echo "$n"
}

tg_log "1. events on tollgate.usage"
assert_eq "20 requests answered" "$(printf '200 %.0s' $(seq 20))" "$(requests 20)"
assert_eq "20 distinct events on the topic" 20 "$(wait_distinct 20)"
consume >"$TG_DIR/kafka.tsv"
assert_eq "message keys: the consumer id" "5" "$(cut -f1 "$TG_DIR/kafka.tsv" | sort -u | tr '\n' ' ' | xargs)"
assert_eq "content-type header" "content-type=application/cloudevents+json" \
	"$(cut -f2 "$TG_DIR/kafka.tsv" | sort -u)"

tg_log "2. brokers away, agent killed, spool resent"
brokers down
assert_eq "15 requests answered with every broker down" "$(printf '200 %.0s' $(seq 15))" "$(requests 15)"
sleep 1
# (the mock broker may still finish a request already under way when it goes
# down, so a few events can get through; the rest must wait)
pending=$(curl -s "http://127.0.0.1:$TG_METRICS_PORT/metrics" | awk '$1 == "tollgate_spool_pending" { print $2 }')
assert_true "events wait in the spool (pending $pending)" "pending $pending" test "${pending:-0}" -ge 1
kup=$(curl -s "http://127.0.0.1:$TG_METRICS_PORT/metrics" | awk '$1 == "tollgate_kafka_up" { print $2 }')
assert_eq "metrics: tollgate_kafka_up with every broker down" 0 "$kup"
kill -9 "$TG_AGENT_PID"
wait "$TG_AGENT_PID" 2>/dev/null
TG_AGENT_PID=""
assert_true "spool files survive the kill" "spool empty" test -n "$(ls "$TG_DIR/spool")"
tg_agent_start 30
assert_true "the new agent resends the spool first" "no such log line" \
	grep -q 'earlier run go to Kafka first' "$TG_AGENT_LOG"
brokers up
assert_eq "every request's event arrived (35 distinct ids)" 35 "$(wait_distinct 35)"
total=$("$PYTHON" "$TG_CLIENT_PY" events "$TG_DIR/kafka.jsonl" --key-id 1 --format '{id}' | wc -l)
tg_log "messages of the key on the topic: $total (duplicates carry the same id)"
assert_eq "the server saw 35 requests" 35 "$(tg_server_count " $KEY\$")"

tg_log "2b. under traffic: brokers down 20 s, the agent SIGKILLed meanwhile"
KT=$(tg_key_add 2 6 2)
kill -HUP "$TG_AGENT_PID" # the new key
sleep 0.5
traffic() { # until $TG_DIR/stop: one request every 50 ms; statuses to $TG_DIR/traffic
	while [ ! -e "$TG_DIR/stop" ]; do
		tg_client curl -s --max-time 5 -o /dev/null -w '%{http_code}\n' -H "X-API-Key: $KT" \
			"$URL/v1/ok" >>"$TG_DIR/traffic"
		sleep 0.05
	done
}
traffic &
traffic_pid=$!
sleep 2
brokers down
sleep 8
kill -9 "$TG_AGENT_PID"
wait "$TG_AGENT_PID" 2>/dev/null
TG_AGENT_PID=""
sleep 2 # requests keep being served with no agent at all
tg_agent_start 30
sleep 8
brokers up
sleep 3
touch "$TG_DIR/stop"
wait "$traffic_pid"
served=$(wc -l <"$TG_DIR/traffic")
tg_log "$served requests during the outage and the kill"
assert_eq "enforcement never stopped: every request answered 200" "$served" \
	"$(grep -c '^200$' "$TG_DIR/traffic")"
assert_eq "the server answered each of them" "$served" "$(tg_server_count " $KT\$")"
n=0
for ((i = 0; i < 100; i++)); do
	consume | cut -f3 >"$TG_DIR/kafka2.jsonl"
	n=$("$PYTHON" "$TG_CLIENT_PY" events "$TG_DIR/kafka2.jsonl" --key-id 2 --format '{id}' | sort -u | wc -l)
	[ "$n" -ge "$served" ] && break
	sleep 0.2
done
assert_eq "distinct event ids in Kafka = requests the server answered (none lost)" "$served" "$n"
dups=$("$PYTHON" "$TG_CLIENT_PY" events "$TG_DIR/kafka2.jsonl" --key-id 2 --format '{id} {time}' |
	sort | uniq | awk '{ print $1 }' | uniq -d | wc -l)
assert_eq "a replayed duplicate carries the same id and time" 0 "$dups"

tg_log "3. binary v1 records"
tg_agent_stop
write_config binary
tg_agent_start 30
requests 5 >/dev/null
for ((i = 0; i < 100; i++)); do
	n=$(kcat -b "$BOOT" -t tollgate.usage -C -e -q -f '%h %S\n' 2>/dev/null |
		grep -c '^content-type=application/vnd.tollgate.usage.v1 ')
	[ "$n" -ge 5 ] && break
	sleep 0.2
done
assert_eq "5 binary records" 5 "$n"
assert_eq "each 92 header bytes + the endpoint (/v1/ok)" "98" \
	"$(kcat -b "$BOOT" -t tollgate.usage -C -e -q -f '%h %S\n' 2>/dev/null |
		awk '$1 ~ /vnd.tollgate/ { print $2 }' | sort -u)"

tg_log "4. counter snapshots"
gen=$(tg_ctl status --json | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["pin_generation"])')
snap=""
for ((i = 0; i < 50; i++)); do
	snap=$(kcat -b "$BOOT" -t tollgate.counters -C -e -q -f '%k %s\n' 2>/dev/null |
		grep "^[0-9]*:$gen:5:1 " | tail -1)
	[ -n "$snap" ] || { sleep 0.2; continue; }
	req=$("$PYTHON" -c 'import json,sys; print(json.loads(sys.argv[1].split(" ", 1)[1])["requests"])' \
		"$snap")
	[ "${req:-0}" -ge 40 ] && break
	sleep 0.2
done
assert_eq "latest snapshot of consumer 5, api 1: requests = the kernel counter" \
	"$(tg_ctl counters --json | "$PYTHON" -c 'import json,sys
print([r["requests"] for r in json.load(sys.stdin) if r["consumer_id"] == "5" and r["api_id"] == "1"][0])')" \
	"${req:-none}"

tg_log "5. tollgatectl events reads the topic (both encodings)"
tg_ctl events --json >"$TG_DIR/ctl-events.jsonl" 2>"$TG_DIR/ctl-events.err"
assert_eq "tollgatectl events --json: every id of consumer 5 (40)" 40 \
	"$("$PYTHON" "$TG_CLIENT_PY" events "$TG_DIR/ctl-events.jsonl" --key-id 1 --format '{id}' | sort -u | wc -l)"
# the binary itself in the background (not a shell function, whose $! would
# be a subshell that a kill leaves the process behind)
"$BUILD/tollgatectl" --config "$TG_CONFIG" events --follow --json >"$TG_DIR/follow.jsonl" 2>&1 &
follow_pid=$!
TG_PIDS+=("$follow_pid")
sleep 2
requests 3 >/dev/null
for ((i = 0; i < 50; i++)); do
	[ "$(wc -l <"$TG_DIR/follow.jsonl")" -ge 3 ] && break
	sleep 0.2
done
kill "$follow_pid"
wait "$follow_pid" 2>/dev/null
assert_eq "tollgatectl events --follow: the 3 new events only" 3 "$(wc -l <"$TG_DIR/follow.jsonl")"
assert_eq "... decoded from binary v1" "/v1/ok 200" \
	"$("$PYTHON" "$TG_CLIENT_PY" events "$TG_DIR/follow.jsonl" --key-id 1 --format '{endpoint} {status}' | sort -u)"

tg_agent_stop
assert_eq "a clean stop leaves an empty spool" "" "$(ls "$TG_DIR/spool")"

echo quit >&7
exec 7>&-
tg_summary
