# SPDX-License-Identifier: BSD-2-Clause
# api_lib.sh - what the tollgate-api tests share (sourced after lib.sh):
# Postgres, Redis, a key secret, an admin token, the config, the migrated
# schema and a running tollgate-api; and curl helpers.
#
#   api_setup [SERVE-ARGS...]   everything above; sets API_BASE, API_ADMIN,
#                               API_CONF, API_RPORT, API_PID
#   api_redis_start / api_redis_stop
#   api_start [SERVE-ARGS...]   (re)start tollgate-api on API_PORT
#   req AUTH METHOD PATH [BODY [CURL-ARGS...]]
#                               prints the status; the body is in
#                               $TG_DIR/body, the headers in $TG_DIR/headers.
#                               AUTH: "" = none, "x:KEY" = X-API-Key, else
#                               a bearer token. BODY "" = none, "@FILE" = a file.
#   api_sample_server           the sample API (http_server.py) on a free
#                               port: SAMPLE_URL, SAMPLE_LOG (one line per
#                               request: METHOD PATH KEY), SAMPLE_PID
#   jb FILTER                   jq -r FILTER on the last body
#   rcli ARGS...                redis-cli on our Redis

api_redis_start() {
	local i
	tg_spawn "$TG_DIR/redis.log" redis-server --port "$API_RPORT" --bind 127.0.0.1 --save '' \
		--appendonly no --dir "$TG_DIR"
	API_REDIS_PID=$TG_SPAWNED
	for ((i = 0; i < 50; i++)); do rcli ping >/dev/null 2>&1 && return 0; sleep 0.1; done
	tg_fatal "redis-server did not start"
}

api_redis_stop() {
	tg_stop_pid "$API_REDIS_PID" 5
}

rcli() { redis-cli -p "$API_RPORT" "$@"; }

api_start() {
	local n=${API_RUNS:-0}
	API_RUNS=$((n + 1))
	API_LOG="$TG_DIR/api.$API_RUNS.log"
	tg_spawn "$API_LOG" "$BUILD/tollgate-api" --config "$API_CONF" serve "$@"
	API_PID=$TG_SPAWNED
	tg_wait_for_line "$API_LOG" 'ready: listening' 15 "$API_PID" ||
		tg_fatal "tollgate-api did not start: $(tail -5 "$API_LOG")"
}

api_setup() {
	tg_need psql redis-server redis-cli curl jq
	tg_postgres_up
	API_RPORT=$(tg_free_port)
	api_redis_start
	tg_secrets_up
	API_ADMIN="admin-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
	(umask 077 && printf '%s\n' "$API_ADMIN" >"$TG_DIR/admin-token")
	API_PORT=$(tg_free_port)
	API_CONF="$TG_DIR/tollgate.conf"
	TG_CONFIG=$API_CONF # tg_digest reads security.key_secret_file from it
	cat >"$API_CONF" <<-EOF
		[security]
		key_secret_file = $TG_SECRETS
		[postgres]
		dsn = $TG_PG_DSN
		[redis]
		url = redis://127.0.0.1:$API_RPORT
		[api]
		listen = 127.0.0.1:$API_PORT
		admin_token_file = $TG_DIR/admin-token
	EOF
	"$BUILD/tollgate-billing" --config "$API_CONF" migrate >"$TG_DIR/billing-migrate.log" 2>&1 ||
		tg_fatal "migrate failed: $(tail -3 "$TG_DIR/billing-migrate.log")"
	API_BASE="http://127.0.0.1:$API_PORT"
	api_start "$@"
}

api_sample_server() {
	local port
	port=$(tg_free_port)
	SAMPLE_LOG="$TG_DIR/sample-requests.log"
	: >"$SAMPLE_LOG"
	tg_spawn "$TG_DIR/sample.out" "$PYTHON" "$TG_SERVER_PY" --port "$port" --bind 127.0.0.1 \
		--log "$SAMPLE_LOG"
	SAMPLE_PID=$TG_SPAWNED
	tg_wait_for_line "$TG_DIR/sample.out" '^ready' 10 "$SAMPLE_PID" ||
		tg_fatal "sample server did not start: $(tail -5 "$TG_DIR/sample.out")"
	SAMPLE_URL="http://127.0.0.1:$port"
}

req() {
	local auth=$1 method=$2 path=$3 body=${4-}
	shift 3
	[ $# -gt 0 ] && shift
	local args=(-s -o "$TG_DIR/body" -D "$TG_DIR/headers" -w '%{http_code}' -X "$method")
	case "$auth" in
	"") ;;
	x:*) args+=(-H "X-API-Key: ${auth#x:}") ;;
	*) args+=(-H "Authorization: Bearer $auth") ;;
	esac
	[ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
	curl "${args[@]}" "$@" "$API_BASE$path"
}

jb() { jq -r "$@" <"$TG_DIR/body"; }

# header NAME: a header of the last reply
header() { grep -i "^$1:" "$TG_DIR/headers" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
