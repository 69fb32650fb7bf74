# SPDX-License-Identifier: BSD-2-Clause
# bench-peers/lib.sh - helpers the benchmarks of scripts/bench-peers.sh and
# scripts/bench-sockmap.sh share: process CPU and memory, BPF run time, waiting
# for listeners. Sourced after tests/integration/lib.sh (tg_log, tg_fatal,
# TG_PIDS); phase() needs T_START.

phase() { tg_log "[$(($(date +%s) - T_START)) s] $*"; }

# wait_listen PORT PID WHAT: until something listens on PORT
wait_listen() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ -n "$(ss -Htln "sport = :$1")" ] && return 0
		kill -0 "$2" 2>/dev/null || break
		sleep 0.1
	done
	tg_fatal "$3 did not listen on port $1"
}

# forget_pid PID: stopped by us already; tg_cleanup must not signal it again
forget_pid() {
	local i
	for i in "${!TG_PIDS[@]}"; do
		[ "${TG_PIDS[$i]}" = "$1" ] && unset 'TG_PIDS[i]'
	done
	TG_PIDS=("${TG_PIDS[@]}")
}

# family PID...: the processes and all their descendants (nginx's workers)
family() {
	local p
	for p in "$@"; do
		[ -n "$p" ] || continue
		echo "$p"
		# shellcheck disable=SC2046
		family $(pgrep -P "$p")
	done
}

# cpu_s PID...: user + system seconds the processes have used so far
cpu_s() {
	local f=() p
	for p in $(family "$@"); do [ -r "/proc/$p/stat" ] && f+=("/proc/$p/stat"); done
	[ ${#f[@]} -gt 0 ] || { echo 0; return; }
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); s += $12 + $13 } END { printf "%.3f", s / hz }' \
		"${f[@]}"
}

# machine_s: busy seconds of every CPU (user nice system irq softirq steal)
machine_s() { cpu_busy_s ""; }

# cpu_busy_s N: busy seconds of CPU N alone ("" for all of them), so a
# run can tell whether the server's CPU or the client's was the one that ran out
cpu_busy_s() {
	awk -v hz="$(getconf CLK_TCK)" -v c="cpu$1" '$1 == c { printf "%.3f", ($2 + $3 + $4 + $7 + $8 + $9) / hz }' \
		/proc/stat
}

# bpf_progs PIN_DIR: {"name": [run_time_ns, run_cnt], ...} summed per program
# name over the BPF programs that use the maps pinned in PIN_DIR (one agent's:
# tg_xdp, tg_sockops, tg_skmsg, tg_bucket_op), as one line of JSON
bpf_progs() {
	# shellcheck disable=SC2046
	bpftool -j prog show 2>/dev/null | "$PYTHON" -c '
import json, sys
ids = {int(x) for x in sys.argv[1:] if x}
out = {}
for p in json.load(sys.stdin):
    if ids & set(p.get("map_ids", [])):
        t = out.setdefault(p["name"], [0, 0])
        t[0] += p.get("run_time_ns", 0)
        t[1] += p.get("run_cnt", 0)
print(json.dumps(out, separators=(",", ":")))' $(pinned_map_ids "$1")
}

# pinned_map_ids PIN_DIR: the ids of the maps pinned in PIN_DIR
pinned_map_ids() {
	local f
	for f in "$1"/*; do
		bpftool -j map show pinned "$f" 2>/dev/null |
			"$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["id"])' 2>/dev/null
	done
}

# prog_id PIN_DIR NAME: the id of the loaded program NAME that uses the maps
# pinned in PIN_DIR (the newest, should there be more than one)
prog_id() {
	local dir=$1 name=$2
	# shellcheck disable=SC2046
	bpftool -j prog show 2>/dev/null | "$PYTHON" -c '
import json, sys
name, ids = sys.argv[1], {int(x) for x in sys.argv[2:] if x}
found = [p["id"] for p in json.load(sys.stdin)
         if p.get("name") == name and ids & set(p.get("map_ids", []))]
if found:
    print(max(found))' "$name" $(pinned_map_ids "$dir")
}
