#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# test-geoip.sh - the country of usage events (agent.geoip_db, DESIGN §4, §5):
# a MaxMind DB written by scripts/mkmmdb.py, read by Debian's mmdblookup and
# by tollgate-agent (libmaxminddb), in standalone mode on a real veth.
#
#   1. mkmmdb.py: mmdblookup reads its database (metadata, a /32 inside a
#      wider /30 wins whatever the line order, IPv4-mapped ::ffff:a.b.c.d
#      finds the IPv4 network, IPv6, an address in no network)
#   2. a bad agent.geoip_db (not a MaxMind DB, missing, truncated): the agent
#      exits at start with an error naming agent.geoip_db, before it attaches
#      or pins anything
#   3. events from the client namespace's addresses carry their countries:
#      10.77.S.2 DE (/32), 10.77.S.3 FR (/30), fd77:S::2 BR (IPv6), and
#      10.77.S.4, in no network, "--"
#   4. SIGHUP opens the database again: a new file (record_size 28) maps
#      10.77.S.4 to CA; a reload with a bad database keeps the running one
#   5. kafka.format = binary: the v1 records carry the country at offset 88
#
# Run: BUILD=/abs/build bash tests/integration/test-geoip.sh (as root).
set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tg_init geoip
[ -x "$BUILD/tollgate-agent" ] && [ -x "$BUILD/tollgatectl" ] ||
	tg_fatal "$BUILD/tollgate-agent and $BUILD/tollgatectl must be built (make)"
tg_need mmdblookup kcat
MKMMDB="$TG_ROOT/scripts/mkmmdb.py"

tg_topology_up geo
tg_cgroup_up tg-geo
tg_server_up "$(tg_free_port)"
PORT=$TG_PORT
tg_secrets_up

# the client namespace's source addresses: its own, two more, and IPv6
A_DE=$TG_CLIENT_IP
A_FR="10.77.$TG_SUBNET.3"
A_NONE="10.77.$TG_SUBNET.4"
A_BR=$TG_CLIENT_IP6
for a in "$A_FR" "$A_NONE"; do
	ip -n "$TG_NS" addr add "$a/24" dev "$TG_CLIENT_IF" || tg_fatal "cannot add $a to $TG_CLIENT_IF"
done

# ---------------------------------------------------------------------------
tg_log "1. mkmmdb.py writes a MaxMind DB that mmdblookup reads"
DB="$TG_DIR/country.mmdb"
# the /32 comes first: the more specific network wins whatever the order
cat >"$TG_DIR/networks" <<EOF
# CIDR COUNTRY
$A_DE/32 DE
10.77.$TG_SUBNET.0/30 FR
fd77:$TG_SUBNET::/64 BR
EOF
"$PYTHON" "$MKMMDB" --input "$TG_DIR/networks" "$DB" 2>"$TG_DIR/mkmmdb.err" ||
	tg_fatal "mkmmdb.py failed: $(cat "$TG_DIR/mkmmdb.err")"
# lookup ADDR: the country mmdblookup finds, or "none"
lookup() {
	local out
	out=$(mmdblookup --file "${2:-$DB}" --ip "$1" country iso_code 2>&1)
	grep -oE '"[A-Z]{2}"' <<<"$out" | tr -d '"' | grep . || echo none
}
meta=$(mmdblookup --file "$DB" --ip "$A_DE" --verbose 2>&1)
assert_match "mmdblookup: binary format 2.0" "Binary format: +2\.0" "$meta"
assert_match "mmdblookup: IPv6 tree" "IP version: +IPv6" "$meta"
assert_match "mmdblookup: database_type tollgate-test-country" "Type: +tollgate-test-country" "$meta"
assert_match "mmdblookup: record_size 24" "Record size: +24 bits" "$meta"
assert_eq "mmdblookup $A_DE (the /32)" DE "$(lookup "$A_DE")"
assert_eq "mmdblookup $A_FR (the /30 around it)" FR "$(lookup "$A_FR")"
assert_eq "mmdblookup ::ffff:$A_DE (IPv4-mapped)" DE "$(lookup "::ffff:$A_DE")"
assert_eq "mmdblookup $A_BR (IPv6)" BR "$(lookup "$A_BR")"
assert_eq "mmdblookup $A_NONE (in no network)" none "$(lookup "$A_NONE")"

# config GEOIP_DB [SECTIONS]: the agent's config with agent.geoip_db
config() {
	tg_config_write "$PORT" "snapshot_interval = 1
geoip_db = $1" "$(
		tg_generous_sections
		printf '%s' "${2:-}"
	)"
}
config "$DB"
#                     key_id consumer plan
K_DE=$(tg_key_add 1 1 2)
K_FR=$(tg_key_add 2 2 2)
K_NONE=$(tg_key_add 3 3 2)
K_BR=$(tg_key_add 4 4 2)
K_RELOAD=$(tg_key_add 5 5 2)
K_KEPT=$(tg_key_add 6 6 2)
K_BIN=$(tg_key_add 7 7 2)

# ---------------------------------------------------------------------------
tg_log "2. a bad agent.geoip_db stops the agent at start"
printf 'not a MaxMind database\n' >"$TG_DIR/not.mmdb"
head -c 200 "$DB" >"$TG_DIR/truncated.mmdb"
for bad in "not.mmdb:not a MaxMind DB" "missing.mmdb:cannot open" "truncated.mmdb:not a MaxMind DB"; do
	file="$TG_DIR/${bad%%:*}"
	config "$file"
	out=$(timeout 30 "$BUILD/tollgate-agent" --config "$TG_CONFIG" 2>&1)
	rc=$?
	assert_eq "${bad%%:*}: the agent exits 1" 1 "$rc"
	assert_match "... naming agent.geoip_db, the file and what is wrong" \
		"agent\.geoip_db: (.*$file.*${bad#*:}|.*${bad#*:}.*$file)" "$out"
	if tg_xdp_attached "$TG_HOST_IF" || [ -d "$TG_PIN_DIR" ]; then
		tg_not_ok "... before attaching or pinning anything" "seen: $(ls "$TG_PIN_DIR" 2>&1)"
	else
		tg_ok "... before attaching or pinning anything"
	fi
done

# ---------------------------------------------------------------------------
tg_log "3. events carry the country of their client address"
config "$DB"
tg_agent_start 30
assert_match "the agent logs the database it opened" "geoip: $DB \(tollgate-test-country, built " \
	"$(cat "$TG_AGENT_LOG")"

# calls KEY ADDR N: N requests from ADDR (an IPv6 one goes to the host's IPv6)
calls() {
	local key=$1 addr=$2 n=$3 url="http://$TG_HOST_IP:$PORT" i
	[[ "$addr" == *:* ]] && url="http://[$TG_HOST_IP6]:$PORT"
	for ((i = 0; i < n; i++)); do
		tg_client curl -s --max-time 5 -o /dev/null -w '%{http_code}\n' --interface "$addr" \
			-H "X-API-Key: $key" "$url/v1/ok"
	done
}
# countries KEY_ID: "client_ip country" of the key's events, counted
countries() { tg_events "$1" '{client_ip} {country}' | sort | uniq -c | awk '{ print $2, $3, $1 }'; }

assert_eq "3 calls from $A_DE answered" "200 200 200" "$(calls "$K_DE" "$A_DE" 3 | xargs)"
assert_eq "3 calls from $A_FR answered" "200 200 200" "$(calls "$K_FR" "$A_FR" 3 | xargs)"
assert_eq "3 calls from $A_NONE answered" "200 200 200" "$(calls "$K_NONE" "$A_NONE" 3 | xargs)"
assert_eq "3 calls from $A_BR answered" "200 200 200" "$(calls "$K_BR" "$A_BR" 3 | xargs)"
tg_wait_events 4 3 10 >/dev/null
assert_eq "events from $A_DE: DE (the /32)" "$A_DE DE 3" "$(countries 1)"
assert_eq "events from $A_FR: FR (the /30)" "$A_FR FR 3" "$(countries 2)"
assert_eq "events from $A_NONE, in no network: --" "$A_NONE -- 3" "$(countries 3)"
assert_eq "events from $A_BR: BR (IPv6)" "$A_BR BR 3" "$(countries 4)"
check=$("$PYTHON" "$TG_CLIENT_PY" events "$TG_EVENTS" --check)
assert_eq "every event is a valid CloudEvent (tgclient.py events --check)" "" "$check"

# ---------------------------------------------------------------------------
tg_log "4. SIGHUP opens the database again"
printf '%s\n' "$A_NONE/32 CA" >>"$TG_DIR/networks"
"$PYTHON" "$MKMMDB" --record-size 28 --input "$TG_DIR/networks" "$DB" 2>"$TG_DIR/mkmmdb.err" ||
	tg_fatal "mkmmdb.py failed: $(cat "$TG_DIR/mkmmdb.err")"
assert_eq "mmdblookup: the new file (record_size 28) maps $A_NONE to CA" CA "$(lookup "$A_NONE")"
assert_eq "... and keeps $A_DE DE" DE "$(lookup "$A_DE")"
kill -HUP "$TG_AGENT_PID"
tg_wait_for_line "$TG_AGENT_LOG" 'reloaded: ' 10 "$TG_AGENT_PID" ||
	tg_fatal "the agent did not reload: $(tail -5 "$TG_AGENT_LOG")"
assert_eq "after SIGHUP, 2 calls from $A_NONE answered" "200 200" "$(calls "$K_RELOAD" "$A_NONE" 2 | xargs)"
tg_wait_events 5 2 10 >/dev/null
assert_eq "... their events carry CA" "$A_NONE CA 2" "$(countries 5)"

sed -i "s|^geoip_db = .*|geoip_db = $TG_DIR/not.mmdb|" "$TG_CONFIG"
kill -HUP "$TG_AGENT_PID"
tg_wait_for_line "$TG_AGENT_LOG" 'reload: agent\.geoip_db' 10 "$TG_AGENT_PID"
assert_match "a reload with a bad database is refused, naming agent.geoip_db" \
	"reload: agent\.geoip_db: .*not\.mmdb.*keeping the running configuration" "$(cat "$TG_AGENT_LOG")"
assert_eq "... the agent runs on: 2 calls from $A_NONE answered" "200 200" \
	"$(calls "$K_KEPT" "$A_NONE" 2 | xargs)"
tg_wait_events 6 2 10 >/dev/null
assert_eq "... with the database it had (CA)" "$A_NONE CA 2" "$(countries 6)"
tg_agent_stop
assert_eq "the agent exits cleanly" 0 $?

# ---------------------------------------------------------------------------
tg_log "5. kafka.format = binary: the country in the v1 record"
tg_broker_up tollgate.usage:1 tollgate.counters:1
config "$DB" "$(printf '\n[kafka]\nbrokers = %s\nformat = binary\nspool_dir = %s\n' \
	"$TG_BROKERS" "$TG_DIR/spool")"
tg_agent_start 30
assert_eq "2 calls from $A_FR, 2 from $A_BR answered" "200 200 200 200" \
	"$({ calls "$K_BIN" "$A_FR" 2; calls "$K_BIN" "$A_BR" 2; } | xargs)"
# the records on the topic, parsed here from the documented layout
# (docs/event-format.md): key_id at 48, client_ip at 72, country at 88
records() {
	kcat -b "$TG_BROKERS" -t tollgate.usage -C -e -q -f '%s' 2>/dev/null | "$PYTHON" -c '
import ipaddress, struct, sys
b = sys.stdin.buffer.read()
while len(b) >= 92:
    magic, version = struct.unpack_from("<HB", b, 0)
    if magic != 0x4754 or version != 1:
        print("bad record"); break
    key_id, = struct.unpack_from("<I", b, 48)
    ip = ipaddress.IPv6Address(b[72:88])
    ip = ip.ipv4_mapped or ip
    print(key_id, ip, b[88:90].decode("ascii", "replace"))
    b = b[92 + b[55]:]' | sort | uniq -c | awk '{ print $2, $3, $4, $1 }'
}
for ((i = 0; i < 50; i++)); do
	[ "$(records | awk '$1 == 7 { n += $4 } END { print n + 0 }')" -ge 4 ] && break
	sleep 0.2
done
assert_eq "binary records of the key: country FR from $A_FR, BR from $A_BR" \
	"7 $A_FR FR 2|7 $A_BR BR 2" "$(records | awk '$1 == 7' | sort | paste -sd '|')"
tg_ctl events --json >"$TG_DIR/ctl-events.jsonl" 2>"$TG_DIR/ctl-events.err"
assert_eq "tollgatectl events decodes them with the same countries" "$A_FR FR 2|$A_BR BR 2" \
	"$("$PYTHON" "$TG_CLIENT_PY" events "$TG_DIR/ctl-events.jsonl" --key-id 7 \
		--format '{client_ip} {country}' | sort | uniq -c | awk '{ print $2, $3, $1 }' |
		paste -sd '|')"

tg_summary
