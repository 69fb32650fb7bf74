#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# bench-peers.sh - tollgate against real userspace gateways on the same machine
# (issue 7; part of `make bench`, DESIGN §10).
#
# One API server for every contender: nginx answering a fixed 200, in a cgroup
# in the root namespace (the API host), one worker. Clients live in a client
# namespace behind a veth; wrk (Debian) with scripts/bench-peers/keys.lua
# sends GET requests whose X-API-Key is taken in turn from a list of keys.
# Server side pinned to CPU $BENCH_SERVER_CPU (0), tollgate-agent too
# ($BENCH_AGENT_CPU), wrk to $BENCH_CLIENT_CPU (1). On veth, XDP runs where the
# client's packets are sent, so tg_xdp's time lands on the client's CPU.
#
# Contenders (the same plan everywhere, keyed on X-API-Key: "std" 1000
# requests/s with a burst of 100; "flood" 1/s, burst 1, for the paths under
# /v1/flood that the rejection phase uses):
#   none       the API server alone                 (baseline of the proxies)
#   noop       the API server, a no-op XDP program  (baseline of tollgate)
#   noop_msg   the same and a no-op sk_msg program on the API port's accepted
#              sockets (noop_msg.bpf.o: a sock_ops program puts them in a
#              sockhash, as tg_sockops does; the sk_msg program passes every
#              message): what the kernel's sk_msg path costs the API server
#              before tg_skmsg does anything; its ratios are to noop
#   tg_host    tollgate-agent, ratelimit.scope = host (keys_file)
#   tg_global  tollgate-agent, ratelimit.scope = global (keys, plans and
#              leases from a redis-server of its own)
#   tg_ab      tg_host run from another build directory, BENCH_AB_BUILD (the
#              build/ of another checkout): two versions of tollgate in the
#              same rounds, its ratios are to tg_host. Admitted path and
#              rejection only; not in the default list.
#   haproxy    HAProxy, stick-table rate limit, 429 (bench-peers/haproxy.cfg)
#   nginx      nginx limit_req, 429 (bench-peers/nginx-limit.conf)
#   node       fastify + @fastify/rate-limit with its Redis store, checking
#              Redis on every request, + @fastify/reply-from
#              (bench-peers/node-gateway; redis-server of its own)
# The proxies reach the API server on 127.0.0.1:$UPORT, a port tollgate does
# not watch; each runs one process or worker.
#
# Phases:
#  1. admitted path: BENCH_RUNS (5) interleaved rounds (the contenders'
#     order rotates each round, backward in even ones); in each, per
#     contender: a 1 s warm-up, a fixed offered load (BENCH_FIXED_RPS,
#     2000 req/s, paced connections of 10 ms), for tollgate and the no-op
#     program the same load side by side (half of it to the API port, half
#     to a port of the same server that tollgate does not watch, at once:
#     p50 with and without tollgate in the same moments of the machine,
#     which the rounds' modes do not reach; the no-op program on both ports
#     is the control), and saturation
#     (BENCH_CONNS, 64, connections), BENCH_DURATION (4) s each, over
#     BENCH_KEYS (1000) std keys, so nothing is refused;
#     then, for the limiters, the rejection run: saturation over
#     BENCH_FLOOD_KEYS (100) flood keys for BENCH_REJECT_SECS (3) s. The CPU
#     the limiter spent meanwhile: tollgate = run_time_ns of its programs
#     (kernel.bpf_stats_enabled = 1 for the run only, restored after) + the
#     agent's user + system time (+ its redis-server's in global scope);
#     a proxy = its processes' user + system time (+ redis-server's for node).
#     The client's (wrk) CPU, the API server's and the whole machine's busy
#     time are reported beside it, and the client's sockets still closing
#     (LAST-ACK, CLOSING, FIN-WAIT-1) a second after the run. Every fixed
#     and saturation run also records the busy seconds of the server's CPU
#     and of the client's (/proc/stat), reported per request: which side
#     ran out, and what tollgate costs on each. With BENCH_BPF_STATS=1,
#     tollgate's fixed and saturation runs also record its programs'
#     run_time_ns (kernel.bpf_stats_enabled costs two clock reads a run, so
#     it is off unless asked for): ns per admitted request by program,
#     steadier than the CPU's busy time; at the fixed load, what a request
#     pays with the caches cold, the programs' part of the added p50.
#  2. accuracy: one fresh key pushed at 3x its limit (30 paced connections,
#     10 ms) for BENCH_ACCURACY_SECS (30) s, every single-host limiter at the
#     same time (their clocks decide, not the CPU); then tollgate in global
#     scope on three hosts (two more veths, namespaces, cgroups, API servers
#     and agents, one Redis), each client at 1x. Ratio: admitted / (rate x
#     seconds + burst); tollgate's kernel counters are recorded beside it.
#  3. memory at BENCH_MEMORY_KEYS (100,000) keys, each sent once through the
#     contender: tollgate = the agent's RSS (keys_file of 100,000 keys) + the
#     memlock of its maps; a proxy = the PSS of its processes (+ Redis's RSS
#     for node).
#  4. per packet: BPF_PROG_TEST_RUN figures from build/bench-xdp-cost
#     ($BENCH_XDP_COST, a JSON file bench.sh made; run here when unset).
#
# With BENCH_PROFILE=1, each round of a tollgate contender has, after its
# saturation run, one more fixed-load run and one more saturation run, not
# measured, under `perf record -g` on the server's and the client's CPU;
# while its programs are still loaded, build/bpf-lines --calls maps the
# samples to their source lines, tg_xdp's and tg_skmsg's, into
# <BENCH_JSON without .json>-profile/:
# one table a run (C-LOAD-rROUND-PROG.txt) and their sum over the rounds
# (C-LOAD-PROG.txt). The same windows every time, so two builds' or two
# days' profiles compare (README, "Profiling the BPF programs").
#
# Prints one markdown table (bench-peers/report.py); writes the figures and
# every sample as JSON to $BENCH_JSON (default results/bench-peers-<date>.json).
# Knobs above, and BENCH_CONTENDERS (a subset, space separated).
# Targets: tollgate >= 20x fewer CPU seconds per million refusals than the best
# userspace contender; admitted-path p50 <= 1.05x the no-op XDP baseline and
# saturation throughput >= 0.95x;
# accuracy within 1 % on one host, 5 % in global scope on three.
set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/../tests/integration/lib.sh"

RUNS=${BENCH_RUNS:-5}
DURATION=${BENCH_DURATION:-4}
CONNS=${BENCH_CONNS:-64}
FIXED_RPS=${BENCH_FIXED_RPS:-2000}
REJECT_SECS=${BENCH_REJECT_SECS:-3}
BPF_STATS=${BENCH_BPF_STATS:-0}
PROFILE=${BENCH_PROFILE:-0}
AB_BUILD=${BENCH_AB_BUILD:-}
ACC_SECS=${BENCH_ACCURACY_SECS:-30}
NKEYS=${BENCH_KEYS:-1000}
NFLOOD=${BENCH_FLOOD_KEYS:-100}
MEM_KEYS=${BENCH_MEMORY_KEYS:-100000}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
CLIENT_CPU=${BENCH_CLIENT_CPU:-1}
AGENT_CPU=${BENCH_AGENT_CPU:-$SERVER_CPU}
CONTENDERS=${BENCH_CONTENDERS:-none noop noop_msg tg_host tg_global haproxy nginx node}
if [[ " $CONTENDERS " == *" tg_ab "* ]] && [ ! -x "$AB_BUILD/tollgate-agent" ]; then
	tg_fatal "contender tg_ab: BENCH_AB_BUILD='$AB_BUILD' has no tollgate-agent (the build/ of another checkout)"
fi
# the plans (DESIGN §3 token buckets; the proxies' equivalents in their configs)
RATE=1000
BURST=100
FLOOD_RATE=1
FLOOD_BURST=1

PEERS=$TG_ROOT/scripts/bench-peers
LUA=$PEERS/keys.lua
REPORT=$PEERS/report.py

tg_init bench-peers
tg_need wrk nginx haproxy node npm redis-server redis-cli bpftool taskset sysctl
[ "$PROFILE" = 1 ] && tg_need perf
[ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ] ||
	tg_fatal "node $(node --version): fastify 5 (the node gateway) needs Node.js 20 or newer"
for f in tollgate-agent tollgatectl noop.bpf.o noop_msg.bpf.o; do
	[ -e "$BUILD/$f" ] || tg_fatal "$BUILD/$f missing (make all)"
done
[ "$(nproc)" -ge 2 ] || tg_fatal "needs 2 CPUs: servers on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
if [ -z "${BENCH_JSON:-}" ]; then
	mkdir -p "$TG_ROOT/results"
	BENCH_JSON=$TG_ROOT/results/bench-peers-$STAMP.json
fi
PROFILE_DIR=${BENCH_JSON%.json}-profile
SAMPLES=$TG_DIR/samples.jsonl
: >"$SAMPLES"
T_START=$(date +%s)
. "$(dirname "${BASH_SOURCE[0]}")/bench-peers/lib.sh" # phase, wait_listen, cpu_s, bpf_progs, ...

# ip's loader, which attaches the no-op program, makes its bpffs tree the
# first time it runs (tc/globals, and ip as a link to tc): gone at cleanup
# when this run made it
for d in tc ip; do
	[ -e "/sys/fs/bpf/$d" ] || [ -L "/sys/fs/bpf/$d" ] ||
		TG_CLEANUP_HOOKS+=("rm -rf /sys/fs/bpf/$d")
done

# --- the node gateway's packages (npm registry, lock file) -----------------------
if [ ! -d "$PEERS/node-gateway/node_modules" ] ||
	[ "$PEERS/node-gateway/package-lock.json" -nt "$PEERS/node-gateway/node_modules" ]; then
	phase "npm ci (node gateway)"
	(cd "$PEERS/node-gateway" && npm ci --no-audit --no-fund --loglevel=error) >"$TG_DIR/npm.log" 2>&1 ||
		tg_fatal "npm ci failed: $(tail -5 "$TG_DIR/npm.log")"
	touch "$PEERS/node-gateway/node_modules"
fi

# --- helpers -----------------------------------------------------------------------

# render TEMPLATE OUT NAME=VALUE...: TEMPLATE with every @NAME@ replaced
render() {
	local src=$1 dst=$2 kv args=()
	shift 2
	for kv in "$@"; do args+=(-e "s|@${kv%%=*}@|${kv#*=}|g"); done
	sed "${args[@]}" "$src" >"$dst"
}

# mem_kib KIND PID...: VmRSS or Pss (smaps_rollup) summed over the processes, KiB
mem_kib() {
	local kind=$1 p s=0 v
	shift
	for p in $(family "$@"); do
		if [ "$kind" = rss ]; then
			v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
		else
			v=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null)
		fi
		s=$((s + ${v:-0}))
	done
	echo "$s"
}

# maps_memlock_kib DIR: bytes_memlock of the maps pinned in DIR, KiB
maps_memlock_kib() {
	local f s=0 v
	for f in "$1"/*; do
		v=$(bpftool -j map show pinned "$f" 2>/dev/null |
			"$PYTHON" -c 'import json, sys; print(json.load(sys.stdin).get("bytes_memlock", 0))' 2>/dev/null)
		s=$((s + ${v:-0}))
	done
	echo $((s / 1024))
}

# maps_detail DIR: name:KiB,... of the maps pinned in DIR (memlock)
maps_detail() {
	local f out=""
	for f in "$1"/*; do
		out+="${f##*/}:$(bpftool -j map show pinned "$f" 2>/dev/null |
			"$PYTHON" -c 'import json, sys; print(json.load(sys.stdin).get("bytes_memlock", 0) // 1024)' 2>/dev/null),"
	done
	echo "${out%,}"
}

CPUWRAP='import resource, subprocess, sys
rc = subprocess.call(sys.argv[1:])
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print("client-cpu-s %.3f" % (r.ru_utime + r.ru_stime))
sys.exit(rc)'

# wrk_to NS OUT URL KEYS PATH SECONDS CONNS [DELAY_MS]: one wrk
# run from namespace NS on the client CPU; its output and CPU time in OUT
wrk_to() {
	local ns=$1 out=$2 url=$3 keys=$4 path=$5 secs=$6 conns=$7 delay=${8:-0}
	ip netns exec "$ns" taskset -c "$CLIENT_CPU" "$PYTHON" -c "$CPUWRAP" \
		wrk -t 1 -c "$conns" -d "${secs}s" --timeout 5s -s "$LUA" "$url" -- \
		"$keys" "$path" "$delay" >"$out" 2>&1 ||
		tg_fatal "wrk failed: $(tail -5 "$out")"
	grep -q '^wrk-json ' "$out" || tg_fatal "wrk printed no figures: $(tail -5 "$out")"
}
wrk_run() { wrk_to "$TG_NS" "$@"; }

# record OUT FIELD=VALUE...: one sample (wrk's figures + the fields) into SAMPLES
record() { "$PYTHON" "$REPORT" record "$SAMPLES" "$@" || tg_fatal "cannot record $1"; }

# --- topology, API server, keys --------------------------------------------------
phase "setup"
ORIG_BPF_STATS=$(sysctl -n kernel.bpf_stats_enabled)
TG_CLEANUP_HOOKS+=("sysctl -qw kernel.bpf_stats_enabled=$ORIG_BPF_STATS")
tg_topology_up bp
tg_cgroup_up tg-bench-peers
NOOP_MSG_PIN=/sys/fs/bpf/tg-noop-msg-$$
# noop_msg_down: noop_msg.bpf.o's programs detached and unpinned (the
# sockhash goes with its last pin, and its sockets leave it)
noop_msg_down() {
	[ -d "$NOOP_MSG_PIN" ] || return 0
	bpftool cgroup detach "$TG_CGROUP" sock_ops pinned "$NOOP_MSG_PIN/noop_sockops" 2>/dev/null
	bpftool prog detach pinned "$NOOP_MSG_PIN/noop_skmsg" msg_verdict \
		pinned "$NOOP_MSG_PIN/maps/noop_sockhash" 2>/dev/null
	rm -rf "$NOOP_MSG_PIN"
}
TG_CLEANUP_HOOKS+=("noop_msg_down")
BASE_DIR=$TG_DIR
PORT=$(tg_free_port)
UPORT=$(tg_free_port)
SIDE_PORT=$(tg_free_port)

# api_server DIR PORT [UPSTREAM_PORT [SIDE_PORT]]: the API server (nginx,
# fixed 200) in $TG_CGROUP on the server CPU, on PORT (all addresses), for the
# proxies on 127.0.0.1:UPSTREAM_PORT, and on SIDE_PORT, a port tollgate does
# not watch (the side-by-side runs); sets API_PID
api_server() {
	local dir=$1 port=$2 uport=${3:-} sport=${4:-}
	mkdir -p "$dir/logs" "$dir/tmp"
	cat >"$dir/nginx.conf" <<-EOF
		daemon off;
		master_process on;
		worker_processes 1;
		pid $dir/nginx.pid;
		error_log $dir/logs/error.log warn;
		events { worker_connections 16384; }
		http {
			access_log off;
			keepalive_requests 100000000;
			keepalive_timeout 120s;
			client_body_temp_path $dir/tmp/body;
			proxy_temp_path $dir/tmp/proxy;
			fastcgi_temp_path $dir/tmp/fastcgi;
			uwsgi_temp_path $dir/tmp/uwsgi;
			scgi_temp_path $dir/tmp/scgi;
			server {
				listen $port;
				${uport:+listen 127.0.0.1:$uport;}
				${sport:+listen $sport;}
				location / { default_type text/plain; return 200 "ok\n"; }
			}
		}
	EOF
	tg_spawn_in_cgroup "$dir/out.log" taskset -c "$SERVER_CPU" nginx -p "$dir" -c "$dir/nginx.conf" \
		-e "$dir/logs/error.log"
	API_PID=$TG_SPAWNED
	wait_listen "$port" "$API_PID" "the API server (nginx)"
}
api_server "$TG_DIR/api" "$PORT" "$UPORT" "$SIDE_PORT"
SERVER_PID=$API_PID

tg_secrets_up
KEYS_DIR=$TG_DIR/keys.d
mkdir -p "$KEYS_DIR"
phase "keys: $NKEYS std, $NFLOOD flood, 2 accuracy, $MEM_KEYS for the memory phase"
"$PYTHON" "$PEERS/mkkeys.py" --secret-file "$TG_SECRETS" --out "$KEYS_DIR" \
	"std=$NKEYS:1:1" "flood=$NFLOOD:20001:2" "acc=1:30001:1" "gacc=1:30002:1" \
	"mem=$MEM_KEYS:100001:1" || tg_fatal "mkkeys.py failed"
cat "$KEYS_DIR"/{std,flood,acc,gacc}.tgkeys >"$TG_DIR/keys"

SECTIONS=$(
	cat <<-EOF
		[plan.std]
		id = 1
		api_id = 1
		rate_per_sec = $RATE
		burst = $BURST

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
)
tg_config_write "$PORT" "" "$SECTIONS"
HOST_CONF=$TG_DIR/host.conf
mv "$TG_CONFIG" "$HOST_CONF"
TG_CONFIG=$HOST_CONF
# the digest contract, once: tollgatectl agrees with mkkeys.py
read -r d1 _ < "$KEYS_DIR/acc.tgkeys"
assert_eq "tollgatectl digest agrees with the bench's keys" "$d1" "$(tg_digest "$(cat "$KEYS_DIR/acc.keys")")"
[ "$TG_FAILED" -eq 0 ] || tg_fatal "the keys' digests are wrong"

# Redis of tollgate in global scope: keys, plans, routes, leases
RPORT_TG=$(tg_free_port)
mkdir -p "$TG_DIR/redis-tg"
tg_spawn "$TG_DIR/redis-tg.log" taskset -c "$SERVER_CPU" redis-server --port "$RPORT_TG" --bind 127.0.0.1 \
	--save '' --appendonly no --dir "$TG_DIR/redis-tg"
REDIS_TG_PID=$TG_SPAWNED
wait_listen "$RPORT_TG" "$REDIS_TG_PID" "redis-server (tollgate)"
rtg() { redis-cli -p "$RPORT_TG" "$@"; }
rtg HSET plan:1 api_id 1 rate_per_sec "$RATE" burst "$BURST" >/dev/null
rtg HSET plan:2 api_id 1 rate_per_sec "$FLOOD_RATE" burst "$FLOOD_BURST" >/dev/null
rtg HSET route:1 api_id 1 prefix /v1 >/dev/null
cat "$KEYS_DIR"/{std,flood,acc,gacc}.redis | redis-cli -p "$RPORT_TG" --pipe >"$TG_DIR/redis-pipe.log" 2>&1 ||
	tg_fatal "loading the keys into Redis failed: $(tail -3 "$TG_DIR/redis-pipe.log")"
tg_config_write "$PORT" "" "$SECTIONS
[redis]
url = redis://127.0.0.1:$RPORT_TG
[ratelimit]
scope = global"
GLOBAL_CONF=$TG_DIR/global.conf
mv "$TG_CONFIG" "$GLOBAL_CONF"
TG_CONFIG=$HOST_CONF

# the memory phase's tollgate: 100,000 keys from keys_file, maps to hold them
cp "$KEYS_DIR/mem.tgkeys" "$TG_DIR/mem-keys"
MAPS=$((MEM_KEYS + 1024))
tg_config_write "$PORT" "max_keys = $MAPS
max_buckets = $MAPS" "$SECTIONS"
MEM_CONF=$TG_DIR/mem.conf
sed "s|^keys_file = .*|keys_file = $TG_DIR/mem-keys|" "$TG_CONFIG" >"$MEM_CONF"
rm -f "$TG_CONFIG"
TG_CONFIG=$HOST_CONF
TG_KEYS=$TG_DIR/keys

# --- the proxies -------------------------------------------------------------------
HA_PORT=$(tg_free_port)
mkdir -p "$TG_DIR/haproxy"
render "$PEERS/haproxy.cfg" "$TG_DIR/haproxy/haproxy.cfg" "DIR=$TG_DIR/haproxy" \
	"ADDR=$TG_HOST_IP" "PORT=$HA_PORT" "UPSTREAM=$UPORT" "STD_MAX=$((BURST))" \
	"STD_PERIOD=$((1000 * BURST / RATE))ms" "FLOOD_MAX=$FLOOD_BURST" \
	"FLOOD_PERIOD=$((1000 * FLOOD_BURST / FLOOD_RATE))ms"
tg_spawn "$TG_DIR/haproxy/out.log" taskset -c "$SERVER_CPU" haproxy -db -f "$TG_DIR/haproxy/haproxy.cfg"
HA_PID=$TG_SPAWNED
wait_listen "$HA_PORT" "$HA_PID" "haproxy"

NGL_PORT=$(tg_free_port)
mkdir -p "$TG_DIR/nginx-limit/logs" "$TG_DIR/nginx-limit/tmp"
# nginx's burst is the excess over the first request: capacity - 1 (0: none)
ngx_burst() { [ "$1" -gt 1 ] && echo "burst=$(($1 - 1))"; }
render "$PEERS/nginx-limit.conf" "$TG_DIR/nginx-limit/nginx.conf" "DIR=$TG_DIR/nginx-limit" \
	"ADDR=$TG_HOST_IP" "PORT=$NGL_PORT" "UPSTREAM=$UPORT" "STD_RATE=$RATE" \
	"STD_BURST=$(ngx_burst "$BURST")" "FLOOD_RATE=$FLOOD_RATE" \
	"FLOOD_BURST=$(ngx_burst "$FLOOD_BURST")"
tg_spawn "$TG_DIR/nginx-limit/out.log" taskset -c "$SERVER_CPU" nginx -p "$TG_DIR/nginx-limit" \
	-c "$TG_DIR/nginx-limit/nginx.conf" -e "$TG_DIR/nginx-limit/logs/error.log"
NGL_PID=$TG_SPAWNED
wait_listen "$NGL_PORT" "$NGL_PID" "nginx (limit_req)"

RPORT_NODE=$(tg_free_port)
mkdir -p "$TG_DIR/redis-node"
tg_spawn "$TG_DIR/redis-node.log" taskset -c "$SERVER_CPU" redis-server --port "$RPORT_NODE" --bind 127.0.0.1 \
	--save '' --appendonly no --dir "$TG_DIR/redis-node"
REDIS_NODE_PID=$TG_SPAWNED
wait_listen "$RPORT_NODE" "$REDIS_NODE_PID" "redis-server (node)"
NODE_PORT=$(tg_free_port)
GW_PORT=$NODE_PORT GW_UPSTREAM=http://127.0.0.1:$UPORT GW_REDIS_PORT=$RPORT_NODE \
	GW_RATE=$RATE GW_FLOOD_RATE=$FLOOD_RATE GW_WINDOW_MS=1000 \
	tg_spawn "$TG_DIR/node.log" taskset -c "$SERVER_CPU" node "$PEERS/node-gateway/gateway.js"
NODE_PID=$TG_SPAWNED
tg_wait_for_line "$TG_DIR/node.log" '^ready' 20 "$NODE_PID" ||
	tg_fatal "the node gateway did not start: $(tail -5 "$TG_DIR/node.log")"

VERSIONS=$(
	printf 'kernel=%s ' "$(uname -r)"
	printf 'wrk=%s ' "$(dpkg-query -W -f='${Version}' wrk 2>/dev/null)"
	printf 'nginx=%s ' "$(nginx -v 2>&1 | sed 's|.*/||')"
	printf 'haproxy=%s ' "$(haproxy -v | awk 'NR == 1 { print $3 }')"
	printf 'node=%s ' "$(node --version)"
	printf 'redis=%s ' "$(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/')"
	(cd "$PEERS/node-gateway" && node -e 'for (const p of ["fastify", "@fastify/rate-limit", "@fastify/reply-from", "ioredis"])
		process.stdout.write(p + "=" + require(p + "/package.json").version + " ")')
)

# --- contenders: URL, up/down, the limiter's processes -----------------------------
url_of() {
	case $1 in
	haproxy) echo "http://$TG_HOST_IP:$HA_PORT" ;;
	nginx) echo "http://$TG_HOST_IP:$NGL_PORT" ;;
	node) echo "http://$TG_HOST_IP:$NODE_PORT" ;;
	*) echo "http://$TG_HOST_IP:$PORT" ;;
	esac
}

# the processes whose CPU and memory are the limiter's
limiter_pids() {
	case $1 in
	tg_host | tg_ab) echo "$TG_AGENT_PID" ;;
	tg_global) echo "$TG_AGENT_PID $REDIS_TG_PID" ;;
	haproxy) echo "$HA_PID" ;;
	nginx) echo "$NGL_PID" ;;
	node) echo "$NODE_PID $REDIS_NODE_PID" ;;
	esac
}

is_tollgate() { [ "$1" = tg_host ] || [ "$1" = tg_global ] || [ "$1" = tg_ab ]; }
is_limiter() { [ "$1" != none ] && [ "$1" != noop ] && [ "$1" != noop_msg ]; }
# a contender with the no-op XDP program, tollgate's baseline
is_noop() { [ "$1" = noop ] || [ "$1" = noop_msg ]; }

up() {
	case $1 in
	noop | noop_msg)
		ip link set dev "$TG_HOST_IF" xdp obj "$BUILD/noop.bpf.o" sec xdp ||
			tg_fatal "cannot attach noop.bpf.o to $TG_HOST_IF"
		;;&
	noop_msg)
		# the API port's sockets into a sockhash, a no-op sk_msg program on it
		bpftool prog loadall "$BUILD/noop_msg.bpf.o" "$NOOP_MSG_PIN" pinmaps "$NOOP_MSG_PIN/maps" ||
			tg_fatal "cannot load noop_msg.bpf.o"
		# shellcheck disable=SC2046
		bpftool map update pinned "$NOOP_MSG_PIN/maps/noop_msg_port" key 0 0 0 0 \
			value $(printf '%d %d 0 0' $((PORT & 255)) $((PORT >> 8))) &&
			bpftool cgroup attach "$TG_CGROUP" sock_ops pinned "$NOOP_MSG_PIN/noop_sockops" &&
			bpftool prog attach pinned "$NOOP_MSG_PIN/noop_skmsg" msg_verdict \
				pinned "$NOOP_MSG_PIN/maps/noop_sockhash" ||
			tg_fatal "cannot attach noop_msg.bpf.o's programs"
		;;
	tg_host | tg_global | tg_mem)
		case $1 in
		tg_host) TG_CONFIG=$HOST_CONF ;;
		tg_global) TG_CONFIG=$GLOBAL_CONF ;;
		tg_mem) TG_CONFIG=$MEM_CONF ;;
		esac
		rm -f "$TG_EVENTS"
		tg_agent_start 60
		;;&
	tg_ab)
		TG_CONFIG=$HOST_CONF
		rm -f "$TG_EVENTS"
		BUILD=$AB_BUILD tg_agent_start 60
		;;&
	tg_host | tg_global | tg_mem | tg_ab)
		# server side, like every other contender's processes
		taskset -a -p -c "$AGENT_CPU" "$TG_AGENT_PID" >/dev/null ||
			tg_fatal "cannot pin tollgate-agent to CPU $AGENT_CPU"
		;;
	esac
}

down() {
	case $1 in
	noop) ip link set dev "$TG_HOST_IF" xdp off ;;
	noop_msg)
		ip link set dev "$TG_HOST_IF" xdp off
		noop_msg_down
		;;
	tg_host | tg_global | tg_mem)
		tg_agent_stop || tg_log "tollgate-agent exited with status $? after SIGTERM"
		tg_ctl detach >/dev/null 2>&1 || tg_fatal "tollgatectl detach failed"
		;;&
	tg_ab)
		tg_agent_stop || tg_log "tollgate-agent ($AB_BUILD) exited with status $? after SIGTERM"
		BUILD=$AB_BUILD tg_ctl detach >/dev/null 2>&1 || tg_fatal "tollgatectl ($AB_BUILD) detach failed"
		;;&
	tg_host | tg_global | tg_mem | tg_ab)
		TG_CONFIG=$HOST_CONF
		rm -f "$TG_EVENTS"
		;;
	esac
}

# --- 1. admitted path and rejection ---------------------------------------------------
read -r -a CLIST <<<"$CONTENDERS"
N=${#CLIST[@]}
FIXED_CONNS=$(((FIXED_RPS + 99) / 100))

# reject_run C ROUND: saturation over the flood keys; the CPU spent meanwhile
reject_run() {
	local c=$1 r=$2 out=$TG_DIR/rej-$1-$2.txt pids l0 l1 s0 s1 m0 m1 b0={} b1={} closing url
	pids=$(limiter_pids "$c")
	if is_tollgate "$c"; then
		sysctl -qw kernel.bpf_stats_enabled=1
		b0=$(bpf_progs "$TG_PIN_DIR")
	fi
	# shellcheck disable=SC2086
	l0=$(cpu_s $pids) s0=$(cpu_s "$SERVER_PID") m0=$(machine_s)
	wrk_run "$out" "$(url_of "$c")" "$KEYS_DIR/flood.keys" /v1/flood/x "$REJECT_SECS" "$CONNS"
	# shellcheck disable=SC2086
	l1=$(cpu_s $pids) s1=$(cpu_s "$SERVER_PID") m1=$(machine_s)
	if is_tollgate "$c"; then
		b1=$(bpf_progs "$TG_PIN_DIR")
		sysctl -qw kernel.bpf_stats_enabled="$ORIG_BPF_STATS"
	fi
	# the client's sockets to the contender's port whose FIN the other side
	# has not acknowledged, a second on: each holds its local port (a
	# refused connection's should not; an A/B's two builds share a port)
	sleep 1
	url=$(url_of "$c")
	closing=$(ip netns exec "$TG_NS" ss -Htn state last-ack state closing state fin-wait-1 \
		"( dport = :${url##*:} )" | wc -l)
	record "$out" phase=reject contender="$c" round="$r" bpf_before="$b0" bpf_after="$b1" \
		client_closing="$closing" \
		userspace_cpu_s="$(awk -v a="$l0" -v b="$l1" 'BEGIN { print b - a }')" \
		server_cpu_s="$(awk -v a="$s0" -v b="$s1" 'BEGIN { print b - a }')" \
		machine_cpu_s="$(awk -v a="$m0" -v b="$m1" 'BEGIN { print b - a }')"
}

# admitted_run C ROUND LOAD: one admitted-path run (LOAD fixed or saturation);
# for tollgate, the agent's CPU meanwhile (it meters every request)
admitted_run() {
	local c=$1 r=$2 load=$3 out=$TG_DIR/adm-$1-$3-$2.txt a0=0 a1=0 s0 s1 k0 k1 b0={} b1={} stats=0
	is_tollgate "$c" && a0=$(cpu_s "$TG_AGENT_PID")
	if [ "$BPF_STATS" = 1 ] && is_tollgate "$c"; then
		stats=1
		sysctl -qw kernel.bpf_stats_enabled=1
		b0=$(bpf_progs "$TG_PIN_DIR")
	fi
	s0=$(cpu_busy_s "$SERVER_CPU") k0=$(cpu_busy_s "$CLIENT_CPU")
	load_run "$out" "$load"
	is_tollgate "$c" && a1=$(cpu_s "$TG_AGENT_PID")
	s1=$(cpu_busy_s "$SERVER_CPU") k1=$(cpu_busy_s "$CLIENT_CPU")
	if [ "$stats" = 1 ]; then
		b1=$(bpf_progs "$TG_PIN_DIR")
		sysctl -qw kernel.bpf_stats_enabled="$ORIG_BPF_STATS"
	fi
	record "$out" phase="$load" contender="$c" round="$r" bpf_before="$b0" bpf_after="$b1" \
		agent_cpu_s="$(awk -v a="$a0" -v b="$a1" 'BEGIN { print b - a }')" \
		server_cpu_busy_s="$(awk -v a="$s0" -v b="$s1" 'BEGIN { print b - a }')" \
		client_cpu_busy_s="$(awk -v a="$k0" -v b="$k1" 'BEGIN { print b - a }')"
}

# load_run OUT LOAD: wrk at the fixed load or at saturation, to $url
load_run() {
	if [ "$2" = fixed ]; then
		wrk_run "$1" "$url" "$KEYS_DIR/std.keys" /v1/ok "$DURATION" "$FIXED_CONNS" 10
	else
		wrk_run "$1" "$url" "$KEYS_DIR/std.keys" /v1/ok "$DURATION" "$CONNS"
	fi
}

# profile_run C ROUND LOAD: BENCH_PROFILE=1's extra run of LOAD (not
# measured) under `perf record -g` on the server's and the client's CPU,
# then tg_xdp's and tg_skmsg's samples by source line (bpf-lines --calls),
# read while the programs that ran are loaded
profile_run() {
	local c=$1 r=$2 load=$3 data=$TG_DIR/perf.data ppid name id i rc
	rm -f "$data"
	perf record -q -g -C "$SERVER_CPU,$CLIENT_CPU" -o "$data" >"$TG_DIR/perf.log" 2>&1 &
	ppid=$!
	TG_PIDS+=("$ppid")
	for ((i = 0; i < 50; i++)); do
		[ -s "$data" ] && break
		sleep 0.1
	done
	[ -s "$data" ] || tg_fatal "perf record did not start: $(tail -3 "$TG_DIR/perf.log")"
	load_run "$TG_DIR/prof-$c-$load-$r.txt" "$load"
	kill -INT "$ppid"
	wait "$ppid"
	rc=$?
	# it writes its data, then ends by the signal it got
	[ "$rc" = 0 ] || [ "$rc" = 130 ] || tg_fatal "perf record failed ($rc): $(tail -3 "$TG_DIR/perf.log")"
	forget_pid "$ppid"
	for name in tg_xdp tg_skmsg; do
		id=$(prog_id "$TG_PIN_DIR" "$name")
		[ -n "$id" ] || tg_fatal "no $name loaded with the maps of $TG_PIN_DIR"
		perf script -i "$data" -F ip,sym,symoff 2>/dev/null |
			"$BUILD/bpf-lines" --calls "$id" >"$PROFILE_DIR/$c-$load-r$r-$name.txt" ||
			tg_fatal "bpf-lines --calls $id ($name) failed"
	done
	rm -f "$data"
}

# side_run C ROUND: the fixed load split in two at the same time, half to the
# API port, half to SIDE_PORT of the same server, which tollgate does not
# watch (tg_xdp passes its packets at the port check; no sockops, no sk_msg,
# no event): latency with and without tollgate in the same moments of the
# machine. With the no-op program on both ports, the control.
side_run() {
	local c=$1 r=$2 half=$(((FIXED_CONNS + 1) / 2)) p1 p2
	wrk_run "$TG_DIR/side-$c-api-$r.txt" "$url" "$KEYS_DIR/std.keys" /v1/ok "$DURATION" "$half" 10 &
	p1=$!
	wrk_run "$TG_DIR/side-$c-other-$r.txt" "http://$TG_HOST_IP:$SIDE_PORT" "$KEYS_DIR/std.keys" \
		/v1/ok "$DURATION" "$half" 10 &
	p2=$!
	wait "$p1" || tg_fatal "wrk (side by side, API port) failed"
	wait "$p2" || tg_fatal "wrk (side by side, other port) failed"
	record "$TG_DIR/side-$c-api-$r.txt" phase=side contender="$c" round="$r" port=api
	record "$TG_DIR/side-$c-other-$r.txt" phase=side contender="$c" round="$r" port=other
}

phase "1. admitted path and rejection: $RUNS rounds of $CONTENDERS"
for ((r = 1; r <= RUNS; r++)); do
	for ((i = 0; i < N; i++)); do
		# odd rounds forward, even ones backward, each from its own start:
		# no contender always runs right after the same one (an A/B's
		# builds would otherwise keep their places, and what the first
		# leaves behind would always land on the second)
		if ((r % 2)); then
			c=${CLIST[$(((i + r - 1) % N))]}
		else
			c=${CLIST[$(((r - 1 - i + N) % N))]}
		fi
		phase "round $r: $c"
		up "$c"
		url=$(url_of "$c")
		# warm-up: connection pools, the JIT, global scope's first leases
		warm=1
		[ "$c" = tg_global ] && warm=2
		wrk_run "$TG_DIR/warm.txt" "$url" "$KEYS_DIR/std.keys" /v1/ok "$warm" "$CONNS"
		sleep 0.2
		admitted_run "$c" "$r" fixed
		{ is_tollgate "$c" || is_noop "$c"; } && side_run "$c" "$r"
		admitted_run "$c" "$r" saturation
		# before the rejection run, like the measured runs: the
		# admitted path alone
		if [ "$PROFILE" = 1 ] && is_tollgate "$c"; then
			mkdir -p "$PROFILE_DIR"
			profile_run "$c" "$r" fixed
			profile_run "$c" "$r" saturation
		fi
		is_limiter "$c" && reject_run "$c" "$r"
		down "$c"
	done
done

# --- 2. accuracy ---------------------------------------------------------------------
phase "2. accuracy: one key at 3x its limit for ${ACC_SECS}s, every limiter at once"
# At once, to keep `make bench` within its time: the limiters' clocks, not
# the CPU, decide what they admit, as long as the offered load stays above
# the limit (the report shows the offered rate). tollgate watches only the
# API server's port, so the proxies' traffic passes it untouched.
ACC=()
for c in "${CLIST[@]}"; do
	# tg_global: below, three hosts
	is_limiter "$c" && [ "$c" != tg_global ] && [ "$c" != tg_ab ] && ACC+=("$c")
done
if [ ${#ACC[@]} -gt 0 ]; then
	[[ " ${ACC[*]} " == *" tg_host "* ]] && up tg_host
	declare -A ALOAD
	for c in "${ACC[@]}"; do
		# 30 connections paced at 10 ms: ~3000 requests/s offered
		wrk_run "$TG_DIR/acc-$c.txt" "$(url_of "$c")" "$KEYS_DIR/acc.keys" /v1/ok "$ACC_SECS" 30 10 &
		ALOAD[$c]=$!
	done
	for c in "${ACC[@]}"; do wait "${ALOAD[$c]}" || tg_fatal "wrk (accuracy, $c) failed"; done
	for c in "${ACC[@]}"; do
		kernel=()
		if [ "$c" = tg_host ]; then
			# the kernel's own count beside the client's
			tg_counters "$TG_DIR/acc-counters.json"
			kernel=("kernel_admitted=$(tg_counter "$TG_DIR/acc-counters.json" 30001 1 requests)"
				"kernel_over_limit=$(tg_counter "$TG_DIR/acc-counters.json" 30001 1 refused.over_limit)")
		fi
		record "$TG_DIR/acc-$c.txt" phase=accuracy contender="$c" rate="$RATE" burst="$BURST" hosts=1 \
			"${kernel[@]}"
	done
	[[ " ${ACC[*]} " == *" tg_host "* ]] && down tg_host
fi

# tollgate global scope on three hosts: this one and two more, one Redis
if [[ " $CONTENDERS " == *" tg_global "* ]]; then
	phase "2b. accuracy: tollgate global scope, three hosts"
	declare -a H_NS H_IF H_IP H_PORT H_CONF H_AGENT H_API H_CG H_PIN
	H_NS[1]=$TG_NS H_IF[1]=$TG_HOST_IF H_IP[1]=$TG_HOST_IP H_PORT[1]=$PORT
	# host_cleanup H: what tg_cleanup does for its one host, for host H
	host_cleanup() {
		local h=$1 pid
		"$BUILD/tollgatectl" --config "${H_CONF[$h]}" detach >/dev/null 2>&1
		ip link set dev "${H_IF[$h]}" xdp off 2>/dev/null
		if [ -d "${H_CG[$h]}" ]; then
			while read -r pid; do echo "$pid" >"$TG_CG2/cgroup.procs" 2>/dev/null; done \
				<"${H_CG[$h]}/cgroup.procs"
			rmdir "${H_CG[$h]}" 2>/dev/null
		fi
		rm -rf "${H_PIN[$h]}"
		ip link del "${H_IF[$h]}" 2>/dev/null
		ip netns del "${H_NS[$h]}" 2>/dev/null
	}
	SAVED=("$TG_NS" "$TG_HOST_IF" "$TG_CLIENT_IF" "$TG_HOST_IP" "$TG_CLIENT_IP" "$TG_HOST_IFINDEX"
		"$TG_CGROUP" "$TG_PIN_DIR" "$TG_CONFIG" "$TG_KEYS" "$TG_EVENTS" "$TG_METRICS_PORT")
	for h in 2 3; do
		TG_DIR=$BASE_DIR/host$h
		mkdir -p "$TG_DIR"
		tg_topology_up "bq$h"
		tg_cgroup_up "tg-bench-q$h"
		H_PORT[$h]=$(tg_free_port)
		api_server "$TG_DIR/api" "${H_PORT[$h]}"
		H_API[$h]=$API_PID
		tg_config_write "${H_PORT[$h]}" "" "$SECTIONS
[redis]
url = redis://127.0.0.1:$RPORT_TG
[ratelimit]
scope = global"
		TG_PIN_DIR="/sys/fs/bpf/tg-test-$$-h$h"
		sed -i "s|^pin_dir = .*|pin_dir = $TG_PIN_DIR|" "$TG_CONFIG"
		H_NS[$h]=$TG_NS H_IF[$h]=$TG_HOST_IF H_IP[$h]=$TG_HOST_IP H_CONF[$h]=$TG_CONFIG
		H_CG[$h]=$TG_CGROUP H_PIN[$h]=$TG_PIN_DIR
		TG_CLEANUP_HOOKS+=("host_cleanup $h")
		tg_agent_start 60
		H_AGENT[$h]=$TG_AGENT_PID
		TG_PIDS+=("$TG_AGENT_PID")
		TG_AGENT_PID=""
	done
	TG_DIR=$BASE_DIR
	TG_NS=${SAVED[0]} TG_HOST_IF=${SAVED[1]} TG_CLIENT_IF=${SAVED[2]} TG_HOST_IP=${SAVED[3]}
	TG_CLIENT_IP=${SAVED[4]} TG_HOST_IFINDEX=${SAVED[5]} TG_CGROUP=${SAVED[6]} TG_PIN_DIR=${SAVED[7]}
	TG_CONFIG=${SAVED[8]} TG_KEYS=${SAVED[9]} TG_EVENTS=${SAVED[10]} TG_METRICS_PORT=${SAVED[11]}
	up tg_global
	GKEY=$(cat "$KEYS_DIR/gacc.keys")
	# each host's bucket is made by its first request; leases follow
	for h in 1 2 3; do
		ip netns exec "${H_NS[$h]}" curl -s --max-time 5 -o /dev/null -H "X-API-Key: $GKEY" \
			"http://${H_IP[$h]}:${H_PORT[$h]}/v1/ok"
	done
	sleep 0.5
	rtg DEL rl:30002:1 >/dev/null # the measured window starts from a full bucket
	for h in 1 2 3; do
		# 10 connections paced at 10 ms: ~1000 requests/s per host, 3x in all
		wrk_to "${H_NS[$h]}" "$TG_DIR/gacc-$h.txt" "http://${H_IP[$h]}:${H_PORT[$h]}" \
			"$KEYS_DIR/gacc.keys" /v1/ok "$ACC_SECS" 10 10 &
		GLOAD[$h]=$!
	done
	for h in 1 2 3; do wait "${GLOAD[$h]}" || tg_fatal "wrk on host $h failed"; done
	for h in 1 2 3; do
		"$BUILD/tollgatectl" --config "${H_CONF[$h]:-$TG_CONFIG}" counters --json \
			>"$TG_DIR/gacc-counters-$h.json" 2>/dev/null
		record "$TG_DIR/gacc-$h.txt" phase=accuracy_global contender=tg_global host="$h" \
			rate="$RATE" burst="$BURST" hosts=3 \
			"kernel_admitted=$(tg_counter "$TG_DIR/gacc-counters-$h.json" 30002 1 requests)"
	done
	down tg_global
	for h in 2 3; do
		tg_stop_pid "${H_AGENT[$h]}" 10
		forget_pid "${H_AGENT[$h]}"
		tg_stop_pid "${H_API[$h]}" 5
		forget_pid "${H_API[$h]}"
		host_cleanup "$h"
	done
fi

# --- 3. memory at 100,000 keys -----------------------------------------------------------
phase "3. memory: $MEM_KEYS keys through each limiter"
for c in "${CLIST[@]}"; do
	is_limiter "$c" || continue
	# the same maps and agent as tg_host (plus Redis), or another build's
	[ "$c" = tg_global ] || [ "$c" = tg_ab ] && continue
	out=$TG_DIR/mem-$c.txt
	if [ "$c" = tg_host ]; then
		up tg_mem
	fi
	# shellcheck disable=SC2046
	before=$(mem_kib pss $(limiter_pids "$c"))
	# long enough for every key once and a third more, at the saturation
	# throughput measured above (wrk has no request count)
	secs=$("$PYTHON" "$REPORT" seconds-for "$SAMPLES" "$c" "$MEM_KEYS") ||
		tg_fatal "no saturation figure for $c"
	wrk_run "$out" "$(url_of "$c")" "$KEYS_DIR/mem.keys" /v1/ok "$secs" "$CONNS"
	sleep 1
	if [ "$c" = tg_host ]; then
		extra="agent_rss_kib=$(mem_kib rss "$TG_AGENT_PID") maps_memlock_kib=$(maps_memlock_kib "$TG_PIN_DIR")"
		extra="$extra maps=$(maps_detail "$TG_PIN_DIR")"
		extra="$extra buckets=$(bpftool -j map dump pinned "$TG_PIN_DIR/tg_buckets" 2>/dev/null |
			"$PYTHON" -c 'import json, sys; print(len(json.load(sys.stdin)))' 2>/dev/null)"
	elif [ "$c" = node ]; then
		extra="proc_pss_kib=$(mem_kib pss "$NODE_PID") redis_rss_kib=$(mem_kib rss "$REDIS_NODE_PID")"
		extra="$extra redis_keys=$(redis-cli -p "$RPORT_NODE" DBSIZE)"
	else
		# shellcheck disable=SC2046
		extra="proc_pss_kib=$(mem_kib pss $(limiter_pids "$c")) proc_rss_kib=$(mem_kib rss $(limiter_pids "$c"))"
	fi
	# shellcheck disable=SC2086
	record "$out" phase=memory contender="$c" before_pss_kib="$before" $extra
	[ "$c" = tg_host ] && down tg_mem
done
record /dev/null phase=memory_server contender=none \
	server_pss_kib="$(mem_kib pss "$SERVER_PID")" server_rss_kib="$(mem_kib rss "$SERVER_PID")"

# --- 4. per packet, and the report -------------------------------------------------------------
if [ -z "${BENCH_XDP_COST:-}" ] || [ ! -s "$BENCH_XDP_COST" ]; then
	phase "4. per packet (build/bench-xdp-cost)"
	[ -x "$BUILD/bench-xdp-cost" ] || tg_fatal "$BUILD/bench-xdp-cost missing (make build/bench-xdp-cost)"
	BENCH_XDP_COST=$TG_DIR/xdp-cost.json
	"$BUILD/bench-xdp-cost" --repeat 1000000 --noop "$BUILD/noop.bpf.o" --json "$BENCH_XDP_COST" \
		>"$TG_DIR/xdp-cost.md" || tg_fatal "bench-xdp-cost failed"
fi
phase "done measuring"
if [ "$PROFILE" = 1 ] && [ -d "$PROFILE_DIR" ]; then
	for c in "${CLIST[@]}"; do
		is_tollgate "$c" || continue
		for load in fixed saturation; do
			for name in tg_xdp tg_skmsg; do
				"$PYTHON" "$REPORT" profile-merge "$PROFILE_DIR/$c-$load-$name.txt" \
					"$PROFILE_DIR/$c-$load"-r*-"$name.txt" ||
					tg_fatal "cannot merge the profiles of $c ($load, $name)"
			done
		done
	done
	phase "profiles by source line in $PROFILE_DIR"
fi
"$PYTHON" "$REPORT" report "$SAMPLES" --xdp-cost "$BENCH_XDP_COST" --json "$BENCH_JSON" \
	--meta "date=$STAMP" "runs=$RUNS" "duration_s=$DURATION" "fixed_rps=$FIXED_RPS" \
	"fixed_conns=$FIXED_CONNS" "connections=$CONNS" "reject_s=$REJECT_SECS" \
	"accuracy_s=$ACC_SECS" "keys=$NKEYS" "flood_keys=$NFLOOD" "memory_keys=$MEM_KEYS" \
	"rate=$RATE" "burst=$BURST" "flood_rate=$FLOOD_RATE" "flood_burst=$FLOOD_BURST" \
	"server_cpu=$SERVER_CPU" "client_cpu=$CLIENT_CPU" "cpus=$(nproc)" $VERSIONS ||
	tg_fatal "report.py failed"
phase "wrote $BENCH_JSON"
