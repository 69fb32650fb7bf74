# SPDX-License-Identifier: BSD-2-Clause
# lib.sh - helpers for tollgate's integration tests and benchmarks (sourced).
#
# Topology (DESIGN §10): the API host is the root network namespace with one
# veth end (tg_topology_up: $TG_HOST_IF, $TG_HOST_IP/24, $TG_HOST_IP6/64); the
# client lives in its own namespace $TG_NS on the peer ($TG_CLIENT_IF,
# $TG_CLIENT_IP, GRO on and the no-op XDP program, so XDP_TX frames reach it
# at once; TG_CLIENT_XDP=0 leaves the program off). Each host part gets
# its own cgroup ($TG_CGROUP), pin dir ($TG_PIN_DIR) and temp dir ($TG_DIR).
# Every name carries the shell's pid, so leftovers of another run never
# collide.
#
# tg_init installs one EXIT trap (tg_cleanup) that removes, in order: the
# agent (SIGTERM by pid), the tollgate attachments (tollgatectl detach, then
# `ip link set dev X xdp off`), every process started with tg_spawn (by pid),
# the cgroup, the pin dir, the veth, the namespace and the temp dir; on
# failure too (printing the last lines of the logs first, unless
# TG_CLEANUP_LOGS=0). TG_KEEP=1 keeps the temp dir for a post-mortem. A test with
# more than one host registers the others' teardown in TG_CLEANUP_HOOKS
# (commands run once the processes are stopped).
#
# Assertions (assert_*) never exit: they print "ok - what" or "FAIL - what"
# with the expected and seen values, and count; tg_summary prints the closing
# "N passed, M failed" line and returns non-zero if anything failed. tg_fatal
# stops the test (setup failures after which nothing can be checked).

TG_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TG_ROOT=$(cd "$TG_LIB_DIR/../.." && pwd)
BUILD=${BUILD:-$TG_ROOT/build}
if [ -z "${PYTHON:-}" ]; then
	if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi
TG_CLIENT_PY="$TG_LIB_DIR/tgclient.py"
TG_SERVER_PY="$TG_LIB_DIR/http_server.py"

TG_PASSED=0
TG_FAILED=0
TG_PIDS=()       # processes to stop at cleanup (tg_spawn), in start order
TG_AGENT_PID=""
TG_NS=""
TG_HOST_IF=""
TG_HOST_IFINDEX=""
TG_CGROUP=""
TG_PIN_DIR=""
TG_DIR=""
TG_CONFIG=""
TG_CLEANUP_HOOKS=() # commands run at cleanup once processes are stopped (tg_cleanup)
TG_PG_PID=""     # our Postgres (tg_postgres_up), stopped with SIGINT at cleanup
TG_BROKER_PID="" # our dev Kafka broker (tg_broker_up)

# --- output and assertions ---------------------------------------------------

tg_log() { printf '# %s\n' "$*"; }

tg_fatal() {
	printf 'FATAL - %s\n' "$*"
	TG_FAILED=$((TG_FAILED + 1))
	exit 1
}

tg_ok() {
	TG_PASSED=$((TG_PASSED + 1))
	printf 'ok   - %s\n' "$1"
}

# tg_not_ok WHAT [DETAIL...]: one failure, details indented below it.
tg_not_ok() {
	TG_FAILED=$((TG_FAILED + 1))
	printf 'FAIL - %s\n' "$1"
	shift
	local d
	for d in "$@"; do printf '       %s\n' "$d"; done
}

assert_eq() { # WHAT EXPECTED SEEN
	if [ "$2" = "$3" ]; then tg_ok "$1 ($3)"; else
		tg_not_ok "$1" "expected: $2" "seen:     $3"; fi
}

assert_range() { # WHAT LO HI SEEN (integers)
	if [[ "$4" =~ ^-?[0-9]+$ ]] && [ "$4" -ge "$2" ] && [ "$4" -le "$3" ]; then
		tg_ok "$1 ($4 in $2..$3)"
	else tg_not_ok "$1" "expected: $2..$3" "seen:     $4"; fi
}

assert_ge() { # WHAT MIN SEEN (integers)
	if [[ "$3" =~ ^-?[0-9]+$ ]] && [ "$3" -ge "$2" ]; then tg_ok "$1 ($3 >= $2)"; else
		tg_not_ok "$1" "expected: >= $2" "seen:     $3"; fi
}

assert_match() { # WHAT EXTENDED-REGEX SEEN
	if [[ "$3" =~ $2 ]]; then tg_ok "$1"; else
		tg_not_ok "$1" "expected to match: $2" "seen: ${3:0:400}"; fi
}

assert_true() { # WHAT DETAIL-IF-FALSE COMMAND...
	local what=$1 detail=$2
	shift 2
	if "$@"; then tg_ok "$what"; else tg_not_ok "$what" "$detail"; fi
}

tg_summary() {
	printf '%d passed, %d failed\n' "$TG_PASSED" "$TG_FAILED"
	[ "$TG_FAILED" -eq 0 ]
}

# --- environment -------------------------------------------------------------

tg_need() { # CMD... : fatal if a command is missing
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || tg_fatal "'$c' not found (scripts/deps.sh installs it)"
	done
}

tg_mount_bpffs() {
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf ||
		tg_fatal "cannot mount bpffs on /sys/fs/bpf"
}

# tg_cgroup2_root: where cgroup v2 is mounted (/sys/fs/cgroup or .../unified).
tg_cgroup2_root() {
	local m
	for m in /sys/fs/cgroup /sys/fs/cgroup/unified; do
		if [ "$(stat -f -c %T "$m" 2>/dev/null)" = cgroup2fs ]; then
			echo "$m"
			return 0
		fi
	done
	m=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
	[ -n "$m" ] && echo "$m"
}

# tg_init NAME: root check, bpffs, temp dir $TG_DIR, the cleanup trap.
tg_init() {
	[ "$(id -u)" -eq 0 ] || tg_fatal "integration tests need root"
	tg_need ip ethtool ss curl nsenter "$PYTHON"
	tg_mount_bpffs
	TG_CG2=$(tg_cgroup2_root) || true
	[ -n "$TG_CG2" ] || tg_fatal "no cgroup v2 mount found"
	TG_DIR=$(mktemp -d "/tmp/tg-${1:-it}.$$.XXXXXX")
	trap tg_cleanup EXIT
	trap 'exit 130' INT TERM
	TG_T0=$(date +%s.%N)
}

# --- Postgres and the dev Kafka broker ------------------------------------------

# tg_postgres_up: a Postgres of our own under $TG_DIR/pg (initdb as the
# unprivileged user postgres, trust auth on 127.0.0.1, a free port, fsync off:
# tests need no durability against power loss). Sets TG_PG_DSN, TG_PG_PORT.
tg_postgres_up() {
	local bin
	bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
	[ -x "$bin/initdb" ] || tg_fatal "Postgres is not installed (scripts/deps.sh)"
	id postgres >/dev/null 2>&1 || tg_fatal "no 'postgres' user to run Postgres as"
	TG_PG_BIN=$bin
	TG_PG_DIR=$TG_DIR/pg
	chmod 0711 "$TG_DIR"
	mkdir -p "$TG_PG_DIR"
	chown postgres: "$TG_PG_DIR"
	setpriv --reuid=postgres --regid=postgres --init-groups \
		"$bin/initdb" -D "$TG_PG_DIR/data" -U tollgate --auth=trust -E UTF8 --no-locale \
		>"$TG_DIR/initdb.log" 2>&1 || { cat "$TG_DIR/initdb.log"; tg_fatal "initdb failed"; }
	TG_PG_PORT=$(tg_free_port)
	TG_PG_DSN="postgresql://tollgate@127.0.0.1:$TG_PG_PORT/postgres"
	tg_postgres_start
}

# tg_postgres_start: (re)start the Postgres of tg_postgres_up on its port.
tg_postgres_start() {
	local i
	setpriv --reuid=postgres --regid=postgres --init-groups \
		"$TG_PG_BIN/postgres" -D "$TG_PG_DIR/data" -p "$TG_PG_PORT" -k "$TG_PG_DIR" \
		-c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off \
		>>"$TG_DIR/postgres.log" 2>&1 &
	TG_PG_PID=$!
	for ((i = 0; i < 100; i++)); do
		"$TG_PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$TG_PG_PORT" && return 0
		kill -0 "$TG_PG_PID" 2>/dev/null || break
		sleep 0.1
	done
	tail -5 "$TG_DIR/postgres.log"
	tg_fatal "Postgres did not start"
}

# tg_postgres_stop: fast shutdown (SIGINT: clients are cut, nothing is lost).
tg_postgres_stop() {
	[ -n "$TG_PG_PID" ] || return 0
	tg_stop_pid "$TG_PG_PID" 20 INT
	TG_PG_PID=""
}

# tg_psql SQL [ARGS...]: run SQL on our Postgres, unaligned, tuples only.
tg_psql() {
	local sql=$1
	shift
	psql -X -q -A -t -v ON_ERROR_STOP=1 "$TG_PG_DSN" -c "$sql" "$@"
}

# tg_broker_up TOPIC:PARTITIONS...: the dev Kafka broker (three brokers),
# controlled through fd 7 ("down N", "up N"). Sets TG_BROKERS.
tg_broker_up() {
	local args=() t i
	for t in "$@"; do args+=(--topic "$t"); done
	mkfifo "$TG_DIR/broker.ctl"
	"$BUILD/kafka-dev-broker" --brokers 3 "${args[@]}" --bootstrap-file "$TG_DIR/bootstrap" \
		<"$TG_DIR/broker.ctl" >"$TG_DIR/broker.out" 2>&1 &
	TG_BROKER_PID=$!
	exec 7>"$TG_DIR/broker.ctl"
	for ((i = 0; i < 50; i++)); do [ -s "$TG_DIR/bootstrap" ] && break; sleep 0.1; done
	TG_BROKERS=$(cat "$TG_DIR/bootstrap" 2>/dev/null)
	[ -n "$TG_BROKERS" ] || tg_fatal "the dev broker did not start"
}

# --- processes ---------------------------------------------------------------

# tg_spawn LOGFILE CMD...: start CMD in the background, remember its pid in
# TG_PIDS (stopped at cleanup); the pid is left in TG_SPAWNED.
tg_spawn() {
	local log=$1
	shift
	"$@" >"$log" 2>&1 &
	TG_SPAWNED=$!
	TG_PIDS+=("$TG_SPAWNED")
}

# tg_stop_pid PID [TIMEOUT] [SIGNAL]: SIGNAL (default TERM), then SIGKILL after
# TIMEOUT s (default 5); returns the exit status when the process is our child.
tg_stop_pid() {
	local pid=$1 timeout=${2:-5} sig=${3:-TERM} i
	kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return $?; }
	kill -"$sig" "$pid" 2>/dev/null
	for ((i = 0; i < timeout * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

# tg_wait_for_line FILE REGEX TIMEOUT [PID]: until FILE has a matching line;
# fails early when PID exits.
tg_wait_for_line() {
	local file=$1 re=$2 timeout=$3 pid=${4:-} i
	for ((i = 0; i < timeout * 10; i++)); do
		grep -Eq "$re" "$file" 2>/dev/null && return 0
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			grep -Eq "$re" "$file" 2>/dev/null
			return $?
		fi
		sleep 0.1
	done
	return 1
}

# --- topology ------------------------------------------------------------------

# tg_topology_up [PREFIX]: veth between the root namespace (API host) and a
# client namespace; sets TG_NS TG_HOST_IF TG_CLIENT_IF TG_HOST_IP TG_CLIENT_IP
# TG_HOST_IP6 TG_CLIENT_IP6 TG_SUBNET.
tg_topology_up() {
	local p=${1:-tg} x
	TG_NS="$p-$$"
	TG_HOST_IF="${p}h$$"
	TG_CLIENT_IF="${p}c$$"
	# a 10.77.X.0/24 that no interface uses yet
	# (the addresses read first: under pipefail, grep -q leaving early would
	# make ip's SIGPIPE look like "not in use")
	local addrs
	addrs=$(ip -o addr show)
	for ((x = 10 + $$ % 200; x < 10 + $$ % 200 + 250; x++)); do
		TG_SUBNET=$((x % 250 + 1))
		grep -q " 10\.77\.$TG_SUBNET\." <<<"$addrs" || break
	done
	TG_HOST_IP="10.77.$TG_SUBNET.1"
	TG_CLIENT_IP="10.77.$TG_SUBNET.2"
	TG_HOST_IP6="fd77:$TG_SUBNET::1"
	TG_CLIENT_IP6="fd77:$TG_SUBNET::2"

	ip netns add "$TG_NS" || tg_fatal "cannot create namespace $TG_NS"
	ip link add "$TG_HOST_IF" type veth peer name "$TG_CLIENT_IF" netns "$TG_NS" ||
		tg_fatal "cannot create veth $TG_HOST_IF"
	ip addr add "$TG_HOST_IP/24" dev "$TG_HOST_IF"
	ip addr add "$TG_HOST_IP6/64" dev "$TG_HOST_IF" nodad
	ip link set "$TG_HOST_IF" up
	TG_HOST_IFINDEX=$(cat "/sys/class/net/$TG_HOST_IF/ifindex")
	ip -n "$TG_NS" link set lo up
	ip -n "$TG_NS" addr add "$TG_CLIENT_IP/24" dev "$TG_CLIENT_IF"
	ip -n "$TG_NS" addr add "$TG_CLIENT_IP6/64" dev "$TG_CLIENT_IF" nodad
	ip -n "$TG_NS" link set "$TG_CLIENT_IF" up
	# XDP_TX toward a veth peer needs NAPI on the peer (DESIGN §10). GRO gives
	# it NAPI, but on 6.18 the sender's XDP_TX flush kicks the peer's NAPI only
	# when the peer has an XDP program (veth_xdp_flush), so frames would wait
	# in its ring for the next ordinary packet: the no-op program as well.
	ip netns exec "$TG_NS" ethtool -K "$TG_CLIENT_IF" gro on >/dev/null ||
		tg_fatal "cannot enable GRO on $TG_CLIENT_IF"
	if [ "${TG_CLIENT_XDP:-1}" = 1 ] && [ -e "$BUILD/noop.bpf.o" ]; then
		ip -n "$TG_NS" link set dev "$TG_CLIENT_IF" xdp obj "$BUILD/noop.bpf.o" sec xdp ||
			tg_fatal "cannot attach noop.bpf.o to $TG_CLIENT_IF"
	fi
	local i
	for ((i = 0; i < 50; i++)); do
		ip -n "$TG_NS" -br link show dev "$TG_CLIENT_IF" | grep -q ' UP ' &&
			ip -br link show dev "$TG_HOST_IF" | grep -q ' UP ' && return 0
		sleep 0.1
	done
	tg_fatal "veth $TG_HOST_IF did not come up"
}

# tg_client CMD...: run CMD in the client namespace.
tg_client() { ip netns exec "$TG_NS" "$@"; }

# tg_free_port: a TCP port nobody listens on in the root namespace.
tg_free_port() {
	local p
	while :; do
		p=$("$PYTHON" -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::", 0)); print(s.getsockname()[1])')
		[ -z "$(ss -Htln "sport = :$p")" ] && break
	done
	echo "$p"
}

# tg_established PORT: established TCP connections whose local port is PORT
# (the API server's side), in the root namespace.
tg_established() {
	ss -Htn state established "( sport = :$1 )" | wc -l
}

# tg_wait_established PORT COUNT TIMEOUT: until at most COUNT remain; prints
# the last count.
tg_wait_established() {
	local port=$1 want=$2 timeout=$3 n i
	for ((i = 0; i <= timeout * 10; i++)); do
		n=$(tg_established "$port")
		[ "$n" -le "$want" ] && break
		sleep 0.1
	done
	echo "$n"
}

# --- cgroup and server ---------------------------------------------------------

# tg_cgroup_up [NAME]: a cgroup v2 directory for the API server; sets TG_CGROUP.
tg_cgroup_up() {
	TG_CGROUP="$TG_CG2/${1:-tg-test}-$$"
	mkdir "$TG_CGROUP" || tg_fatal "cannot create cgroup $TG_CGROUP"
}

# tg_spawn_in_cgroup LOGFILE CMD...: like tg_spawn, the process (and every
# socket it creates) in $TG_CGROUP from its first instruction.
tg_spawn_in_cgroup() {
	local log=$1
	shift
	tg_spawn "$log" sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$TG_CGROUP" "$@"
}

# tg_server_up PORT: the sample API server (http_server.py) in the cgroup;
# sets TG_PORT TG_SERVER_PID TG_SERVER_LOG (one line per received request).
tg_server_up() {
	TG_PORT=$1
	TG_SERVER_LOG="$TG_DIR/server-requests.log"
	: >"$TG_SERVER_LOG"
	tg_spawn_in_cgroup "$TG_DIR/server.out" "$PYTHON" "$TG_SERVER_PY" --port "$TG_PORT" \
		--log "$TG_SERVER_LOG"
	TG_SERVER_PID=$TG_SPAWNED
	tg_wait_for_line "$TG_DIR/server.out" '^ready' 10 "$TG_SERVER_PID" ||
		tg_fatal "sample server did not start: $(tail -5 "$TG_DIR/server.out")"
}

# tg_server_count REGEX: lines of the server's request log matching REGEX.
tg_server_count() { grep -Ec -- "$1" "$TG_SERVER_LOG"; }

# --- nginx (sockmap mode's proxy, the benchmarks' servers) ----------------------

# tg_nginx_conf_head DIR [LOG_LEVEL]: the start of an nginx.conf whose files
# all live under DIR (one worker, in the foreground), up to "http {" and its
# temp paths; the caller adds its servers and the closing "}".
tg_nginx_conf_head() {
	local dir=$1 level=${2:-error}
	mkdir -p "$dir/logs" "$dir/tmp"
	cat <<-EOF
		daemon off;
		master_process on;
		worker_processes 1;
		pid $dir/nginx.pid;
		error_log $dir/logs/error.log $level;
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
		    # responses are relayed as they come, never spooled to tmp/
		    # (which the workers, running as nobody, could not write)
		    proxy_max_temp_file_size 0;
	EOF
}

# tg_sockmap_nginx_snippet APP_PORT RESP_PORT CERT KEY: the nginx
# configuration of docs/sockmap.md, exactly, with these ports and files (its
# "listen 443 ssl;" is the caller's to replace).
tg_sockmap_nginx_snippet() {
	local s
	s=$(awk '/^```nginx$/ { on = 1; next } on && /^```$/ { exit } on' "$TG_ROOT/docs/sockmap.md")
	[ -n "$s" ] || tg_fatal "no nginx snippet in docs/sockmap.md"
	s=${s//127.0.0.1:8080/127.0.0.1:$1}
	s=${s//127.0.0.1:9481/127.0.0.1:$2}
	s=${s//\/etc\/tollgate\/tls\/api.crt/$3}
	s=${s//\/etc\/tollgate\/tls\/api.key/$4}
	printf '%s\n' "$s"
}

# --- tollgate configuration ----------------------------------------------------

# tg_secrets_up: key_secret_file with one version-1 secret; sets TG_SECRETS.
tg_secrets_up() {
	TG_SECRETS="$TG_DIR/secrets"
	(umask 077 && printf '1 %s\n' "$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')" >"$TG_SECRETS")
	chmod 0600 "$TG_SECRETS"
}

# tg_config_write PORT [AGENT-LINES [SECTIONS]]: the agent's config in
# $TG_DIR/tollgate.conf (standalone mode: keys_file, events_file); AGENT-LINES
# are more "key = value" lines of [agent], SECTIONS the plans and routes.
tg_config_write() {
	local port=$1 agent_extra=${2:-} extra=${3:-}
	TG_CONFIG="$TG_DIR/tollgate.conf"
	TG_PIN_DIR="/sys/fs/bpf/tg-test-$$"
	TG_KEYS="$TG_DIR/keys"
	TG_EVENTS="$TG_DIR/events.jsonl"
	TG_METRICS_PORT=$(tg_free_port)
	mkdir -p "$TG_DIR/state"
	[ -e "$TG_KEYS" ] || : >"$TG_KEYS"
	cat >"$TG_CONFIG" <<-EOF
		[agent]
		interfaces = $TG_HOST_IF
		api_ports = $port
		cgroup = $TG_CGROUP
		pin_dir = $TG_PIN_DIR
		state_dir = $TG_DIR/state
		keys_file = $TG_KEYS
		events_file = $TG_EVENTS
		metrics_listen = 127.0.0.1:$TG_METRICS_PORT
		action_missing_key = reject
		action_unknown_key = reject
		action_over_limit = reject
		$agent_extra

		[security]
		key_secret_file = $TG_SECRETS

		$extra
	EOF
}

# tg_digest KEY: the key's digest from tollgatectl; the test also checks it
# against tgclient.py's independent SipHash (tg_check_digest).
tg_digest() {
	"$BUILD/tollgatectl" --config "$TG_CONFIG" digest "$1" 2>/dev/null |
		grep -oE '\b[0-9a-f]{32}\b' | head -1
}

# tg_key_add KEY_ID CONSUMER_ID PLAN_ID: a new key in keys_file; prints it.
tg_key_add() {
	local key digest
	key=$("$PYTHON" "$TG_CLIENT_PY" newkey)
	digest=$(tg_digest "$key")
	[ -n "$digest" ] || tg_fatal "tollgatectl digest gave nothing for a new key"
	printf '%s %s %s %s\n' "$digest" "$1" "$2" "$3" >>"$TG_KEYS"
	echo "$key"
}

# tg_generous_sections: plan 2 (API 1, 1000/s, never in the way) and route
# 1 (/v1 -> API 1), for tests about something other than limits.
tg_generous_sections() {
	cat <<-EOF
		[plan.generous]
		id = 2
		api_id = 1
		rate_per_sec = 1000
		burst = 1000

		[route.v1]
		id = 1
		api_id = 1
		prefix = /v1
	EOF
}

# --- agent -----------------------------------------------------------------------

# tg_agent_start [TIMEOUT]: tollgate-agent in the foreground of a background
# job, stderr to $TG_DIR/agent.N.log (TG_AGENT_LOG); waits for "ready".
TG_AGENT_RUNS=0
tg_agent_start() {
	local timeout=${1:-30}
	TG_AGENT_RUNS=$((TG_AGENT_RUNS + 1))
	TG_AGENT_LOG="$TG_DIR/agent.$TG_AGENT_RUNS.log"
	"$BUILD/tollgate-agent" --config "$TG_CONFIG" >"$TG_AGENT_LOG" 2>&1 &
	TG_AGENT_PID=$!
	tg_wait_for_line "$TG_AGENT_LOG" 'ready' "$timeout" "$TG_AGENT_PID" || {
		tg_log "agent log:"
		sed 's/^/#   /' "$TG_AGENT_LOG" | tail -30
		tg_fatal "tollgate-agent did not print 'ready' within ${timeout}s"
	}
}

# tg_agent_stop: SIGTERM the agent, wait; returns its exit status.
tg_agent_stop() {
	local pid=$TG_AGENT_PID rc
	[ -n "$pid" ] || return 0
	tg_stop_pid "$pid" 10
	rc=$?
	TG_AGENT_PID=""
	return $rc
}

tg_ctl() { "$BUILD/tollgatectl" --config "$TG_CONFIG" "$@"; }

# tg_kernel_stat NAME: one of the kernel's tg_stats (tollgatectl status --json).
tg_kernel_stat() {
	tg_ctl status --json | "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["kernel"][sys.argv[1]])' "$1"
}

# tg_counters FILE: kernel counters as JSON into FILE.
tg_counters() { tg_ctl counters --json >"$1" 2>"$1.err"; }

# tg_counter FILE CONSUMER API FIELD: one value of a tg_counters FILE.
tg_counter() { "$PYTHON" "$TG_CLIENT_PY" counter "$@"; }

# tg_events KEY_ID [FORMAT]: the key's events, one line each.
tg_events() {
	"$PYTHON" "$TG_CLIENT_PY" events "$TG_EVENTS" --key-id "$1" ${2:+--format "$2"}
}

# tg_wait_events KEY_ID COUNT TIMEOUT: wait until the key has COUNT events (or
# TIMEOUT s), then one more second for extra ones; prints the final count.
tg_wait_events() {
	local key_id=$1 want=$2 timeout=$3 n i
	for ((i = 0; i < timeout * 10; i++)); do
		n=$(tg_events "$key_id" | wc -l)
		[ "$n" -ge "$want" ] && break
		sleep 0.1
	done
	sleep 1
	tg_events "$key_id" | wc -l
}

# tg_consumer_events CONSUMER_ID MIN: the consumer's requests in the events
# file (a summary event's count included), once they reach MIN (or 15 s).
tg_consumer_events() {
	local n i
	for ((i = 0; i < 150; i++)); do
		n=$("$PYTHON" "$TG_CLIENT_PY" events "$TG_EVENTS" --consumer-id "$1" --format '{count}' |
			awk '{ s += $1 } END { print s + 0 }')
		[ "$n" -ge "$2" ] && break
		sleep 0.1
	done
	echo "$n"
}

# tg_meta_field NAME: a field of the pinned tg_meta (abi_version,
# pin_generation, created_unix_ns), or what bpftool said instead.
tg_meta_field() {
	bpftool -j map dump pinned "$TG_PIN_DIR/tg_meta" 2>&1 | "$PYTHON" -c '
import json, sys
text = sys.stdin.read()
try:
    print(json.loads(text)[0]["formatted"]["value"][sys.argv[1]])
except Exception:
    print(text.strip()[:300])' "$1"
}

# tg_map_id MAP: the id of the map pinned as MAP under TG_PIN_DIR.
tg_map_id() {
	bpftool -j map show pinned "$TG_PIN_DIR/$1" 2>/dev/null |
		"$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["id"])'
}

# tg_xdp_attached IFACE: true if any XDP program is on the link.
tg_xdp_attached() { ip -d link show dev "$1" 2>/dev/null | grep -q 'prog/xdp'; }

# --- cleanup -------------------------------------------------------------------

tg_cleanup() {
	local rc=$? pid i
	trap - EXIT
	set +e
	if { [ "$rc" -ne 0 ] || [ "$TG_FAILED" -ne 0 ]; } && [ "${TG_CLEANUP_LOGS:-1}" = 1 ]; then
		local f
		for f in "$TG_DIR"/agent.*.log "$TG_DIR"/billing*.log "$TG_DIR/server.out"; do
			[ -s "$f" ] || continue
			tg_log "--- last lines of $f"
			tail -25 "$f" | sed 's/^/#   /'
		done
	fi
	if [ -n "$TG_AGENT_PID" ]; then
		tg_stop_pid "$TG_AGENT_PID" 10
	fi
	if [ -n "$TG_CONFIG" ] && [ -x "$BUILD/tollgatectl" ] &&
		{ [ -d "$TG_PIN_DIR" ] || tg_xdp_attached "$TG_HOST_IF"; }; then
		"$BUILD/tollgatectl" --config "$TG_CONFIG" detach >/dev/null 2>&1
	fi
	if [ -n "$TG_HOST_IF" ] && tg_xdp_attached "$TG_HOST_IF"; then
		ip link set dev "$TG_HOST_IF" xdp off 2>/dev/null
		ip link set dev "$TG_HOST_IF" xdpgeneric off 2>/dev/null
	fi
	for ((i = ${#TG_PIDS[@]} - 1; i >= 0; i--)); do
		tg_stop_pid "${TG_PIDS[$i]}" 5
	done
	for ((i = ${#TG_CLEANUP_HOOKS[@]} - 1; i >= 0; i--)); do
		eval "${TG_CLEANUP_HOOKS[$i]}"
	done
	[ -n "$TG_PG_PID" ] && tg_stop_pid "$TG_PG_PID" 20 INT
	if [ -n "$TG_BROKER_PID" ]; then
		exec 7>&- 2>/dev/null
		tg_stop_pid "$TG_BROKER_PID" 5
	fi
	if [ -n "$TG_CGROUP" ] && [ -d "$TG_CGROUP" ]; then
		# anything left inside (children of our servers) moves to the root
		while read -r pid; do
			echo "$pid" >"$TG_CG2/cgroup.procs" 2>/dev/null
		done <"$TG_CGROUP/cgroup.procs"
		rmdir "$TG_CGROUP" 2>/dev/null || tg_log "could not remove cgroup $TG_CGROUP"
	fi
	[ -n "$TG_PIN_DIR" ] && [ -d "$TG_PIN_DIR" ] && rm -rf "$TG_PIN_DIR"
	# libxdp's dispatcher pins for our link, if a fallback detach left them
	[ -n "$TG_HOST_IFINDEX" ] && rm -rf /sys/fs/bpf/xdp/dispatch-"$TG_HOST_IFINDEX"-* 2>/dev/null
	[ -n "$TG_HOST_IF" ] && ip link del "$TG_HOST_IF" 2>/dev/null
	[ -n "$TG_NS" ] && ip netns del "$TG_NS" 2>/dev/null
	if [ -n "$TG_DIR" ] && [ -d "$TG_DIR" ]; then
		if [ "${TG_KEEP:-0}" = 1 ]; then tg_log "kept $TG_DIR"; else rm -rf "$TG_DIR"; fi
	fi
	if [ -n "${TG_T0:-}" ]; then
		tg_log "run time $(awk -v a="$TG_T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
	fi
	exit "$rc"
}
