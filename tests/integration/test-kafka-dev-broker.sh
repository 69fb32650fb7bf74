#!/usr/bin/env bash
# test-kafka-dev-broker.sh - the development Kafka broker (scripts/, DESIGN
# §10) speaks the Kafka protocol to a real client (kcat) on 127.0.0.1:
# metadata, an idempotent produce with acks=all, a consume of everything
# back, and brokers taken down (clients fail) and up again (they recover).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
dir=$(mktemp -d /tmp/tg-kafka.XXXXXX)
broker_pid=""
passed=0
failed=0

cleanup() {
	exec 7>&- 2>/dev/null
	if [ -n "$broker_pid" ] && kill -0 "$broker_pid" 2>/dev/null; then
		kill "$broker_pid"
		wait "$broker_pid" 2>/dev/null
	fi
	rm -rf "$dir"
}
trap cleanup EXIT

ok() { passed=$((passed + 1)); echo "ok   - $1"; }
check() { # WHAT EXPECTED SEEN
	if [ "$2" = "$3" ]; then ok "$1 ($3)"; else
		failed=$((failed + 1)); printf 'FAIL - %s\n       expected: %s\n       seen:     %s\n' "$1" "$2" "$3"
	fi
}

mkfifo "$dir/control"
"$BUILD/kafka-dev-broker" --brokers 3 --topic tollgate.usage:4 --bootstrap-file "$dir/bootstrap" \
	<"$dir/control" >"$dir/broker.out" 2>&1 &
broker_pid=$!
exec 7>"$dir/control"
for ((i = 0; i < 50; i++)); do [ -s "$dir/bootstrap" ] && break; sleep 0.1; done
B=$(cat "$dir/bootstrap" 2>/dev/null)
check "bootstrap servers on 127.0.0.1" 3 "$(tr ',' '\n' <<<"$B" | grep -c '^127\.0\.0\.1:[0-9]*$')"

meta=$(kcat -b "$B" -L -m 5 2>&1)
check "metadata: 3 brokers" 1 "$(grep -c '3 brokers' <<<"$meta")"
check "metadata: tollgate.usage with 4 partitions" 1 \
	"$(grep -c 'topic "tollgate.usage" with 4 partitions' <<<"$meta")"

produce() { # N FIRST: produce N keyed messages, idempotent, acks=all
	seq "$2" $(($2 + $1 - 1)) | awk '{ print "c" $1 % 7 ":m" $1 }' |
		kcat -b "$B" -t tollgate.usage -P -K: -X enable.idempotence=true -X acks=all \
			-X message.timeout.ms=3000 -m 5 2>"$dir/produce.err"
}
produce 100 1
check "100 idempotent messages produced" 0 $?
consumed() { kcat -b "$B" -t tollgate.usage -C -e -q -f '%s\n' -m 10 2>/dev/null | sort -u | wc -l; }
check "all 100 consumed back, none twice" 100 "$(consumed)"

for id in 1 2 3; do echo "down $id" >&7; done
sleep 0.5
produce 5 101
rc=$?
check "with every broker down, producing fails" 1 "$([ $rc -ne 0 ] && echo 1 || echo 0)"
for id in 1 2 3; do echo "up $id" >&7; done
sleep 0.5
produce 5 201
check "brokers up again: producing works" 0 $?
check "consumed after the outage: 105 distinct" 105 "$(consumed)"
echo "rtt 1 x" >&7
echo quit >&7
wait "$broker_pid"
check "broker exits on quit" 0 $?
broker_pid=""
check "control answers" "ok down 1|ok up 3|error unknown command" \
	"$(grep -E '^ok down 1$' "$dir/broker.out")|$(grep -E '^ok up 3$' "$dir/broker.out")|$(grep -o '^error unknown command' "$dir/broker.out")"

echo "# $passed passed, $failed failed"
[ $failed -eq 0 ]
