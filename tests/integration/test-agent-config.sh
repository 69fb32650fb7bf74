#!/usr/bin/env bash
# test-agent-config.sh - a wrong configuration stops tollgate-agent before it
# touches the kernel, with a message naming the key (issue 2): unknown key,
# bad number, missing or world-readable secret file, bad keys_file line, and
# settings this build does not support yet. Nothing is attached or pinned.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
AGENT="$BUILD/tollgate-agent"
CTL="$BUILD/tollgatectl"
dir=$(mktemp -d /tmp/tg-agentcfg.XXXXXX)
pins="/sys/fs/bpf/tg-cfgtest-$$"
trap 'rm -rf "$dir" "$pins"' EXIT
passed=0
failed=0

ok() { passed=$((passed + 1)); echo "ok   - $1"; }
not_ok() { failed=$((failed + 1)); echo "FAIL - $1"; shift; for l in "$@"; do echo "       $l"; done; }

printf '1 %s\n' 00112233445566778899aabbccddeeff > "$dir/secrets"
chmod 600 "$dir/secrets"
: > "$dir/keys"

base() {
	cat <<CONF
[agent]
interfaces = lo
api_ports = 8080
pin_dir = $pins
state_dir = $dir/state
keys_file = $dir/keys
events_file = $dir/events.jsonl
metrics_listen =
[security]
key_secret_file = $dir/secrets
CONF
}

# expect_refusal WHAT EXPECTED_SUBSTRING EXTRA_CONFIG
expect_refusal() {
	local what=$1 want=$2 extra=$3 out rc
	{ base; printf '%b' "$extra"; } > "$dir/conf"
	out=$(timeout 20 "$AGENT" --config "$dir/conf" 2>&1)
	rc=$?
	if [ $rc -ne 0 ] && grep -qF -- "$want" <<<"$out"; then
		ok "$what: exit $rc, \"$want\""
	else
		not_ok "$what" "expected: non-zero exit and a message containing \"$want\"" \
			"seen:     exit $rc: $out"
	fi
}

expect_refusal "unknown key" "agent.max_flow: unknown key" "[agent]\nmax_flow = 10\n"
# (the base config ends in [security]: agent keys go in a new [agent] section)
expect_refusal "bad number" "agent.max_flows: '12x' is not a number" "[agent]\nmax_flows = 12x\n"
expect_refusal "bad action" "agent.action_over_limit" "[agent]\naction_over_limit = maybe\n"
expect_refusal "plan without rate" "plan.free" "[plan.free]\nid = 1\n"

{ base | sed "s|^key_secret_file = .*|key_secret_file = $dir/nonexistent|"; } > "$dir/conf"
out=$(timeout 20 "$AGENT" --config "$dir/conf" 2>&1); rc=$?
if [ $rc -ne 0 ] && grep -q "nonexistent" <<<"$out"; then
	ok "missing secret file: exit $rc"
else
	not_ok "missing secret file" "seen: exit $rc: $out"
fi

chmod 644 "$dir/secrets"
expect_refusal "world-readable secret file" "security.key_secret_file" ""
chmod 600 "$dir/secrets"

echo "not-a-digest 1 2 3" > "$dir/keys"
expect_refusal "bad keys_file line" "$dir/keys:1" ""
: > "$dir/keys"

expect_refusal "bad redis.url" "redis.url" "[redis]\nurl = http://127.0.0.1:6379\n"
expect_refusal "unusable kafka.spool_dir" "kafka.spool_dir" \
	"[kafka]\nbrokers = 127.0.0.1:9\nspool_dir = /proc/tollgate-no-such/spool\n"
expect_refusal "refusal_listen in xdp mode" "agent.refusal_listen: only sockmap and both modes" \
	"[agent]\nrefusal_listen = 127.0.0.1:9481\n"
expect_refusal "geoip_db that cannot be opened" "agent.geoip_db: cannot open" "[agent]\ngeoip_db = /usr/share/GeoIP/x.mmdb\n"

# nothing was pinned by any of the refused starts
if [ -e "$pins" ] && [ -n "$(ls -A "$pins" 2>/dev/null)" ]; then
	not_ok "refused starts leave no pins" "seen: $(ls "$pins")"
else
	ok "refused starts leave no pins"
fi

# tollgatectl: digest of a key under the secret, and bad keys refused
base > "$dir/conf"
key="tg_1$(printf 'a%.0s' $(seq 1 39))"
d=$("$CTL" --config "$dir/conf" digest "$key" 2>&1)
if [[ "$d" =~ ^[0-9a-f]{32}$ ]]; then ok "tollgatectl digest prints 32 hex ($d)"; else not_ok "tollgatectl digest" "seen: $d"; fi
if out=$("$CTL" --config "$dir/conf" digest "tg_1short" 2>&1); then
	not_ok "tollgatectl digest refuses a malformed key" "seen: $out"
else
	ok "tollgatectl digest refuses a malformed key"
fi
if out=$("$CTL" --config "$dir/conf" digest "tg_7$(printf 'a%.0s' $(seq 1 39))" 2>&1) ||
	! grep -q "no secret" <<<"$out"; then
	not_ok "tollgatectl digest: key version without a secret" "seen: $out"
else
	ok "tollgatectl digest: key version without a secret is named"
fi
j=$("$CTL" --config "$dir/conf" secret new --json 2>&1)
if grep -q '"version":2' <<<"$j" && [ "$(stat -c %a "$dir/secrets")" = 600 ]; then
	ok "tollgatectl secret new appends version 2, file stays 0600"
else
	not_ok "tollgatectl secret new" "seen: $j, mode $(stat -c %a "$dir/secrets")"
fi

echo "# $passed passed, $failed failed"
[ $failed -eq 0 ]
