#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# test-ringbuf-overflow.sh - no call is lost when the ring buffer overflows
# (DESIGN §4): the agent is stopped (SIGSTOP) while requests go through a
# 4 KiB ring buffer that holds a few events; the kernel counts the events it
# had no room for per (consumer, api), and the agent sends that count on as
# an admitted summary event. The counts of a consumer's events add up to its
# requests exactly.
#
# Run: BUILD=/abs/build bash tests/integration/test-ringbuf-overflow.sh (as root).
set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tg_init ringbuf
tg_topology_up rb
tg_cgroup_up tg-rb
tg_server_up "$(tg_free_port)"
PORT=$TG_PORT
URL="http://$TG_HOST_IP:$PORT"
tg_secrets_up
tg_config_write "$PORT" $'snapshot_interval = 1\nringbuf_kb = 4' "$(tg_generous_sections)"
KEY=$(tg_key_add 1 1 2)
tg_agent_start 30

N=60
kill -STOP "$TG_AGENT_PID"
codes=$(for ((i = 0; i < N; i++)); do
	tg_client curl -s --max-time 5 -o /dev/null -w '%{http_code} ' -H "X-API-Key: $KEY" "$URL/v1/ok"
done)
kill -CONT "$TG_AGENT_PID"
assert_eq "$N requests answered while the agent was stopped" "$(printf '200 %.0s' $(seq $N))" "$codes"

lost=$(tg_kernel_stat ringbuf_full)
assert_true "the 4 KiB ring buffer overflowed (ringbuf_full = $lost)" "nothing was lost" test "$lost" -gt 0

# the key's detailed events, and the counts of the consumer's admitted summaries
detail() { "$PYTHON" "$TG_CLIENT_PY" events "$TG_EVENTS" --key-id 1 --format '{count}' |
	awk '{ s += $1 } END { print s + 0 }'; }
summary() { "$PYTHON" "$TG_CLIENT_PY" events "$TG_EVENTS" --consumer-id 1 \
	--format '{flags} {verdict} {count}' | awk '$1 ~ /summary/ && $2 == "admitted" { s += $3 }
	END { print s + 0 }'; }
# summaries come every snapshot_interval (1 s)
for ((i = 0; i < 50; i++)); do
	[ $(($(detail) + $(summary))) -ge $N ] && break
	sleep 0.2
done
sleep 1.5 # and nothing more after that
detail=$(detail)
summary=$(summary)
tg_log "detailed events $detail, summarised $summary, ring buffer full $lost"
assert_eq "detailed events + summarised count = requests" "$N" "$((detail + summary))"
assert_eq "summarised count = events the ring buffer had no room for" "$lost" "$summary"
assert_eq "every request reached the server" "$N" "$(tg_server_count " $KEY\$")"

tg_summary
