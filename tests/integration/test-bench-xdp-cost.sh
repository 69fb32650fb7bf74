#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# test-bench-xdp-cost.sh - the per-packet bench (`make bench`'s first part)
# runs on this kernel and measures what it says it does: every case takes
# the path it is named for (bench-xdp-cost checks each program's return code
# and tg_stats, and exits non-zero otherwise), every row of the JSON is
# there with figures, the floor's steps find tollgate's entries, and the
# options refuse what they cannot do. A short run (--repeat 100): no figure
# is judged here, `make bench` does that.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

BENCH="$BUILD/bench-xdp-cost"
[ -x "$BENCH" ] && [ -e "$BUILD/noop.bpf.o" ] ||
	tg_fatal "$BENCH or $BUILD/noop.bpf.o missing (make build/bench-xdp-cost)"
tg_init bench-xdp-cost

# 1. a short run, with the JSON
rc=0
"$BENCH" --repeat 100 --noop "$BUILD/noop.bpf.o" --json "$TG_DIR/x.json" >"$TG_DIR/out.md" \
	2>"$TG_DIR/err" || rc=$?
assert_eq "1: a short run exits 0" 0 "$rc"
[ "$rc" -eq 0 ] || sed 's/^/#   /' "$TG_DIR/err"

# every case, each with its figures; the floor's rows marked as such
check=$("$PYTHON" - "$TG_DIR/x.json" <<'EOF'
import json, sys
rows = json.load(open(sys.argv[1]))
want_main = [
    "non-request segment (body)",
    "admitted request, first on its connection",
    "admitted request, first on its connection, key not cached",
    "admitted request, no flow yet (made in XDP)",
    "admitted request, kept-alive connection",
    "admitted request, kept-alive connection, caches cold",
    "retransmitted request (not charged)",
    "refused over_limit (429 in-kernel, XDP_TX)",
    "non-request segment, rejects in use",
]
want_floor = [
    "clock (bpf_ktime_get_ns)",
    "tg_flows lookup (LRU hash, 36-byte key)",
    "tg_routes lookup (LPM trie)",
    "tg_buckets lookup (hash)",
    "tg_buckets lookup, its bpf_spin_lock taken and released",
    "tg_counters lookup (hash) and an atomic add",
    "all of them",
    "all of them, as the kept-alive row is measured",
]
by = {r["case"]: r for r in rows}
missing = [c for c in want_main + want_floor if c not in by]
wrong_kind = [c for c in want_main if c in by and by[c]["floor"]] + \
    [c for c in want_floor if c in by and not by[c]["floor"]]
no_figure = [r["case"] for r in rows if not (r["tg_ns"] > 0 and r["noop_ns"] > 0)]
copy = [r for r in rows if r["floor"] and r["case"].startswith("copy of the request's 401 bytes")]
targets = {r["case"]: r["target_added_ns"] for r in rows if r["target_added_ns"] > 0}
print(f"rows={len(rows)} missing={missing} wrong_kind={wrong_kind} no_figure={no_figure} "
      f"copy={len(copy)} kept_target={targets.get('admitted request, kept-alive connection', 0):.0f} "
      f"body_target={targets.get('non-request segment (body)', 0):.0f}")
EOF
) || check="python failed: $check"
assert_match "1: every case and floor step has a row with figures" \
	"missing=\[\] wrong_kind=\[\] no_figure=\[\] copy=1 kept_target=500 body_target=50$" "$check"
assert_true "1: the table says what the floor leaves of the kept-alive row" "$(tail -3 "$TG_DIR/out.md")" \
	grep -Eq '^kept-alive admitted request: [0-9]+ ns added, of which the steps above [0-9]+ ns' \
	"$TG_DIR/out.md"
assert_true "1: the floor table is printed" "$(grep -c '^| ' "$TG_DIR/out.md") table lines" \
	grep -q '^| step an admitted request needs (bench_floor, same frame) |' "$TG_DIR/out.md"

# 2. the profiles: --first runs the first request on a connection over and over
rc=0
"$BENCH" --profile 1 --first >"$TG_DIR/first.out" 2>&1 || rc=$?
assert_eq "2: --profile 1 --first exits 0" 0 "$rc"
assert_match "2: it names the program and the case" \
	"^tg_xdp is program [0-9]+; admitted requests, each first on its connection, for 1 s$" \
	"$(head -1 "$TG_DIR/first.out")"
n=$(sed -n 's/^\([0-9]*\) requests$/\1/p' "$TG_DIR/first.out")
assert_ge "2: and ran requests" 1000 "${n:-0}"

# 3. options it cannot honour
for args in "--cold" "--first" "--profile 1 --cold --first" "--repeat 5" "--profile 0"; do
	rc=0
	# shellcheck disable=SC2086
	"$BENCH" $args >"$TG_DIR/bad.out" 2>&1 || rc=$?
	assert_eq "3: '$args' is refused (exit 2)" 2 "$rc"
	assert_true "3: '$args' says why" "$(cat "$TG_DIR/bad.out")" \
		grep -q '^bench-xdp-cost: ' "$TG_DIR/bad.out"
done

tg_summary
