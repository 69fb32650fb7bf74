#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# test-verifier-budget.sh - each kernel program loads on this kernel within
# TG_VERIFIER_MAX_PERCENT (75) percent of the verifier's 1M-instruction
# budget. A program that creeps towards the limit still loads here and may be
# refused by another kernel's verifier, which explores differently: this
# catches the creep where it starts (build/bpf-verifier-cost shows where).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

MAX=${TG_VERIFIER_MAX_PERCENT:-75}
OBJ="$BUILD/tollgate.bpf.o"
[ -e "$OBJ" ] && [ -x "$BUILD/bpf-verifier-cost" ] ||
	tg_fatal "$OBJ or $BUILD/bpf-verifier-cost missing (make all)"
[ "$(id -u)" -eq 0 ] || tg_fatal "loading BPF programs needs root"

table=$("$BUILD/bpf-verifier-cost" "$OBJ" 2>&1) || true
echo "$table" | sed 's/^/# /'
for prog in tg_xdp tg_sockops tg_skmsg tg_skb_pass tg_bucket_op; do
	line=$(awk -F' *[|] *' -v p="$prog" '$2 == p' <<<"$table")
	insns=$(awk -F' *[|] *' '{ print $3 }' <<<"$line")
	if [ -z "$line" ] || [[ "$line" == *"not loaded"* ]]; then
		tg_not_ok "$prog loads" "seen: ${line:-no line for it}"
		continue
	fi
	tg_ok "$prog loads"
	assert_range "$prog: instructions processed within ${MAX}% of the verifier's limit" \
		1 $((MAX * 10000)) "$insns"
done
tg_summary
