#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# bench-sockmap.sh - what sockmap mode costs behind a TLS-terminating nginx
# (issue 8; part of `make bench`, DESIGN §10, docs/sockmap.md).
#
# The setup of tests/integration/test-sockmap.sh, built for load: clients in
# their own namespace behind a veth (wrk over HTTPS, the keys taken in turn by
# scripts/bench-peers/keys.lua); on the API host, in one cgroup, the API
# server (nginx answering a fixed 200, one worker, on 127.0.0.1 only) and the
# front nginx (one worker) ending TLS with a certificate made here and
# proxying with the upstream block of docs/sockmap.md, read from the document
# itself (API server + tollgate-agent's refusal responder as backup,
# keepalive 32). The front nginx has a second TLS server, the same location
# plus nginx's own `limit_req`, for the comparison. Server side pinned to CPU
# $BENCH_SERVER_CPU (0), tollgate-agent too ($BENCH_AGENT_CPU), wrk to
# $BENCH_CLIENT_CPU (1). The front nginx logs at its default level (error):
# each refusal writes one line in both setups (tollgate: the EACCES of the
# refused write, which nginx logs at level alert; limit_req: "limiting
# requests", at its default limit_req_log_level, error).
#
# Contenders:
#   nginx        the front nginx, no limiter (no BPF: the agent is stopped and
#                `tollgatectl detach` run before)
#   tg_sockmap   the same, tollgate-agent in `mode = sockmap` with
#                `refusal_listen` (started before the front nginx, so every
#                upstream connection is one sk_msg sees)
#   nginx_limit  the same nginx, its limit_req server (rejection only)
# Plans, keyed on X-API-Key: "std" (one key) 10,000,000 requests/s, burst
# 10,000,000: nothing refused; "flood" 1/s, burst 1 (limit_req: rate=1r/s,
# no burst, nodelay, 429).
#
# BENCH_RUNS (5) interleaved rounds, the order alternating; in each, per
# contender, with a fresh front nginx: a 1 s warm-up, a fixed offered load
# (BENCH_FIXED_RPS, 2000 req/s, paced connections of 10 ms) and saturation
# (BENCH_CONNS, 64, connections), BENCH_DURATION (4) s each, on the std key;
# then the rejection run: saturation over BENCH_FLOOD_KEYS (100) flood keys
# for BENCH_REJECT_SECS (3) s, and the CPU used meanwhile: tollgate's own =
# run_time_ns of its BPF programs (kernel.bpf_stats_enabled = 1 for the run
# only, restored after) + tollgate-agent's user + system time (its refusal
# responder is a thread of it); the front nginx's, the API server's, wrk's
# and the whole machine's busy time beside it.
#
# Prints one markdown table (bench-peers/sockmap-report.py); writes the
# figures and every sample as JSON to $BENCH_JSON (default
# results/bench-sockmap-<date>.json). About 2.5 minutes with the defaults.
set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/../tests/integration/lib.sh"

RUNS=${BENCH_RUNS:-5}
DURATION=${BENCH_DURATION:-4}
CONNS=${BENCH_CONNS:-64}
FIXED_RPS=${BENCH_FIXED_RPS:-2000}
REJECT_SECS=${BENCH_REJECT_SECS:-3}
NFLOOD=${BENCH_FLOOD_KEYS:-100}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
CLIENT_CPU=${BENCH_CLIENT_CPU:-1}
AGENT_CPU=${BENCH_AGENT_CPU:-$SERVER_CPU}
STD_RATE=10000000
FLOOD_RATE=1
FLOOD_BURST=1

PEERS=$TG_ROOT/scripts/bench-peers
LUA=$PEERS/keys.lua
RECORD=$PEERS/report.py
REPORT=$PEERS/sockmap-report.py
DOC=$TG_ROOT/docs/sockmap.md

tg_init bench-sockmap
tg_need wrk nginx openssl bpftool taskset sysctl
for f in tollgate-agent tollgatectl; do
	[ -e "$BUILD/$f" ] || tg_fatal "$BUILD/$f missing (make all)"
done
[ "$(nproc)" -ge 2 ] || tg_fatal "needs 2 CPUs: servers on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
if [ -z "${BENCH_JSON:-}" ]; then
	mkdir -p "$TG_ROOT/results"
	BENCH_JSON=$TG_ROOT/results/bench-sockmap-$STAMP.json
fi
SAMPLES=$TG_DIR/samples.jsonl
: >"$SAMPLES"
T_START=$(date +%s)
. "$(dirname "${BASH_SOURCE[0]}")/bench-peers/lib.sh" # phase, wait_listen, cpu_s, bpf_progs, ...

# --- helpers (those of bench-peers.sh) -----------------------------------------------

# answers: the refusal responder's answers so far, {"verdict": count, ...}
answers() {
	curl -s --max-time 2 "http://127.0.0.1:$TG_METRICS_PORT/metrics" | "$PYTHON" -c '
import json, re, sys
out = {}
for m in re.finditer(r"^tollgate_refusal_answers_total\{verdict=\"(\w+)\"\} (\d+)", sys.stdin.read(), re.M):
    out[m.group(1)] = int(m.group(2))
print(json.dumps(out, separators=(",", ":")))'
}

CPUWRAP='import resource, subprocess, sys
rc = subprocess.call(sys.argv[1:])
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print("client-cpu-s %.3f" % (r.ru_utime + r.ru_stime))
sys.exit(rc)'

# wrk_run OUT URL KEYS PATH SECONDS CONNS [DELAY_MS]: one wrk run from the
# client namespace on the client CPU; its output and CPU time in OUT
wrk_run() {
	local out=$1 url=$2 keys=$3 path=$4 secs=$5 conns=$6 delay=${7:-0}
	ip netns exec "$TG_NS" taskset -c "$CLIENT_CPU" "$PYTHON" -c "$CPUWRAP" \
		wrk -t 1 -c "$conns" -d "${secs}s" --timeout 5s -s "$LUA" "$url" -- \
		"$keys" "$path" "$delay" >"$out" 2>&1 ||
		tg_fatal "wrk failed: $(tail -5 "$out")"
	grep -q '^wrk-json ' "$out" || tg_fatal "wrk printed no figures: $(tail -5 "$out")"
}

# record OUT FIELD=VALUE...: one sample (wrk's figures + the fields) into SAMPLES
record() { "$PYTHON" "$RECORD" record "$SAMPLES" "$@" || tg_fatal "cannot record $1"; }

delta() { awk -v a="$1" -v b="$2" 'BEGIN { print b - a }'; }

# --- topology, API server, keys, agent config ------------------------------------------
phase "setup"
ORIG_BPF_STATS=$(sysctl -n kernel.bpf_stats_enabled)
TG_CLEANUP_HOOKS+=("sysctl -qw kernel.bpf_stats_enabled=$ORIG_BPF_STATS")
tg_topology_up bs
tg_cgroup_up tg-bench-sockmap
APP_PORT=$(tg_free_port)
TLS_PORT=$(tg_free_port)
LIMIT_PORT=$(tg_free_port)
RESP_PORT=$(tg_free_port)

# the API server: nginx, a fixed 200, loopback only (docs/sockmap.md, placement)
API=$TG_DIR/api
mkdir -p "$API"
{
	tg_nginx_conf_head "$API" warn
	cat <<EOF
	server {
		listen 127.0.0.1:$APP_PORT;
		location / { default_type text/plain; return 200 "ok\n"; }
	}
}
EOF
} >"$API/nginx.conf"
tg_spawn_in_cgroup "$API/out.log" taskset -c "$SERVER_CPU" nginx -p "$API" -c "$API/nginx.conf" \
	-e "$API/logs/error.log"
SERVER_PID=$TG_SPAWNED
wait_listen "$APP_PORT" "$SERVER_PID" "the API server (nginx)"

# the front nginx: the snippet of docs/sockmap.md with this bench's ports and
# certificate, and a second server with limit_req
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=api.test -days 1 \
	-keyout "$TG_DIR/api.key" -out "$TG_DIR/api.crt" >/dev/null 2>&1 ||
	tg_fatal "openssl could not make a certificate"
snippet=$(tg_sockmap_nginx_snippet "$APP_PORT" "$RESP_PORT" "$TG_DIR/api.crt" "$TG_DIR/api.key")
server=$(sed -n '/^server {/,$p' <<<"$snippet")
limit_server=${server//listen 443 ssl;/listen $TG_HOST_IP:$LIMIT_PORT ssl;}
limit_server=${limit_server//    location \/ \{/    location \/ \{
        limit_req zone=flood nodelay;}
{ grep -q "listen $TG_HOST_IP:$LIMIT_PORT ssl;" <<<"$limit_server" &&
	grep -q 'limit_req zone=flood' <<<"$limit_server"; } ||
	tg_fatal "the nginx snippet of $DOC changed shape: adapt bench-sockmap.sh"
snippet=${snippet//listen 443 ssl;/listen $TG_HOST_IP:$TLS_PORT ssl;}
FRONT=$TG_DIR/front
mkdir -p "$FRONT"
{
	tg_nginx_conf_head "$FRONT" error
	cat <<EOF
    # nginx's own limiter, for the comparison: the flood plan, keyed on X-API-Key
    limit_req_zone \$http_x_api_key zone=flood:8m rate=${FLOOD_RATE}r/s;
    limit_req_status 429;

$snippet

$limit_server
}
EOF
} >"$FRONT/nginx.conf"
nginx -t -p "$FRONT" -c "$FRONT/nginx.conf" -e "$FRONT/logs/error.log" >"$FRONT/t.log" 2>&1 ||
	tg_fatal "nginx -t: $(tail -3 "$FRONT/t.log")"
FRONT_PID=""

# front_up / front_down: a fresh front nginx (fresh upstream connections)
front_up() {
	tg_spawn_in_cgroup "$FRONT/out.log" taskset -c "$SERVER_CPU" nginx -p "$FRONT" \
		-c "$FRONT/nginx.conf" -e "$FRONT/logs/error.log"
	FRONT_PID=$TG_SPAWNED
	wait_listen "$TLS_PORT" "$FRONT_PID" "the front nginx"
	wait_listen "$LIMIT_PORT" "$FRONT_PID" "the front nginx (limit_req)"
}
front_down() {
	local i
	tg_stop_pid "$FRONT_PID" 10
	forget_pid "$FRONT_PID"
	FRONT_PID=""
	# the next one binds the same ports
	for ((i = 0; i < 50; i++)); do
		[ -z "$(ss -Htln "( sport = :$TLS_PORT or sport = :$LIMIT_PORT )")" ] && return 0
		sleep 0.1
	done
	tg_fatal "the front nginx did not release its ports"
}

tg_secrets_up
KEYS_DIR=$TG_DIR/keys.d
mkdir -p "$KEYS_DIR"
"$PYTHON" "$PEERS/mkkeys.py" --secret-file "$TG_SECRETS" --out "$KEYS_DIR" \
	"std=1:1:1" "flood=$NFLOOD:20001:2" || tg_fatal "mkkeys.py failed"
tg_config_write "$APP_PORT" "$(printf 'mode = sockmap\nrefusal_listen = 127.0.0.1:%s' "$RESP_PORT")" "$(
	cat <<-EOF
		[plan.std]
		id = 1
		api_id = 1
		rate_per_sec = $STD_RATE
		burst = $STD_RATE

		[plan.flood]
		id = 2
		api_id = 1
		rate_per_sec = $FLOOD_RATE
		burst = $FLOOD_BURST

		[route.v1]
		id = 1
		api_id = 1
		prefix = /v1
	EOF
)"
cat "$KEYS_DIR"/{std,flood}.tgkeys >"$TG_KEYS"
read -r d1 _ <"$KEYS_DIR/std.tgkeys"
assert_eq "tollgatectl digest agrees with the bench's keys" "$d1" "$(tg_digest "$(cat "$KEYS_DIR/std.keys")")"
[ "$TG_FAILED" -eq 0 ] || tg_fatal "the keys' digests are wrong"

VERSIONS=$(
	printf 'kernel=%s ' "$(uname -r)"
	printf 'wrk=%s ' "$(dpkg-query -W -f='${Version}' wrk 2>/dev/null)"
	printf 'nginx=%s ' "$(nginx -v 2>&1 | sed 's|.*/||')"
	printf 'openssl=%s ' "$(openssl version | awk '{ print $2 }')"
)

# --- contenders --------------------------------------------------------------------------
up() {
	if [ "$1" = tg_sockmap ]; then
		rm -f "$TG_EVENTS"
		tg_agent_start 60
		taskset -a -p -c "$AGENT_CPU" "$TG_AGENT_PID" >/dev/null ||
			tg_fatal "cannot pin tollgate-agent to CPU $AGENT_CPU"
	fi
	front_up
}

down() {
	front_down
	if [ "$1" = tg_sockmap ]; then
		tg_agent_stop || tg_log "tollgate-agent exited with status $? after SIGTERM"
		tg_ctl detach >/dev/null 2>&1 || tg_fatal "tollgatectl detach failed"
		[ ! -d "$TG_PIN_DIR" ] || tg_fatal "$TG_PIN_DIR still there after tollgatectl detach"
		rm -f "$TG_EVENTS"
	fi
}

FIXED_CONNS=$(((FIXED_RPS + 99) / 100))
URL=https://$TG_HOST_IP:$TLS_PORT
LIMIT_URL=https://$TG_HOST_IP:$LIMIT_PORT

# admitted_run C ROUND LOAD: one admitted-path run (LOAD fixed or saturation)
admitted_run() {
	local c=$1 r=$2 load=$3 out=$TG_DIR/adm-$1-$3-$2.txt a0=0 a1=0 n0 n1
	[ "$c" = tg_sockmap ] && a0=$(cpu_s "$TG_AGENT_PID")
	n0=$(cpu_s "$FRONT_PID")
	if [ "$load" = fixed ]; then
		wrk_run "$out" "$URL" "$KEYS_DIR/std.keys" /v1/ok "$DURATION" "$FIXED_CONNS" 10
	else
		wrk_run "$out" "$URL" "$KEYS_DIR/std.keys" /v1/ok "$DURATION" "$CONNS"
	fi
	n1=$(cpu_s "$FRONT_PID")
	[ "$c" = tg_sockmap ] && a1=$(cpu_s "$TG_AGENT_PID")
	record "$out" phase="$load" contender="$c" round="$r" agent_cpu_s="$(delta "$a0" "$a1")" \
		nginx_cpu_s="$(delta "$n0" "$n1")"
}

# reject_run C ROUND: saturation over the flood keys; the CPU spent meanwhile
reject_run() {
	local c=$1 r=$2 out=$TG_DIR/rej-$1-$2.txt url=$URL a0=0 a1=0 n0 n1 s0 s1 m0 m1
	local b0={} b1={} q0={} q1={}
	[ "$c" = nginx_limit ] && url=$LIMIT_URL
	if [ "$c" = tg_sockmap ]; then
		sysctl -qw kernel.bpf_stats_enabled=1
		b0=$(bpf_progs "$TG_PIN_DIR") q0=$(answers) a0=$(cpu_s "$TG_AGENT_PID")
	fi
	n0=$(cpu_s "$FRONT_PID") s0=$(cpu_s "$SERVER_PID") m0=$(machine_s)
	wrk_run "$out" "$url" "$KEYS_DIR/flood.keys" /v1/flood/x "$REJECT_SECS" "$CONNS"
	n1=$(cpu_s "$FRONT_PID") s1=$(cpu_s "$SERVER_PID") m1=$(machine_s)
	if [ "$c" = tg_sockmap ]; then
		a1=$(cpu_s "$TG_AGENT_PID") b1=$(bpf_progs "$TG_PIN_DIR") q1=$(answers)
		sysctl -qw kernel.bpf_stats_enabled="$ORIG_BPF_STATS"
	fi
	record "$out" phase=reject contender="$c" round="$r" bpf_before="$b0" bpf_after="$b1" \
		answers_before="$q0" answers_after="$q1" agent_cpu_s="$(delta "$a0" "$a1")" \
		nginx_cpu_s="$(delta "$n0" "$n1")" server_cpu_s="$(delta "$s0" "$s1")" \
		machine_cpu_s="$(delta "$m0" "$m1")"
}

# --- the rounds ------------------------------------------------------------------------------
phase "$RUNS rounds of nginx (TLS) alone, then with tollgate in sockmap mode (order alternating)"
for ((r = 1; r <= RUNS; r++)); do
	order="nginx tg_sockmap"
	[ $((r % 2)) -eq 0 ] && order="tg_sockmap nginx"
	for c in $order; do
		phase "round $r: $c"
		up "$c"
		wrk_run "$TG_DIR/warm.txt" "$URL" "$KEYS_DIR/std.keys" /v1/ok 1 "$CONNS"
		sleep 0.2
		admitted_run "$c" "$r" fixed
		admitted_run "$c" "$r" saturation
		if [ "$c" = tg_sockmap ]; then
			reject_run tg_sockmap "$r"
		else
			# nginx's own limit_req in the same nginx, no agent
			reject_run nginx_limit "$r"
		fi
		down "$c"
	done
done

phase "done measuring"
# shellcheck disable=SC2086 # VERSIONS: one K=V word each
"$PYTHON" "$REPORT" "$SAMPLES" --json "$BENCH_JSON" \
	--meta "date=$STAMP" "runs=$RUNS" "duration_s=$DURATION" "fixed_rps=$FIXED_RPS" \
	"fixed_conns=$FIXED_CONNS" "connections=$CONNS" "reject_s=$REJECT_SECS" \
	"flood_keys=$NFLOOD" "std_rate=$STD_RATE" "flood_rate=$FLOOD_RATE" \
	"flood_burst=$FLOOD_BURST" "server_cpu=$SERVER_CPU" "client_cpu=$CLIENT_CPU" \
	"agent_cpu=$AGENT_CPU" "cpus=$(nproc)" $VERSIONS ||
	tg_fatal "sockmap-report.py failed"
phase "wrote $BENCH_JSON"
