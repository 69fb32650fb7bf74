#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# test-flows-lost.sh - a tg_flows too small for the open connections is not
# silent: tg_flows is an LRU map of agent.max_flows entries, so connections
# beyond it evict the flows of others, and with them any requests pending
# there (no event for those). The kernel counts, in flows_lost, the
# connections whose flow was gone when they closed.
#
#   1. max_flows = 4, ten connections opened and held (tg_sockops makes a
#      flow for each at the handshake), then closed: at least six flows lost
#   2. one kept-alive connection that sends a request and reads its answer:
#      its flow stays (the request's event is written) and none is lost
#   3. six connections held open (more than max_flows), then a request on a
#      new connection: its response is still seen (tg_sockhash holds twice
#      max_flows sockets), so its event has the status, not "unanswered"
#
# Run: BUILD=/abs/build bash tests/integration/test-flows-lost.sh (as root).
set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tg_init flows-lost
tg_topology_up fl
tg_cgroup_up tg-fl
tg_server_up "$(tg_free_port)"
PORT=$TG_PORT
URL="http://$TG_HOST_IP:$PORT"
tg_secrets_up
tg_config_write "$PORT" "max_flows = 4" "$(tg_generous_sections)"
KEY=$(tg_key_add 1 1 2)
tg_agent_start 30

# ---------------------------------------------------------------------------
tg_log "1. ten connections held open against four flows"
lost0=$(tg_kernel_stat flows_lost)
assert_eq "flows_lost before" 0 "$lost0"
# bash opens the ten connections, holds them for a second, then exits: each
# closes; the server reads EOF and closes its side
tg_client bash -c '
	for ((i = 0; i < 10; i++)); do exec {fd}<>"/dev/tcp/$0/$1" || exit 1; done
	sleep 1' "$TG_HOST_IP" "$PORT" ||
	tg_fatal "cannot open ten connections to $TG_HOST_IP:$PORT"
for ((i = 0; i < 50; i++)); do
	[ "$(tg_kernel_stat flows_lost)" -ge 6 ] && break
	sleep 0.1
done
sleep 0.5
lost1=$(tg_kernel_stat flows_lost)
assert_true "at least six of the ten closed without their flow (flows_lost = $lost1)" \
	"expected 6 to 10" test "$lost1" -ge 6 -a "$lost1" -le 10

# ---------------------------------------------------------------------------
tg_log "2. a connection alone keeps its flow"
assert_eq "a request on its own connection answered" 200 \
	"$(tg_client curl -s --max-time 5 -o /dev/null -w '%{http_code}' -H "X-API-Key: $KEY" "$URL/v1/ok")"
assert_eq "its event" 1 "$(tg_wait_events 1 1 10)"
assert_eq "no flow lost with it" "$lost1" "$(tg_kernel_stat flows_lost)"

# ---------------------------------------------------------------------------
tg_log "3. a new connection while more than max_flows are open"
tg_client bash -c '
	for ((i = 0; i < 6; i++)); do exec {fd}<>"/dev/tcp/$0/$1" || exit 1; done
	sleep 3' "$TG_HOST_IP" "$PORT" &
held=$!
sleep 1
assert_eq "a request on a seventh connection answered" 200 \
	"$(tg_client curl -s --max-time 5 -o /dev/null -w '%{http_code}' -H "X-API-Key: $KEY" "$URL/v1/ok")"
assert_eq "its event" 2 "$(tg_wait_events 1 2 10)"
assert_eq "with its status, not unanswered" "200 -" "$(tg_events 1 '{status} {flags}' | tail -n 1)"
wait "$held"

tg_summary
