#!/usr/bin/env bash
# test-units.sh - the systemd units parse and reference an existing binary
# (PID 1 is not systemd here, so `systemd-analyze verify` is the check).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

fail=0
for unit in "$ROOT"/*/tollgate-*.service; do
	name=$(basename "$unit")
	sed "s|@SBINDIR@|$BUILD|g; s|@BINDIR@|$BUILD|g" "$unit" > "$dir/$name"
	if out=$(systemd-analyze verify "$dir/$name" 2>&1) && [ -z "$out" ]; then
		echo "ok   - $name verifies"
	else
		echo "FAIL - $name: $out"
		fail=1
	fi
done
exit $fail
