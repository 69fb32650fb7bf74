#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# test-upgrade.sh - an agent of this ABI version takes over the pins an
# agent of the version before left (DESIGN §3: it migrates them), with the
# real previous agent: the last commit of the ABI before (PREVIOUS_ABI),
# built from this clone's history into the test's directory.
#
#   1. the previous agent enforces and counts three requests, then stops; one
#      more is admitted while no agent runs (its event waits in the ring)
#   2. this agent starts on those pins: it says so, tg_meta has its ABI and
#      the same pin generation, tg_counters, tg_buckets and tg_events are
#      the same maps, tg_flows (changed since) a new one; the counters are kept and the
#      queued event is written
#   3. it enforces with them: six pipelined requests (two beyond a flow's
#      four slots) are each counted once and each have their event
#
# Run: BUILD=/abs/build bash tests/integration/test-upgrade.sh (as root).
set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# the last commit whose maps are ABI 3 (bpf/tollgate_abi.h, agent/bpfload.c
# ABI_PREVIOUS); when the ABI moves on, this moves to the last one of 4
PREVIOUS_COMMIT=5c782a82ec6601c8cf5f098ce7d9a9bd94cc7ed0
PREVIOUS_ABI=3

tg_init upgrade
NEW=$BUILD
[ -x "$NEW/tollgate-agent" ] && [ -x "$NEW/tollgatectl" ] ||
	tg_fatal "$NEW/tollgate-agent and $NEW/tollgatectl must be built (make)"
tg_need bpftool git make
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
git -C "$REPO" cat-file -e "$PREVIOUS_COMMIT^{commit}" 2>/dev/null ||
	tg_fatal "commit $PREVIOUS_COMMIT (the last of ABI $PREVIOUS_ABI) is not in $REPO: this test needs main's history (a full clone)"
tg_log "building the ABI-$PREVIOUS_ABI agent ($PREVIOUS_COMMIT)"
mkdir -p "$TG_DIR/previous"
git -C "$REPO" archive "$PREVIOUS_COMMIT" | tar -x -C "$TG_DIR/previous" ||
	tg_fatal "git archive $PREVIOUS_COMMIT failed"
# its own make, whatever make runs this test (and into its own build/)
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$TG_DIR/previous" -s -j"$(nproc)" BUILD=build \
	build/tollgate-agent build/tollgatectl >"$TG_DIR/previous-build.log" 2>&1 || {
	tail -20 "$TG_DIR/previous-build.log"
	tg_fatal "the ABI-$PREVIOUS_ABI agent did not build"
}
OLD=$TG_DIR/previous/build

tg_topology_up tu
tg_cgroup_up tg-upgrade
tg_server_up "$(tg_free_port)"
PORT=$TG_PORT
URL="http://$TG_HOST_IP:$PORT"
tg_secrets_up
tg_config_write "$PORT" "" "$(tg_generous_sections)"
K=$(tg_key_add 1 7 2)

ccurl() { tg_client curl -s --max-time 5 -w '%{http_code}\n' "$@"; }

# ---------------------------------------------------------------------------
tg_log "1. the ABI-$PREVIOUS_ABI agent"
BUILD=$OLD tg_agent_start 30
assert_eq "admitted by it" "200 200 200 " \
	"$(for i in 1 2 3; do ccurl -o /dev/null -H "X-API-Key: $K" "$URL/v1/ok" | tr '\n' ' '; done)"
assert_eq "their events" 3 "$(tg_consumer_events 7 3)"
abi0=$(tg_meta_field abi_version) gen0=$(tg_meta_field pin_generation)
assert_eq "tg_meta of its pins says ABI $PREVIOUS_ABI" "$PREVIOUS_ABI" "$abi0"
counters0=$(tg_map_id tg_counters) buckets0=$(tg_map_id tg_buckets) events0=$(tg_map_id tg_events)
flows0=$(tg_map_id tg_flows)
tg_agent_stop
assert_eq "admitted while no agent runs" 200 "$(ccurl -o /dev/null -H "X-API-Key: $K" "$URL/v1/ok")"

# ---------------------------------------------------------------------------
tg_log "2. this agent on its pins"
BUILD=$NEW tg_agent_start 30
assert_true "it says it took the pins over" "not in its log" \
	grep -q "pins of ABI $PREVIOUS_ABI under $TG_PIN_DIR taken for ABI" "$TG_AGENT_LOG"
abi1=$(tg_meta_field abi_version) gen1=$(tg_meta_field pin_generation)
assert_true "tg_meta has its ABI now ($abi1)" "still $abi0" test "$abi1" -gt "$PREVIOUS_ABI"
assert_eq "the same pin generation" "$gen0" "$gen1"
assert_eq "tg_counters, tg_buckets and tg_events adopted (the same maps)" \
	"$counters0 $buckets0 $events0" "$(tg_map_id tg_counters) $(tg_map_id tg_buckets) $(tg_map_id tg_events)"
flows1=$(tg_map_id tg_flows)
assert_true "tg_flows made anew (map $flows1, was $flows0)" "the same map" \
	test -n "$flows1" -a "$flows1" != "$flows0"
tg_counters "$TG_DIR/c1.json"
assert_eq "counter requests of consumer 7 kept" 4 "$(tg_counter "$TG_DIR/c1.json" 7 1 requests)"
assert_eq "the event queued while no agent ran is written" 4 "$(tg_consumer_events 7 4)"

# ---------------------------------------------------------------------------
tg_log "3. enforcing with them"
out=$(tg_client "$PYTHON" "$TG_CLIENT_PY" pipeline --addr "$TG_HOST_IP" --port "$PORT" --key "$K" \
	/v1/ok /v1/ok /v1/ok /v1/ok /v1/ok /v1/ok)
assert_eq "six pipelined in one segment" "200 200 200 200 200 200" "$out"
assert_eq "an event each" 10 "$(tg_consumer_events 7 10)"
tg_counters "$TG_DIR/c2.json"
assert_eq "each counted once" 10 "$(tg_counter "$TG_DIR/c2.json" 7 1 requests)"
assert_eq "an unknown key refused" 401 \
	"$(ccurl -o /dev/null -H "X-API-Key: $("$PYTHON" "$TG_CLIENT_PY" newkey)" "$URL/v1/ok")"

tg_summary
