#!/usr/bin/env bash
# test-billing-sla.sh - SLA alerts, deprecation notices and their webhooks
# (DESIGN §6 "SLA", "Deprecation"), with a real Postgres and a webhook
# receiver, through `tollgate-billing jobs --now T` on rollup rows the test
# writes itself (the figures each window must give are computed here):
#   - SLA: a burst of 5xx over three windows opens exactly one alert and one
#     webhook, the first healthy window resolves it (one "resolved" webhook);
#     refused requests do not count, unanswered ones count as failures,
#     summary counts are left out; a p99 latency breach opens its own alert;
#     windows under the minimum of requests decide nothing; jobs run twice
#     on the same window, or by two members at once, changes nothing more;
#     removing a target resolves its open alert;
#   - webhooks: a receiver that is down, then answers 500, gets each webhook
#     later, exactly once;
#   - deprecation: a consumer calling a deprecated API gets one notice and
#     one webhook per week however often jobs runs; consumers under the
#     threshold, refused, outside the 7 days or calling APIs that are not (or
#     not yet) deprecated get none.
# Run: BUILD=/abs/build bash tests/integration/test-billing-sla.sh (as root).
set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tg_init billing-sla
tg_need psql date
tg_postgres_up

RECV_PORT=$(tg_free_port)
RECV_LOG=$TG_DIR/webhooks.jsonl
: >"$RECV_LOG"
RECV_PID=""
receiver_up() { # [FAIL-FIRST]
	tg_spawn "$TG_DIR/receiver.out" "$PYTHON" "$TG_LIB_DIR/webhook_receiver.py" \
		--port "$RECV_PORT" --log "$RECV_LOG" --fail-first "${1:-0}"
	RECV_PID=$TG_SPAWNED
	tg_wait_for_line "$TG_DIR/receiver.out" '^ready' 10 "$RECV_PID" ||
		tg_fatal "webhook receiver did not start: $(tail -5 "$TG_DIR/receiver.out")"
}
receiver_down() { tg_stop_pid "$RECV_PID" 5; }

# recv EXPR: a Python expression over R, the list of received POSTs
recv() {
	"$PYTHON" -c 'import json, sys
R = [json.loads(l) for l in open(sys.argv[1])]
print(eval(sys.argv[2]))' "$RECV_LOG" "$1"
}
delivered() { recv "len([r for r in R if r['status'] == 200 and r['path'] == '$1'])"; }

CONF=$TG_DIR/tollgate.conf
cat >"$CONF" <<EOF
[postgres]
dsn = $TG_PG_DSN
[billing]
sla_window = 300
deprecation_threshold = 10
alert_webhook_url = http://127.0.0.1:$RECV_PORT/alert
notify_webhook_url = http://127.0.0.1:$RECV_PORT/notice
EOF

"$BUILD/tollgate-billing" --config "$CONF" migrate >"$TG_DIR/migrate.log" 2>&1 ||
	{ cat "$TG_DIR/migrate.log"; tg_fatal "migrate failed"; }

ep() { date -u -d "$1" +%s; }
JOBS_N=0
jobs_at() { # TIME: one `jobs --now`, its log kept; fails the test when it fails
	local rc
	JOBS_N=$((JOBS_N + 1))
	"$BUILD/tollgate-billing" --config "$CONF" jobs --now "$(ep "$1")" \
		>"$TG_DIR/jobs-$JOBS_N.log" 2>&1
	rc=$?
	if [ "$rc" -ne 0 ]; then
		tg_not_ok "jobs --now $1 exits 0" "exit $rc: $(tail -3 "$TG_DIR/jobs-$JOBS_N.log")"
	fi
}

# --- catalog and helpers -----------------------------------------------------------
tg_psql "
CREATE TABLE rollup_minute_p20261128 PARTITION OF rollup_minute
	FOR VALUES FROM ('2026-11-28 00:00:00+00') TO ('2026-11-29 00:00:00+00');
CREATE TABLE rollup_hour_p202611 PARTITION OF rollup_hour
	FOR VALUES FROM ('2026-11-01 00:00:00+00') TO ('2026-12-01 00:00:00+00');
-- a histogram of n requests of us microseconds (the bucket nearest to us)
CREATE FUNCTION test_h(us bigint, n bigint) RETURNS bigint[] LANGUAGE sql AS \$\$
	SELECT ARRAY[(SELECT i FROM generate_series(0, 2047) i
		ORDER BY abs(tg_hist_value(i) - us), i LIMIT 1), n]
\$\$;
INSERT INTO apis (id, name, sla_uptime, sla_p99_ms) VALUES
	(101, 'orders', 99.0, 200), (102, 'search', NULL, 100), (105, 'payments', 99.5, NULL);
INSERT INTO apis (id, name, version, deprecated_at, sunset_at) VALUES
	(103, 'legacy', '1', '2026-11-01T00:00:00Z', '2027-01-31T00:00:00Z'),
	(104, 'current', '2', NULL, NULL),
	(106, 'next-to-go', '1', '2026-12-15T00:00:00Z', NULL);
INSERT INTO consumers (id, name, email) VALUES (1, 'sla-traffic', ''),
	(11, 'acme', 'ops@acme.example'), (12, 'tiny', ''), (13, 'modern', ''),
	(14, 'refused', ''), (15, 'gone-quiet', '');
" >/dev/null || tg_fatal "cannot set up the catalog"

# mrow TS API CLASS VERDICT REQUESTS SUMMARIZED UNANSWERED HIST-SQL: a minute row
mrow() {
	tg_psql "INSERT INTO rollup_minute (ts, consumer_id, plan_id, api_id, status_class, verdict,
		requests, summarized, unanswered, unattributed, bytes_in, bytes_out, latency_sum_us,
		hist)
		VALUES ('$1', 1, 1, $2, $3, $4, $5, $6, $7, 0, 0, 0, 0, $8)" >/dev/null ||
		tg_fatal "cannot insert a minute row"
}
# hrow TS CONSUMER API VERDICT REQUESTS: an hour row (class 2, one endpoint)
hrow() {
	tg_psql "INSERT INTO rollup_hour (ts, consumer_id, plan_id, api_id, status_class, verdict,
		method, endpoint, country, requests, summarized, unanswered, unattributed, bytes_in,
		bytes_out, latency_sum_us, hist)
		VALUES ('$1', $2, 1, $3, $([ "$4" = 0 ] && echo 2 || echo 0), $4, 1, '/v1/x', 'FR',
		$5, 0, 0, 0, 0, 0, 0, '{}')" >/dev/null || tg_fatal "cannot insert an hour row"
}
FAST="test_h(50000, %d)"
fast() { printf "$FAST" "$1"; }
SLOW_MIX="tg_hist_merge(test_h(50000, 90), test_h(300000, 10))"
D=2026-11-28

# W0 [10:00, 10:05): healthy everywhere; 1000 refused requests on orders do
# not count (with them uptime would be 200/1200)
mrow "$D 10:01:00Z" 101 2 0 200 0 0 "$(fast 200)"
mrow "$D 10:01:00Z" 101 0 6 1000 0 0 "'{}'"
mrow "$D 10:01:00Z" 102 2 0 100 0 0 "$(fast 100)"
mrow "$D 10:01:00Z" 105 2 0 100 0 0 "$(fast 100)"
# W1 [10:05, 10:10): orders 25 % 5xx; search p99 ~300 ms; payments 100 OK +
# 10 unanswered (90.9 %) + 5000 summarized (which, if counted as answered
# OK, would make it 99.8 %, healthy)
mrow "$D 10:06:00Z" 101 2 0 150 0 0 "$(fast 150)"
mrow "$D 10:07:00Z" 101 5 0 50 0 0 "$(fast 50)"
mrow "$D 10:06:00Z" 102 2 0 100 0 0 "$SLOW_MIX"
mrow "$D 10:06:00Z" 105 2 0 100 0 0 "$(fast 100)"
mrow "$D 10:06:00Z" 105 0 0 5010 5000 10 "'{}'"
# W2 [10:10, 10:15): orders 50 % 5xx; search still slow; payments healthy
# (3000 summarized only besides)
mrow "$D 10:11:00Z" 101 2 0 100 0 0 "$(fast 100)"
mrow "$D 10:12:00Z" 101 5 0 100 0 0 "$(fast 100)"
mrow "$D 10:11:00Z" 102 2 0 100 0 0 "$SLOW_MIX"
mrow "$D 10:11:00Z" 105 2 0 100 0 0 "$(fast 100)"
mrow "$D 10:11:00Z" 105 0 0 3000 3000 0 "'{}'"
# W3 [10:15, 10:20): orders 25 % 5xx; search fast again; payments silent
mrow "$D 10:16:00Z" 101 2 0 150 0 0 "$(fast 150)"
mrow "$D 10:16:00Z" 101 5 0 50 0 0 "$(fast 50)"
mrow "$D 10:16:00Z" 102 2 0 100 0 0 "$(fast 100)"
# W4 [10:20, 10:25): orders healthy (4xx are not failures)
mrow "$D 10:21:00Z" 101 2 0 200 0 0 "$(fast 200)"
mrow "$D 10:22:00Z" 101 4 0 30 0 0 "$(fast 30)"
mrow "$D 10:21:00Z" 102 2 0 100 0 0 "$(fast 100)"
# W5, W6: under the minimum of 20: 5 slow search requests, 10 orders 5xx
mrow "$D 10:26:00Z" 102 2 0 5 0 0 "test_h(300000, 5)"
mrow "$D 10:31:00Z" 101 5 0 10 0 0 "$(fast 10)"

alerts() {
	tg_psql "SELECT kind || ':' || api_id || ':' || state FROM alerts ORDER BY id" | tr '\n' ' '
}
detail() { # ALERT-KIND API FIELD: details->>FIELD of that alert
	tg_psql "SELECT details->>'$3' FROM alerts WHERE kind = '$1' AND api_id = $2"
}
snapshot() {
	tg_psql "SELECT a.*, s.last_window_end FROM alerts a
		FULL JOIN sla_state s ON s.api_id = a.api_id ORDER BY a.id, s.api_id"
	tg_psql "SELECT id, kind, event, alert_id, notice_id, payload, attempts, next_attempt_at,
		delivered_at FROM webhook_outbox ORDER BY id"
	tg_psql "SELECT * FROM notices ORDER BY id"
	wc -l <"$RECV_LOG"
}

receiver_up 0

# --- S1: the first evaluation takes the latest complete window only ---------------
jobs_at "$D 10:06:00Z"
assert_eq "W0 healthy everywhere (refused requests excluded): no alert" "" "$(alerts)"
assert_eq "each SLA API evaluated up to 10:05" "101 102 105" \
	"$(tg_psql "SELECT string_agg(api_id::text, ' ' ORDER BY api_id) FROM sla_state
		WHERE last_window_end = '$D 10:05:00Z'")"

# --- S2: W1 breaches ----------------------------------------------------------------------
jobs_at "$D 10:11:00Z"
assert_eq "W1 opens one alert per breached (kind, API)" \
	"sla_uptime:101:open sla_latency:102:open sla_uptime:105:open " "$(alerts)"
assert_eq "orders: uptime 75 % (150 of 200), refused left out" "75.0000 200 50" \
	"$(detail sla_uptime 101 uptime) $(detail sla_uptime 101 requests) \
$(detail sla_uptime 101 failures)"
assert_eq "payments: unanswered are failures, summaries left out (100 of 110)" \
	"90.9091 110 10 10" "$(detail sla_uptime 105 uptime) $(detail sla_uptime 105 requests) \
$(detail sla_uptime 105 failures) $(detail sla_uptime 105 unanswered)"
want_p99=$(tg_psql "SELECT round(tg_hist_value((test_h(300000, 1))[1])::numeric / 1000, 3)")
assert_eq "search: p99 from the merged histogram, target 100 ms" "$want_p99 100 100" \
	"$(detail sla_latency 102 p99_ms) $(detail sla_latency 102 target_p99_ms) \
$(detail sla_latency 102 latency_requests)"
assert_eq "orders' latency is within target: no latency alert" 0 \
	"$(tg_psql "SELECT count(*) FROM alerts WHERE kind = 'sla_latency' AND api_id = 101")"
assert_eq "opened_at is the start of the breached window" "2026-11-28T10:05:00Z" \
	"$(tg_psql "SELECT tg_rfc3339(opened_at) FROM alerts WHERE api_id = 101")"
assert_eq "three alert.opened webhooks delivered" 3 "$(delivered /alert)"
assert_eq "one webhook per alert, each once" "101 102 105" \
	"$(recv "' '.join(sorted(str(r['body']['api_id']) for r in R if r['status'] == 200))")"
outbox_ids=$(tg_psql "SELECT string_agg(id::text, ' ' ORDER BY id) FROM webhook_outbox")
assert_eq "webhook request: JSON, user agent, delivery id = outbox id" \
	"application/json tollgate-billing $outbox_ids" \
	"$(recv "' '.join(sorted({r['content_type'] + ' ' + r['user_agent'] for r in R}))") \
$(recv "' '.join(sorted(r['delivery'] for r in R))")"
assert_eq "payload of orders' alert" "alert.opened sla_uptime open orders 2026-11-28T10:10:00Z" \
	"$(recv "' '.join(str(x) for r in R if r['body']['api_id'] == 101
		for x in (r['body']['type'], r['body']['kind'], r['body']['state'],
		r['body']['api_name'], r['body']['details']['window_end']))")"
assert_match "decimal figures sent exactly" '"uptime": 75\.0000,.*"target_uptime": 99,' \
	"$(recv "[r['raw'] for r in R if r['body']['api_id'] == 101][0]")"
assert_eq "outbox rows delivered and stamped on the alerts" "3 3" \
	"$(tg_psql "SELECT count(*) FILTER (WHERE delivered_at IS NOT NULL) FROM webhook_outbox") \
$(tg_psql "SELECT count(*) FILTER (WHERE opened_delivered_at IS NOT NULL) FROM alerts")"

# --- S3: the same window again changes nothing ------------------------------------------
snapshot >"$TG_DIR/snap1"
jobs_at "$D 10:11:00Z"
jobs_at "$D 10:14:59Z" # latest complete window still W1
snapshot >"$TG_DIR/snap2"
assert_true "jobs run twice on the same window: alerts, outbox, webhooks unchanged" \
	"$(diff "$TG_DIR/snap1" "$TG_DIR/snap2" | head -5)" cmp -s "$TG_DIR/snap1" "$TG_DIR/snap2"

# --- S4: W2, W3 with the receiver down ---------------------------------------------------
receiver_down
t0=$(date +%s)
jobs_at "$D 10:21:00Z"
assert_range "a receiver that is down does not hold jobs" 0 5 $(($(date +%s) - t0))
assert_eq "orders stays one open alert over three breached windows" "open 3 2026-11-28T10:20:00Z" \
	"$(tg_psql "SELECT state || ' ' || breached_windows || ' ' || tg_rfc3339(last_breach_at)
		FROM alerts WHERE api_id = 101")"
assert_eq "search resolved by W3, payments by W2 (W3 silent decides nothing)" \
	"sla_uptime:101:open sla_latency:102:resolved sla_uptime:105:resolved " "$(alerts)"
assert_eq "resolved_at is the start of the healthy window" \
	"2026-11-28T10:15:00Z 2026-11-28T10:10:00Z" \
	"$(tg_psql "SELECT tg_rfc3339(resolved_at) FROM alerts WHERE api_id = 102") \
$(tg_psql "SELECT tg_rfc3339(resolved_at) FROM alerts WHERE api_id = 105")"
assert_eq "two alert.resolved webhooks queued, pending, one attempt failed" "2 2 1" \
	"$(tg_psql "SELECT count(*) FROM webhook_outbox WHERE event = 'alert.resolved'") \
$(tg_psql "SELECT count(*) FROM webhook_outbox WHERE delivered_at IS NULL") \
$(tg_psql "SELECT count(*) FROM webhook_outbox WHERE last_error IS NOT NULL")"
assert_eq "nothing more received" 3 "$(delivered /alert)"

# --- S5, S6: receiver back, answering 500 once, then 200 -----------------------------------
receiver_up 1
jobs_at "$D 10:21:10Z"
assert_eq "the failed row waits for its backoff, the other gets a 500" "1 3" \
	"$(recv "len([r for r in R if r['status'] == 500])") $(delivered /alert)"
jobs_at "$D 10:22:00Z"
jobs_at "$D 10:22:00Z"
assert_eq "both resolved webhooks delivered after their backoff" 5 "$(delivered /alert)"
assert_eq "every outbox row delivered exactly once" "5 5 0" \
	"$(recv "len({r['delivery'] for r in R if r['status'] == 200})") \
$(recv "len([r for r in R if r['status'] == 200])") \
$(tg_psql "SELECT count(*) FROM webhook_outbox WHERE delivered_at IS NULL")"
assert_eq "the retried rows took two attempts each" "2 2" \
	"$(tg_psql "SELECT string_agg(attempts::text, ' ' ORDER BY id) FROM webhook_outbox
		WHERE event = 'alert.resolved'")"
assert_eq "resolved webhooks say resolved" \
	"alert.resolved:102:resolved alert.resolved:105:resolved" \
	"$(recv "' '.join(sorted('%s:%s:%s' % (r['body']['type'], r['body']['api_id'],
		r['body']['state']) for r in R
		if r['status'] == 200 and r['event'] == 'alert.resolved'))")"

# --- S7: W4 recovers orders ----------------------------------------------------------------
jobs_at "$D 10:26:00Z"
assert_eq "W4 resolves orders" \
	"sla_uptime:101:resolved sla_latency:102:resolved sla_uptime:105:resolved " "$(alerts)"
assert_eq "one opened and one resolved webhook per alert" \
	"alert.opened:101 alert.opened:102 alert.opened:105 alert.resolved:101 alert.resolved:102 \
alert.resolved:105" \
	"$(recv "' '.join(sorted('%s:%s' % (r['event'], r['body']['api_id']) for r in R
		if r['status'] == 200))")"
assert_eq "the resolution carries the healthy window" "100.0000 230" \
	"$(tg_psql "SELECT (resolution->>'uptime') || ' ' || (resolution->>'requests') FROM alerts
		WHERE api_id = 101")"

# --- S8: windows under the minimum ----------------------------------------------------------
jobs_at "$D 10:36:00Z"
assert_eq "10 failures and 5 slow requests (< 20) open nothing" 3 \
	"$(tg_psql "SELECT count(*) FROM alerts")"
assert_eq "no open alert" 0 "$(tg_psql "SELECT count(*) FROM alerts WHERE state = 'open'")"

# --- S9: two members at once; a target removed --------------------------------------------
mrow "$D 10:36:00Z" 102 2 0 100 0 0 "$SLOW_MIX" # W7 [10:35, 10:40): search slow again
"$BUILD/tollgate-billing" --config "$CONF" jobs --now "$(ep "$D 10:41:00Z")" \
	>"$TG_DIR/jobs-parallel-a.log" 2>&1 &
par_a=$!
"$BUILD/tollgate-billing" --config "$CONF" jobs --now "$(ep "$D 10:41:00Z")" \
	>"$TG_DIR/jobs-parallel-b.log" 2>&1
rc_b=$?
wait "$par_a"
rc_a=$?
assert_eq "two jobs at once succeed" "0 0" "$rc_a $rc_b"
assert_eq "two jobs at once: one new alert, delivered once" "1 2 2" \
	"$(tg_psql "SELECT count(*) FROM alerts WHERE state = 'open'") \
$(recv "len([r for r in R if r['status'] == 200 and r['event'] == 'alert.opened'
		and r['body']['api_id'] == 102])") \
$(recv "len({r['delivery'] for r in R if r['status'] == 200 and r['event'] == 'alert.opened'
		and r['body']['api_id'] == 102})")"
tg_psql "UPDATE apis SET sla_p99_ms = NULL WHERE id = 102" >/dev/null
jobs_at "$D 10:46:00Z"
assert_eq "removing the target resolves its open alert" "resolved target removed" \
	"$(tg_psql "SELECT state || ' ' || (resolution->>'reason') FROM alerts
		WHERE id = (SELECT max(id) FROM alerts)")"
assert_eq "with its resolved webhook" 8 "$(delivered /alert)"

# --- deprecation ---------------------------------------------------------------------------
hrow "2026-11-25 09:00:00Z" 11 103 0 30 # acme: 50 on legacy in the week
hrow "2026-11-27 14:00:00Z" 11 103 0 20
hrow "2026-11-27 14:00:00Z" 11 104 0 999 # ... and more on current
hrow "2026-11-26 10:00:00Z" 12 103 0 5	 # tiny: under the threshold of 10
hrow "2026-11-26 10:00:00Z" 13 104 0 500 # modern: not deprecated
hrow "2026-11-26 10:00:00Z" 13 106 0 500 # ... and deprecated only from December
hrow "2026-11-26 10:00:00Z" 14 103 5 100 # refused: forbidden_api, never admitted
hrow "2026-11-20 10:00:00Z" 15 103 0 100 # gone-quiet: 8 days before

notices() {
	tg_psql "SELECT consumer_id || ':' || api_id || ':' || week || ':' || requests FROM notices
		ORDER BY id" | tr '\n' ' '
}
jobs_at "2026-11-28T12:00:00Z"
assert_eq "one notice: acme on legacy, week of Monday 23 November, 50 requests" \
	"11:103:2026-11-23:50 " "$(notices)"
assert_eq "one notice webhook" 1 "$(delivered /notice)"
assert_eq "notice payload" \
	"deprecation.notice 11 ops@acme.example 103 legacy 2026-11-01T00:00:00Z \
2027-01-31T00:00:00Z 50 2026-11-23" \
	"$(recv "' '.join(str(r['body'][k]) for r in R if r['path'] == '/notice' for k in ('type',
		'consumer_id', 'consumer_email', 'api_id', 'api_name', 'deprecated_at', 'sunset_at',
		'requests_last_7_days', 'week'))")"
assert_eq "the notice is marked delivered" 1 \
	"$(tg_psql "SELECT count(*) FROM notices WHERE delivered_at IS NOT NULL")"
jobs_at "2026-11-28T12:00:00Z"
jobs_at "2026-11-28T18:30:00Z"
jobs_at "2026-11-29T23:59:00Z"
assert_eq "the same week again: still one notice, one webhook" "11:103:2026-11-23:50  1" \
	"$(notices) $(delivered /notice)"
jobs_at "2026-11-30T12:00:00Z"
assert_eq "next week, still calling: one more notice" \
	"11:103:2026-11-23:50 11:103:2026-11-30:50 " "$(notices)"
jobs_at "2026-11-30T13:00:00Z"
assert_eq "and one more webhook, once" "2 2026-11-23 2026-11-30" \
	"$(delivered /notice) $(recv "' '.join(sorted(r['body']['week'] for r in R
		if r['path'] == '/notice'))")"
assert_eq "nothing for the others (under threshold, refused, not deprecated, too old)" 0 \
	"$(tg_psql "SELECT count(*) FROM notices WHERE consumer_id <> 11")"
assert_eq "SLA alerts untouched by the long catch-up" 4 "$(tg_psql "SELECT count(*) FROM alerts")"
assert_match "a long gap is capped and said so" "windows behind, evaluating the last 288" \
	"$(cat "$TG_DIR"/jobs-*.log)"
assert_eq "no errors in any jobs log" "" \
	"$(grep -h -i 'error\|failed' "$TG_DIR"/jobs-*.log | grep -v 'webhooks: .* failed' |
		head -3)"

tg_summary
