#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# demo.sh - the whole tollgate marketplace on one host (`make demo`, issue 6).
#
# Starts, under a temporary directory, on loopback (DESIGN §10): Postgres
# (initdb'ed as the unprivileged postgres user), Redis, the dev Kafka broker,
# the sample API (scripts/demo-api.py) on the API host (a veth of its own in
# the root namespace, its own address and cgroup), tollgate-agent on that
# veth (Redis for keys, plans, routes and real-time counters; Kafka for the
# usage events; ratelimit.scope = host: each host refills its buckets in the
# kernel), tollgate-billing run and tollgate-api serve. Then, as a provider
# would, through the REST API only: publishes two APIs with SLA targets
# (orders at /v1, legacy at /v0, deprecated), two plans and three consumers
# with keys. wrk drives traffic from a client namespace, one source address
# per consumer: acme within its limit, globex far over it, initech on the
# deprecated API and the error routes; plus calls without a key and with an
# unknown one. A small GeoIP database (scripts/mkmmdb.py, MaxMind's format)
# places each source address in a country for agent.geoip_db. Once billing has the usage, it prints the kernel counters next
# to the API's usage, top endpoints, geography, SLA, deprecation notices and
# each consumer's invoice for the current month, and the services' URLs.
#
# Everything is stopped and removed at the end, on failure and on Ctrl-C.
#
# Environment:
#   KEEP=1               leave everything running; prints how to stop it
#   DEMO_SUMMARY=FILE    also write the figures as JSON (tests/integration/
#                        test-demo.sh reads it)
#   DEMO_SECONDS=N       seconds of traffic (default 10)
#   DEMO_API_PORT, DEMO_APP_PORT, DEMO_METRICS_PORT
#                        tollgate-api (8088), the sample API (8080) and the
#                        agent's metrics (9109)
#   BUILD                the build directory (default ./build)
set -u -o pipefail

DEMO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$DEMO_ROOT/build}
KEEP=${KEEP:-0}
DEMO_SECONDS=${DEMO_SECONDS:-10}
API_PORT=${DEMO_API_PORT:-8088}
APP_PORT=${DEMO_APP_PORT:-8080}
METRICS_PORT=${DEMO_METRICS_PORT:-9109}
DEMO_READY=0

say() { printf '%s\n' "$*"; }
step() { printf '\n== %s\n' "$*"; }

# --- checks: everything the demo needs, all problems at once ------------------
demo_checks() {
	local problems=() c p who
	if [ "$(id -u)" -ne 0 ]; then
		problems+=("not root: the demo loads BPF programs and creates a network namespace,"
			"  veths and a cgroup. Run it as root: sudo make demo")
	fi
	[ -r /sys/kernel/btf/vmlinux ] ||
		problems+=("the kernel has no BTF (/sys/kernel/btf/vmlinux): tollgate needs Linux 6.1+ with BTF")
	if [ "$(id -u)" -eq 0 ]; then
		if ! mountpoint -q /sys/fs/bpf && ! mount -t bpf bpf /sys/fs/bpf 2>/dev/null; then
			problems+=("no BPF filesystem on /sys/fs/bpf and it cannot be mounted")
		elif command -v bpftool >/dev/null && ! bpftool prog list >/dev/null 2>&1; then
			problems+=("BPF is not available here (bpftool prog list fails: a container without CAP_BPF/CAP_SYS_ADMIN?)")
		fi
	fi
	if ! grep -qw cgroup2 /proc/self/mounts; then
		problems+=("no cgroup v2 mount (/sys/fs/cgroup or /sys/fs/cgroup/unified)")
	fi
	for c in tollgate-agent tollgatectl tollgate-billing tollgate-api kafka-dev-broker noop.bpf.o; do
		[ -e "$BUILD/$c" ] || problems+=("$BUILD/$c is missing: run make all (or make demo)")
	done
	for c in wrk redis-server redis-cli psql curl python3 ip ethtool ss nsenter setpriv bpftool; do
		command -v "$c" >/dev/null 2>&1 || problems+=("'$c' not found: scripts/deps.sh installs it")
	done
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 ||
		problems+=("Postgres is not installed: scripts/deps.sh installs it")
	id postgres >/dev/null 2>&1 || problems+=("no 'postgres' user to run Postgres as")
	for p in "API_PORT:$API_PORT:DEMO_API_PORT:tollgate-api" "APP_PORT:$APP_PORT:DEMO_APP_PORT:the sample API" \
		"METRICS_PORT:$METRICS_PORT:DEMO_METRICS_PORT:the agent's metrics"; do
		IFS=: read -r _ c who what <<<"$p"
		if ! [[ "$c" =~ ^[0-9]+$ ]] || [ "$c" -lt 1 ] || [ "$c" -gt 65535 ]; then
			problems+=("$who=$c is not a port number")
		elif [ -n "$(ss -Htln "sport = :$c" 2>/dev/null)" ]; then
			problems+=("port $c ($what) is taken: $(ss -Htlnp "sport = :$c" 2>/dev/null |
				grep -o 'users:(([^)]*' | head -1 | sed 's/users:((//')"
				"  stop that process or choose another port: $who=NNNN make demo")
		fi
	done
	if [ "$APP_PORT" = "$API_PORT" ] || [ "$APP_PORT" = "$METRICS_PORT" ] || [ "$API_PORT" = "$METRICS_PORT" ]; then
		problems+=("DEMO_API_PORT, DEMO_APP_PORT and DEMO_METRICS_PORT must differ")
	fi
	[[ "$DEMO_SECONDS" =~ ^[0-9]+$ ]] && [ "$DEMO_SECONDS" -ge 3 ] && [ "$DEMO_SECONDS" -le 300 ] ||
		problems+=("DEMO_SECONDS=$DEMO_SECONDS: must be 3 to 300")
	if [ ${#problems[@]} -gt 0 ]; then
		say "make demo cannot start:" >&2
		for p in "${problems[@]}"; do say "  $p" >&2; done
		exit 1
	fi
}
demo_checks

. "$DEMO_ROOT/tests/integration/lib.sh"

# lib.sh's tg_cleanup removes everything; KEEP=1 instead writes a stop script
# that runs that same cleanup later, on the pids recorded now.
demo_exit() {
	local rc=$?
	if [ "$KEEP" = 1 ] && [ "$rc" -eq 0 ] && [ "$DEMO_READY" = 1 ]; then
		trap - EXIT
		demo_write_stop
		say ""
		say "KEEP=1: everything keeps running (state under $TG_DIR)."
		say "Stop it and remove everything with:"
		say "  sudo bash $TG_DIR/stop.sh"
		exit 0
	fi
	if [ "$rc" -eq 129 ] || [ "$rc" -eq 130 ]; then
		say ""
		say "interrupted: removing everything the demo started"
		TG_CLEANUP_LOGS=0
	elif [ "$rc" -ne 0 ]; then
		say ""
		say "make demo failed (exit $rc); removing everything it started (logs below)"
	fi
	demo_rc "$rc"
	tg_cleanup
}
demo_rc() { return "$1"; }

# the start time of a process (field 22 of /proc/PID/stat): a stop script
# only signals a pid that is still the process started here
demo_pid_tag() { awk '{ print $22 }' "/proc/$1/stat" 2>/dev/null; }

demo_write_stop() {
	local stop="$TG_DIR/stop.sh" pid tag pts=""
	for pid in "${TG_PIDS[@]}"; do
		tag=$(demo_pid_tag "$pid")
		[ -n "$tag" ] && pts+="$pid:$tag "
	done
	{
		printf '#!/usr/bin/env bash\n'
		printf '# stops the tollgate demo started at %s and removes what it made\n' "$(date -u +%FT%TZ)"
		printf 'set -u\n'
		printf 'BUILD=%q\n' "$BUILD"
		printf '. %q\n' "$DEMO_ROOT/tests/integration/lib.sh"
		printf '# a pid is signalled only while it is the process the demo started\n'
		printf 'alive() { local t; t=$(awk '\''{ print $22 }'\'' "/proc/$1/stat" 2>/dev/null); [ -n "$t" ] && [ "$t" = "$2" ]; }\n'
		printf 'TG_PIDS=()\n'
		printf 'for pt in %s; do alive "${pt%%%%:*}" "${pt#*:}" && TG_PIDS+=("${pt%%%%:*}"); done\n' "$pts"
		printf 'TG_AGENT_PID=""\nTG_PG_PID=""\nTG_BROKER_PID=""\nTG_T0=""\n'
		printf 'alive %s %s && TG_AGENT_PID=%s\n' "$TG_AGENT_PID" "$(demo_pid_tag "$TG_AGENT_PID")" "$TG_AGENT_PID"
		printf 'alive %s %s && TG_PG_PID=%s\n' "$TG_PG_PID" "$(demo_pid_tag "$TG_PG_PID")" "$TG_PG_PID"
		printf 'TG_DIR=%q\nTG_CONFIG=%q\nTG_PIN_DIR=%q\nTG_HOST_IF=%q\nTG_HOST_IFINDEX=%q\n' \
			"$TG_DIR" "$TG_CONFIG" "$TG_PIN_DIR" "$TG_HOST_IF" "$TG_HOST_IFINDEX"
		printf 'TG_NS=%q\nTG_CGROUP=%q\nTG_CG2=%q\n' "$TG_NS" "$TG_CGROUP" "$TG_CG2"
		printf 'tg_cleanup\n'
	} >"$stop"
	chmod 0755 "$stop"
}

tg_init demo
trap demo_exit EXIT
trap 'exit 129' HUP # the terminal went away: clean up all the same
trap '' PIPE        # the output went away (make demo | head): carry on, clean up at the end
DEMO_T0=$(date +%s.%N)
DEMO_LOG=$TG_DIR/demo.log
chmod 0711 "$TG_DIR"

# --- services ----------------------------------------------------------------------
step "starting Postgres, Redis and the Kafka broker under $TG_DIR"
tg_postgres_up
RPORT=$(tg_free_port)
tg_spawn "$TG_DIR/redis.log" redis-server --port "$RPORT" --bind 127.0.0.1 --save '' \
	--appendonly no --dir "$TG_DIR"
for ((i = 0; i < 50; i++)); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$RPORT" ping >/dev/null 2>&1 || tg_fatal "redis-server did not start: $(tail -3 "$TG_DIR/redis.log")"
tg_spawn "$TG_DIR/broker.out" "$BUILD/kafka-dev-broker" --brokers 3 --topic tollgate.usage:4 \
	--topic tollgate.counters:1 --bootstrap-file "$TG_DIR/bootstrap"
for ((i = 0; i < 50; i++)); do [ -s "$TG_DIR/bootstrap" ] && break; sleep 0.1; done
BROKERS=$(cat "$TG_DIR/bootstrap" 2>/dev/null)
[ -n "$BROKERS" ] || tg_fatal "the dev Kafka broker did not start: $(tail -3 "$TG_DIR/broker.out")"
say "postgres $TG_PG_DSN, redis 127.0.0.1:$RPORT, kafka $BROKERS"

step "the API host (its own veth, address and cgroup) and the client namespace"
tg_topology_up tgd
tg_cgroup_up tollgate-demo
# one source address per client, chosen by uid: policy routing in the client
# namespace (a rule per uid, a table whose route carries the source address),
# so wrk itself needs no option for it
CLIENT_NAMES=(acme globex initech nokey badkey)
declare -A CLIENT_ADDR CLIENT_UID
for i in "${!CLIENT_NAMES[@]}"; do
	n=${CLIENT_NAMES[$i]}
	CLIENT_ADDR[$n]="10.77.$TG_SUBNET.$((21 + i))"
	CLIENT_UID[$n]=$((64021 + i))
	ip -n "$TG_NS" addr add "${CLIENT_ADDR[$n]}/24" dev "$TG_CLIENT_IF" ||
		tg_fatal "cannot add ${CLIENT_ADDR[$n]} to $TG_CLIENT_IF"
	ip -n "$TG_NS" route add "10.77.$TG_SUBNET.0/24" dev "$TG_CLIENT_IF" src "${CLIENT_ADDR[$n]}" \
		table $((1021 + i)) || tg_fatal "cannot add the route of ${CLIENT_ADDR[$n]}"
	ip -n "$TG_NS" rule add uidrange "${CLIENT_UID[$n]}-${CLIENT_UID[$n]}" lookup $((1021 + i)) \
		pref $((1021 + i)) || tg_fatal "cannot add the rule of uid ${CLIENT_UID[$n]}"
done
APP_URL="http://$TG_HOST_IP:$APP_PORT"
: >"$TG_DIR/app-requests.log"
tg_spawn_in_cgroup "$TG_DIR/server.out" "$PYTHON" "$DEMO_ROOT/scripts/demo-api.py" \
	--port "$APP_PORT" --bind "$TG_HOST_IP" --log "$TG_DIR/app-requests.log"
APP_PID=$TG_SPAWNED
tg_wait_for_line "$TG_DIR/server.out" '^ready' 10 "$APP_PID" ||
	tg_fatal "the sample API did not start: $(tail -5 "$TG_DIR/server.out")"
say "API host $TG_HOST_IF $TG_HOST_IP (cgroup $TG_CGROUP), sample API $APP_URL"
say "client namespace $TG_NS on $TG_CLIENT_IF: $(for n in "${CLIENT_NAMES[@]}"; do printf '%s %s, ' "$n" "${CLIENT_ADDR[$n]}"; done | sed 's/, $//')"
# where the clients are: a GeoIP database of their addresses for agent.geoip_db
# (a real host points it at MaxMind's GeoLite2-Country.mmdb)
declare -A CLIENT_COUNTRY=([acme]=DE [globex]=US [initech]=JP [nokey]=BR [badkey]=GB)
GEOIP_DB="$TG_DIR/geoip.mmdb"
for n in "${CLIENT_NAMES[@]}"; do printf '%s/32 %s\n' "${CLIENT_ADDR[$n]}" "${CLIENT_COUNTRY[$n]}"; done \
	>"$TG_DIR/geoip.txt"
"$PYTHON" "$DEMO_ROOT/scripts/mkmmdb.py" --input "$TG_DIR/geoip.txt" "$GEOIP_DB" 2>>"$DEMO_LOG" ||
	tg_fatal "scripts/mkmmdb.py could not write the GeoIP database: $(tail -3 "$DEMO_LOG")"
say "GeoIP database $GEOIP_DB (scripts/mkmmdb.py): $(for n in "${CLIENT_NAMES[@]}"; do printf '%s %s, ' "${CLIENT_ADDR[$n]}" "${CLIENT_COUNTRY[$n]}"; done | sed 's/, $//')"

# --- configuration: one file for the agent, billing and the API -------------------
tg_secrets_up
ADMIN_TOKEN="admin-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
(umask 077 && printf '%s\n' "$ADMIN_TOKEN" >"$TG_DIR/admin-token")
TG_CONFIG="$TG_DIR/tollgate.conf"
TG_PIN_DIR="/sys/fs/bpf/tollgate-demo-$$"
API_URL="http://127.0.0.1:$API_PORT"
mkdir -p "$TG_DIR/state" "$TG_DIR/spool"
cat >"$TG_CONFIG" <<EOF
# tollgate demo ($(date -u +%FT%TZ)): every part reads this one file
[agent]
interfaces = $TG_HOST_IF
api_ports = $APP_PORT
cgroup = $TG_CGROUP
pin_dir = $TG_PIN_DIR
state_dir = $TG_DIR/state
metrics_listen = 127.0.0.1:$METRICS_PORT
snapshot_interval = 2
geoip_db = $GEOIP_DB

[security]
key_secret_file = $TG_SECRETS

[ratelimit]
scope = host

[redis]
url = redis://127.0.0.1:$RPORT

[kafka]
brokers = $BROKERS
spool_dir = $TG_DIR/spool

[postgres]
dsn = $TG_PG_DSN

[billing]
batch_interval = 2
sla_window = 60

[api]
listen = 127.0.0.1:$API_PORT
admin_token_file = $TG_DIR/admin-token
EOF

step "tollgate-billing migrate, tollgate-api serve, tollgate-billing run, tollgate-agent"
"$BUILD/tollgate-billing" --config "$TG_CONFIG" migrate >"$TG_DIR/billing-migrate.log" 2>&1 ||
	tg_fatal "tollgate-billing migrate failed: $(tail -3 "$TG_DIR/billing-migrate.log")"
tg_spawn "$TG_DIR/api.log" "$BUILD/tollgate-api" --config "$TG_CONFIG" serve
API_PID=$TG_SPAWNED
tg_wait_for_line "$TG_DIR/api.log" 'ready: listening' 15 "$API_PID" ||
	tg_fatal "tollgate-api did not start: $(tail -5 "$TG_DIR/api.log")"
tg_spawn "$TG_DIR/billing.log" "$BUILD/tollgate-billing" --config "$TG_CONFIG" run
BILLING_PID=$TG_SPAWNED
tg_wait_for_line "$TG_DIR/billing.log" 'consuming ' 15 "$BILLING_PID" ||
	tg_fatal "tollgate-billing run did not start: $(tail -5 "$TG_DIR/billing.log")"
tg_agent_start 30
say "all running: tollgate-api pid $API_PID, tollgate-billing pid $BILLING_PID, tollgate-agent pid $TG_AGENT_PID"
# should this shell be killed outright (SIGKILL: no trap runs), this script
# still removes everything: rewritten with every process started later
demo_write_stop
say "(if this demo is ever killed with SIGKILL: sudo bash $TG_DIR/stop.sh removes what it left)"

# --- the provider's side, through the REST API only ---------------------------------
# api METHOD PATH [BODY]: one call with the admin token; the body lands in
# $TG_DIR/body; a status other than 2xx stops the demo
api() {
	local method=$1 path=$2 body=${3-} code
	local args=(-sS -o "$TG_DIR/body" -w '%{http_code}' -X "$method" -H "Authorization: Bearer $ADMIN_TOKEN")
	[ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
	code=$(curl "${args[@]}" "$API_URL$path" 2>>"$DEMO_LOG")
	printf '%s %s %s -> %s %s\n' "$method" "$path" "$body" "$code" "$(head -c 2000 "$TG_DIR/body")" >>"$DEMO_LOG"
	[[ "$code" == 2?? ]] || tg_fatal "$method $path answered $code: $(head -c 300 "$TG_DIR/body")"
}
# jf FIELD: a top-level field of the last body
jf() { "$PYTHON" -c 'import json,sys; v = json.load(open(sys.argv[1]))[sys.argv[2]]; print("" if v is None else v)' "$TG_DIR/body" "$1"; }

step "the provider publishes two APIs, two plans and three consumers (curl -H 'Authorization: Bearer <admin token>' $API_URL/v1/...)"
TODAY=$(date -u +%F)
api POST /v1/apis '{"name": "orders", "version": "1", "base_path": "/v1", "description": "Orders: create, list, look up, search, reports", "sla_uptime": 99.5, "sla_p99_ms": 300}'
API_ORDERS=$(jf id)
api POST /v1/apis '{"name": "legacy", "version": "0", "base_path": "/v0", "description": "The old orders API", "sla_uptime": 99, "sla_p99_ms": 200}'
API_LEGACY=$(jf id)
SUNSET=$(date -u -d '+90 days' +%F)
api PATCH "/v1/apis/$API_LEGACY" "{\"deprecated_at\": \"${TODAY}T00:00:00Z\", \"sunset_at\": \"${SUNSET}T00:00:00Z\"}"
say "POST  /v1/apis   orders (id $API_ORDERS) /v1: SLA uptime 99.5 %, p99 300 ms"
say "POST  /v1/apis   legacy (id $API_LEGACY) /v0: SLA uptime 99 %, p99 200 ms"
say "PATCH /v1/apis/$API_LEGACY deprecated_at $TODAY, sunset_at $SUNSET"

SEED_TIERS='[{"up_to": 100, "unit_price": "0"}, {"up_to": 250, "unit_price": "0.001"}, {"up_to": null, "unit_price": "0.0005"}]'
api POST /v1/plans "{\"name\": \"Seed\", \"api_id\": null, \"rate_per_sec\": 25, \"burst\": 50, \"currency\": \"USD\", \"tiers_mode\": \"graduated\", \"tiers\": $SEED_TIERS}"
PLAN_SEED=$(jf id)
PRO_TIERS='[{"up_to": 1000, "unit_price": "0.002"}, {"up_to": null, "unit_price": "0.001"}]'
api POST /v1/plans "{\"name\": \"Pro\", \"api_id\": null, \"rate_per_sec\": 100, \"burst\": 200, \"currency\": \"USD\", \"tiers_mode\": \"volume\", \"tiers\": $PRO_TIERS, \"period_fee\": \"5.00\"}"
PLAN_PRO=$(jf id)
say "POST  /v1/plans  Seed (id $PLAN_SEED): 25/s, burst 50; graduated: first 100 free, next 150 at \$0.001, beyond \$0.0005"
say "POST  /v1/plans  Pro (id $PLAN_PRO): 100/s, burst 200; volume: \$0.002 each up to 1000, \$0.001 beyond; \$5.00 a month"

declare -A CONSUMER_ID KEY KEY_ID PLAN_OF
PLAN_OF[acme]=$PLAN_PRO
PLAN_OF[globex]=$PLAN_SEED
PLAN_OF[initech]=$PLAN_SEED
for n in acme globex initech; do
	api POST /v1/consumers "{\"name\": \"$n\", \"email\": \"dev@$n.example\"}"
	CONSUMER_ID[$n]=$(jf id)
	api POST "/v1/consumers/${CONSUMER_ID[$n]}/keys" "{\"plan_id\": \"${PLAN_OF[$n]}\"}"
	KEY[$n]=$(jf key)
	KEY_ID[$n]=$(jf id)
	[[ "${KEY[$n]}" == tg_* ]] || tg_fatal "no key in the answer: $(head -c 300 "$TG_DIR/body")"
	say "POST  /v1/consumers $n (id ${CONSUMER_ID[$n]}), POST /v1/consumers/${CONSUMER_ID[$n]}/keys plan ${PLAN_OF[$n]}: key ${KEY[$n]:0:8}… (id ${KEY_ID[$n]})"
done
BAD_KEY=$("$PYTHON" "$TG_CLIENT_PY" newkey) # a well-formed key no one issued

# the outbox relay puts keys, plans and routes into Redis and PUBLISHes; the
# agent installs them in the kernel maps
# (tollgatectl status counts keys and plans; the route trie is counted with bpftool)
for ((i = 0; i < 100; i++)); do
	read -r nk np < <(tg_ctl status --json 2>/dev/null | "$PYTHON" -c '
import json, sys
m = json.load(sys.stdin)["maps"]
print(m["tg_keys"]["entries"], m["tg_plans"]["entries"])' 2>/dev/null)
	nr=$(bpftool -j map dump pinned "$TG_PIN_DIR/tg_routes" 2>/dev/null |
		"$PYTHON" -c 'import json, sys; print(len(json.load(sys.stdin)))' 2>/dev/null)
	[ "${nk:-0}" -ge 3 ] && [ "${np:-0}" -ge 2 ] && [ "${nr:-0}" -ge 2 ] && break
	sleep 0.1
done
[ "${nk:-0}" -ge 3 ] && [ "${np:-0}" -ge 2 ] && [ "${nr:-0}" -ge 2 ] ||
	tg_fatal "the agent did not get the keys, plans and routes from Redis (keys ${nk:-?}, plans ${np:-?}, routes ${nr:-?})"
say "the agent has them in the kernel: $nk keys, $np plans, $nr routes (pinned under $TG_PIN_DIR)"

# the SLA job starts watching the new APIs from this minute on (tollgate-billing
# run would do so at its next minute)
"$BUILD/tollgate-billing" --config "$TG_CONFIG" jobs >"$TG_DIR/billing-jobs0.log" 2>&1 ||
	tg_fatal "tollgate-billing jobs failed: $(tail -3 "$TG_DIR/billing-jobs0.log")"

# --- traffic -----------------------------------------------------------------------
# load NAME OUT KEY DELAY_MS THREADS CONNECTIONS REQUESTS: wrk in the client
# namespace as NAME's uid (so from NAME's address), in the background
cp "$DEMO_ROOT/scripts/demo-load.lua" "$TG_DIR/demo-load.lua"
chmod 0644 "$TG_DIR/demo-load.lua"
LOAD_PIDS=()
load() {
	local name=$1 out=$2 key=$3 delay=$4 threads=$5 conns=$6 reqs=$7
	DEMO_KEY=$key DEMO_DELAY_MS=$delay DEMO_REQUESTS=$reqs \
		ip netns exec "$TG_NS" setpriv --reuid="${CLIENT_UID[$name]}" --regid="${CLIENT_UID[$name]}" \
		--clear-groups wrk -t "$threads" -c "$conns" -d "${DEMO_SECONDS}s" --timeout 5s \
		-s "$TG_DIR/demo-load.lua" "$APP_URL" >"$out" 2>&1 &
	LOAD_PIDS+=("$!")
	TG_PIDS+=("$!")
}
# flood NAME OUT KEY COUNT: tgclient.py's flood (a new connection each), as NAME's uid
flood() {
	local name=$1 out=$2 key=$3 count=$4
	ip netns exec "$TG_NS" setpriv --reuid="${CLIENT_UID[$name]}" --regid="${CLIENT_UID[$name]}" \
		--clear-groups "$PYTHON" "$TG_CLIENT_PY" flood --addr "$TG_HOST_IP" --port "$APP_PORT" \
		--path /v1/orders --key "$key" --count "$count" >"$out" 2>&1 &
	LOAD_PIDS+=("$!")
	TG_PIDS+=("$!")
}

step "traffic for ${DEMO_SECONDS} s from $TG_NS (wrk; tgclient.py for the calls without a valid key)"
say "acme     ${CLIENT_ADDR[acme]}: 2 connections, ~25 requests/s, within Pro's 100/s: orders, look-ups, POSTs, the slow search"
say "globex   ${CLIENT_ADDR[globex]}: 4 connections, ~300 requests/s against Seed's 25/s: the kernel answers 429"
say "initech  ${CLIENT_ADDR[initech]}: the deprecated /v0 API, /v1/reports (500) and unknown orders (404)"
say "no key   ${CLIENT_ADDR[nokey]}: 10 calls; unknown key ${CLIENT_ADDR[badkey]}: 10 calls (the kernel answers 401)"
TRAFFIC_FROM=$(date -u +%s)
load acme "$TG_DIR/load-acme.out" "${KEY[acme]}" 60 2 2 \
	"GET /v1/orders,GET /v1/orders/7,GET /v1/orders/42,POST /v1/orders,GET /v1/search,GET /v1/orders?status=open"
load globex "$TG_DIR/load-globex.out" "${KEY[globex]}" 10 2 4 "GET /v1/orders,GET /v1/orders/311"
load initech "$TG_DIR/load-initech.out" "${KEY[initech]}" 100 1 2 \
	"GET /v0/orders,GET /v0/orders/3,GET /v1/reports,GET /v1/orders/99999,GET /v0/orders/12"
flood nokey "$TG_DIR/load-nokey.out" "" 10
flood badkey "$TG_DIR/load-badkey.out" "$BAD_KEY" 10
for pid in "${LOAD_PIDS[@]}"; do wait "$pid" || tg_fatal "a load client failed (see $TG_DIR/load-*.out)"; done
TRAFFIC_TO=$(date -u +%s)
sleep 1 # answers still on their way (the slow route)

# --- billing catches up ---------------------------------------------------------------
step "waiting for tollgate-billing to write the usage (Kafka -> Postgres rollups, every 2 s)"
tg_ctl counters --json >"$TG_DIR/counters.json" 2>"$TG_DIR/counters.err" ||
	tg_fatal "tollgatectl counters failed: $(cat "$TG_DIR/counters.err")"
# what the report needs to know about this run (the raw keys too: mode 0600)
(umask 077 && cat >"$TG_DIR/clients.json") <<EOF
{"api_url": "$API_URL", "admin_token_file": "$TG_DIR/admin-token",
 "from": $TRAFFIC_FROM, "to": $TRAFFIC_TO,
 "apis": {"orders": "$API_ORDERS", "legacy": "$API_LEGACY"},
 "plans": {"$PLAN_SEED": {"name": "Seed", "tiers_mode": "graduated", "tiers": $SEED_TIERS, "period_fee": "0"},
           "$PLAN_PRO": {"name": "Pro", "tiers_mode": "volume", "tiers": $PRO_TIERS, "period_fee": "5.00"}},
 "consumers": [
$(for n in acme globex initech; do
	printf '  {"name": "%s", "id": "%s", "plan_id": "%s", "key_id": "%s", "addr": "%s", "country": "%s", "load": "%s"}%s\n' \
		"$n" "${CONSUMER_ID[$n]}" "${PLAN_OF[$n]}" "${KEY_ID[$n]}" "${CLIENT_ADDR[$n]}" \
		"${CLIENT_COUNTRY[$n]}" "$TG_DIR/load-$n.out" "$([ "$n" = initech ] || echo ,)"
done)
 ],
 "anonymous": [{"name": "no key", "addr": "${CLIENT_ADDR[nokey]}", "load": "$TG_DIR/load-nokey.out"},
               {"name": "unknown key", "addr": "${CLIENT_ADDR[badkey]}", "load": "$TG_DIR/load-badkey.out"}],
 "server_log": "$TG_DIR/app-requests.log",
 "keys": {$(for n in acme globex initech; do printf '"%s": "%s", ' "${KEY[$n]}" "$n"; done | sed 's/, $//')}
}
EOF
report() { # CMD ARGS...: scripts/demo-report.py on this run's figures
	local cmd=$1
	shift
	"$PYTHON" "$DEMO_ROOT/scripts/demo-report.py" "$cmd" --clients "$TG_DIR/clients.json" \
		--counters "$TG_DIR/counters.json" "$@"
}
report wait --timeout 90 ||
	tg_fatal "the usage did not reach the API's figures within 90 s, or they could not be read (the line above; $TG_DIR/billing.log, api.log)"

step "tollgate-billing jobs (SLA windows, deprecation notices) and invoice --period $(date -u +%Y-%m)"
# An SLA window is evaluated once it has been closed for 60 s (billing/sla.h),
# so the demo's last window would be judged a minute or two from now. Rather
# than wait, the job is told the time at which it would run: --now = the end
# of the minute holding the traffic + 60 s.
SLA_NOW=$(((TRAFFIC_TO / 60 + 1) * 60 + 60))
"$BUILD/tollgate-billing" --config "$TG_CONFIG" jobs --now "$SLA_NOW" >"$TG_DIR/billing-jobs.log" 2>&1 ||
	tg_fatal "tollgate-billing jobs failed: $(tail -3 "$TG_DIR/billing-jobs.log")"
say "jobs --now $(date -u -d "@$SLA_NOW" +%FT%TZ) (the window up to $(date -u -d "@$((SLA_NOW - 60))" +%H:%M) closed 60 s before):"
say "  $(grep -o 'jobs: .*' "$TG_DIR/billing-jobs.log" | tail -1)"
PERIOD=$(date -u +%Y-%m)
"$BUILD/tollgate-billing" --config "$TG_CONFIG" invoice --period "$PERIOD" >"$TG_DIR/billing-invoice.log" 2>&1 ||
	tg_fatal "tollgate-billing invoice failed: $(tail -3 "$TG_DIR/billing-invoice.log")"
say "invoice --period $PERIOD: $(tail -1 "$TG_DIR/billing-invoice.log" | sed 's/^[^ ]* [^ ]* //')"
# the events as the agent sent them to Kafka: their client addresses and countries
tg_ctl events --json >"$TG_DIR/events.jsonl" 2>"$TG_DIR/events.err" || true

report report --period "$PERIOD" --events "$TG_DIR/events.jsonl" \
	--summary "${DEMO_SUMMARY:-}" --cleanup-json "$(printf '{"namespace": "%s", "host_if": "%s", "pin_dir": "%s", "cgroup": "%s", "dir": "%s", "ports": [%s, %s, %s, %s, %s]}' \
		"$TG_NS" "$TG_HOST_IF" "$TG_PIN_DIR" "$TG_CGROUP" "$TG_DIR" "$API_PORT" "$APP_PORT" "$METRICS_PORT" "$RPORT" "$TG_PG_PORT")" ||
	tg_fatal "the report failed"

step "the running services"
cat <<EOF
tollgate-api (REST)    $API_URL   (/healthz, /openapi.json, /v1/apis; admin token in $TG_DIR/admin-token)
agent metrics          http://127.0.0.1:$METRICS_PORT/metrics
tollgate-api metrics   $API_URL/metrics
sample API (API host)  $APP_URL   (from the client namespace: ip netns exec $TG_NS curl -H 'X-API-Key: …' $APP_URL/v1/orders)
Postgres               $TG_PG_DSN
Redis                  redis://127.0.0.1:$RPORT
Kafka (dev broker)     $BROKERS   (topics tollgate.usage, tollgate.counters)
pinned maps            $TG_PIN_DIR   (bpftool map dump pinned $TG_PIN_DIR/tg_counters)
config                 $TG_CONFIG   (tollgatectl --config $TG_CONFIG status)
EOF
if [ "$KEEP" = 1 ]; then
	say ""
	say "keys: acme ${KEY[acme]}, globex ${KEY[globex]}, initech ${KEY[initech]}"
fi
DEMO_READY=1
say ""
say "demo run time $(awk -v a="$DEMO_T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }') s$([ "$KEEP" = 1 ] || echo "; stopping and removing everything")"
