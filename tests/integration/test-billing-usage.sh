#!/usr/bin/env bash
# test-billing-usage.sh - tollgate-billing writes usage into a real Postgres
# exactly once (DESIGN §6), from the dev Kafka broker:
#   - migrations: applied by two concurrent `migrate` runs, once;
#   - 1,000,000 synthetic events from 3 hosts, each host restarted once (its
#     log replayed behind new events), 5 % of ids sent twice, runs of 64
#     shuffled, 10 % CloudEvents JSON and the rest binary v1, plus malformed
#     messages: the minute, hour and day rollups equal the ground truth the
#     producer computed, to the request and byte; latency percentiles within
#     2 % of the exact ones; the malformed messages are dead letters with
#     their offsets;
#   - crashes: the service SIGKILLed at five random moments while it consumes,
#     a second member joining and leaving the group (rebalances), Postgres
#     restarted once: the totals are still exact.
# Run: BUILD=/abs/build bash tests/integration/test-billing-usage.sh (as root).
set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tg_init billing
tg_need psql
tg_postgres_up
# the dev broker keeps at most 5 MB per partition (librdkafka's mock cluster):
# 32 partitions and lz4 hold the million events
tg_broker_up tollgate.usage:32 tollgate.counters:1

CONF=$TG_DIR/tollgate.conf
cat >"$CONF" <<EOF
[kafka]
brokers = $TG_BROKERS
[postgres]
dsn = $TG_PG_DSN
[billing]
batch_interval = 1
batch_max_events = 50000
EOF

# --- migrations ----------------------------------------------------------------
"$BUILD/tollgate-billing" --config "$CONF" migrate >"$TG_DIR/billing-migrate1.log" 2>&1 &
m1=$!
"$BUILD/tollgate-billing" --config "$CONF" migrate >"$TG_DIR/billing-migrate2.log" 2>&1
rc2=$?
wait "$m1"
rc1=$?
assert_eq "two concurrent migrate runs succeed" "0 0" "$rc1 $rc2"
n_files=$(ls "$TG_ROOT"/billing/sql/*.sql | wc -l)
assert_eq "each migration applied once" "$n_files" "$(tg_psql 'SELECT count(*) FROM schema_migrations')"
"$BUILD/tollgate-billing" --config "$CONF" migrate >"$TG_DIR/billing-migrate3.log" 2>&1
assert_match "a third run has nothing to do" "0 migration" "$(cat "$TG_DIR/billing-migrate3.log")"

# partitions past their retention (minute: 14 days, hour: 13 months), for the
# service to drop
tg_psql "CREATE TABLE rollup_minute_p20200101 PARTITION OF rollup_minute
	FOR VALUES FROM ('2020-01-01 00:00:00+00') TO ('2020-01-02 00:00:00+00');
	CREATE TABLE rollup_minute_total_p20200101 PARTITION OF rollup_minute_total
	FOR VALUES FROM ('2020-01-01 00:00:00+00') TO ('2020-01-02 00:00:00+00');
	CREATE TABLE rollup_hour_p202001 PARTITION OF rollup_hour
	FOR VALUES FROM ('2020-01-01 00:00:00+00') TO ('2020-02-01 00:00:00+00')" >/dev/null

# --- produce -----------------------------------------------------------------------
N=${TG_BILLING_EVENTS:-1000000}
"$BUILD/tests/produce-usage" --brokers "$TG_BROKERS" --events "$N" --dup-pct 5 --json-pct 10 \
	--malformed 9 --hosts 3 --consumers 200 --minutes 90 --truth "$TG_DIR/truth" \
	>"$TG_DIR/produce.log" 2>&1 || { cat "$TG_DIR/produce.log"; tg_fatal "producing failed"; }
MESSAGES=$(sed -n 's/.* \([0-9]*\) messages produced/\1/p' "$TG_DIR/produce.log")
tg_log "$MESSAGES messages for $N events"

consumed() { tg_psql "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets WHERE topic = 'tollgate.usage' AND next_offset > 0"; }
BILLING_PIDS=()
billing_start() { # NAME
	"$BUILD/tollgate-billing" --config "$CONF" run >>"$TG_DIR/billing-$1.log" 2>&1 &
	BILLING_PIDS+=("$!")
	TG_PIDS+=("$!")
	LAST_BILLING=$!
}

# --- crashes while consuming ---------------------------------------------------------
billing_start a
MEMBER_A=$LAST_BILLING
kills=0
last_kill_at=0
member_b=""
restarted_pg=0
for ((round = 0; round < 400; round++)); do
	sleep 0.$((RANDOM % 9 + 1))
	c=$(consumed 2>/dev/null || echo 0)
	[ "$c" -ge "$MESSAGES" ] && break
	# a kill once a batch more was committed since the last one, at random
	# moments of reading the next: five while it consumes
	if [ "$kills" -lt 5 ] && [ "$c" -gt "$last_kill_at" ] && [ $((RANDOM % 2)) -eq 0 ]; then
		last_kill_at=$c
		kill -KILL "$MEMBER_A" 2>/dev/null
		wait "$MEMBER_A" 2>/dev/null
		kills=$((kills + 1))
		tg_log "SIGKILL $kills at $c of $MESSAGES messages"
		billing_start a
		MEMBER_A=$LAST_BILLING
	fi
	if [ "$kills" -eq 2 ] && [ -z "$member_b" ]; then
		billing_start b
		member_b=$LAST_BILLING
		tg_log "member b joins at $c messages"
	fi
	if [ "$kills" -eq 3 ] && [ -n "$member_b" ] && kill -0 "$member_b" 2>/dev/null; then
		tg_stop_pid "$member_b" 10
		tg_log "member b leaves at $c messages"
	fi
	if [ "$kills" -eq 4 ] && [ "$restarted_pg" -eq 0 ]; then
		tg_postgres_stop
		sleep 1
		tg_postgres_start
		restarted_pg=1
		tg_log "Postgres restarted at $c messages"
	fi
done
assert_eq "all messages consumed (sum of committed offsets)" "$MESSAGES" "$(consumed)"
assert_eq "five SIGKILLs, a member joined and left, Postgres restarted" "5 1" "$kills $restarted_pg"

# --- the numbers ------------------------------------------------------------------------
sort_c() { LC_ALL=C sort; }
grep '^total' "$TG_DIR/truth" >"$TG_DIR/want.total"
tg_psql "SELECT 'total ' || sum(requests) FROM rollup_day" >"$TG_DIR/got.total"
assert_eq "day rollups: total requests" "$(cat "$TG_DIR/want.total")" "$(cat "$TG_DIR/got.total")"
for tier in minute hour; do
	assert_eq "$tier rollups: total requests" "$(cat "$TG_DIR/want.total")" \
		"$(tg_psql "SELECT 'total ' || sum(requests) FROM rollup_$tier")"
done

grep '^consumer' "$TG_DIR/truth" | sort_c >"$TG_DIR/want.consumer"
tg_psql "SELECT 'consumer ' || consumer_id || ' ' || sum(requests) || ' ' ||
	sum(CASE WHEN verdict = 0 AND status_class BETWEEN 1 AND 4 THEN requests
		 WHEN verdict = 0 THEN summarized ELSE 0 END) || ' ' ||
	sum(bytes_in) || ' ' || sum(bytes_out) || ' ' || sum(unanswered) || ' ' || sum(summarized)
	FROM rollup_day GROUP BY consumer_id" | sort_c >"$TG_DIR/got.consumer"
assert_true "per consumer: requests, billable, bytes in/out, unanswered, summarized (day rows)" \
	"$(diff "$TG_DIR/want.consumer" "$TG_DIR/got.consumer" | head -5)" \
	cmp -s "$TG_DIR/want.consumer" "$TG_DIR/got.consumer"

# check_totals WHEN: the minute totals billing wrote are the ones
# tg_minute_totals_rebuild() computes from its minute rows (compared in a
# transaction that is rolled back)
check_totals() {
	assert_eq "$1: minute totals per consumer and per API: as recomputed from the minute rows" \
		"$(tg_psql "SELECT count(*) FROM rollup_minute_total") 0 0" \
		"$(tg_psql "BEGIN;
		CREATE TEMP TABLE got AS SELECT * FROM rollup_minute_total;
		SELECT FROM tg_minute_totals_rebuild('-infinity', 'infinity');
		SELECT (SELECT count(*) FROM rollup_minute_total) || ' ' ||
			(SELECT count(*) FROM (SELECT * FROM got EXCEPT SELECT * FROM rollup_minute_total) x)
			|| ' ' ||
			(SELECT count(*) FROM (SELECT * FROM rollup_minute_total EXCEPT SELECT * FROM got) y);
		ROLLBACK" | tail -1)"
	assert_eq "$1: consumer totals and API totals each add up to every request" \
		"$(cat "$TG_DIR/want.total") $(sed 's/total //' "$TG_DIR/want.total")" \
		"$(tg_psql "SELECT 'total ' || sum(requests) FILTER (WHERE api_id = 0) || ' ' ||
			sum(requests) FILTER (WHERE consumer_id = 0) FROM rollup_minute_total")"
}
check_totals "after the run"

grep '^class' "$TG_DIR/truth" | sort_c >"$TG_DIR/want.class"
tg_psql "SELECT 'class ' || consumer_id || ' ' || status_class || ' ' || verdict || ' ' || sum(requests)
	FROM rollup_minute GROUP BY consumer_id, status_class, verdict" | sort_c >"$TG_DIR/got.class"
assert_true "per consumer, status class and verdict (minute rows)" \
	"$(diff "$TG_DIR/want.class" "$TG_DIR/got.class" | head -5)" \
	cmp -s "$TG_DIR/want.class" "$TG_DIR/got.class"

grep '^endpoint' "$TG_DIR/truth" | sort_c >"$TG_DIR/want.endpoint"
tg_psql "SELECT 'endpoint ' || consumer_id || ' ' || method || ' ' || endpoint || ' ' || country
	|| ' ' || sum(requests) FROM rollup_hour WHERE endpoint <> ''
	GROUP BY consumer_id, method, endpoint, country" | sort_c >"$TG_DIR/got.endpoint"
assert_true "per consumer, method, endpoint and country (hour rows)" \
	"$(diff "$TG_DIR/want.endpoint" "$TG_DIR/got.endpoint" | head -5)" \
	cmp -s "$TG_DIR/want.endpoint" "$TG_DIR/got.endpoint"

grep '^pct' "$TG_DIR/truth" | sort_c >"$TG_DIR/want.pct"
tg_psql "SELECT 'pct ' || consumer_id || ' ' || tg_hist_percentile(tg_hist_sum(hist), 0.5) || ' '
	|| tg_hist_percentile(tg_hist_sum(hist), 0.99) FROM rollup_hour GROUP BY consumer_id
	HAVING tg_hist_percentile(tg_hist_sum(hist), 0.5) IS NOT NULL" | sort_c >"$TG_DIR/got.pct"
worst=$(join -j 2 <(awk '{print $1, $2, $3, $4}' "$TG_DIR/want.pct" | sort -k2,2) \
	<(awk '{print $1, $2, $3, $4}' "$TG_DIR/got.pct" | sort -k2,2) |
	awk '{ e1 = ($3 - $6) / $3; if (e1 < 0) e1 = -e1; e2 = ($4 - $7) / $4; if (e2 < 0) e2 = -e2;
		if (e1 > m) m = e1; if (e2 > m) m = e2; n++ } END { printf "%d %.4f", n, m }')
assert_eq "percentiles for every consumer with latencies" "$(wc -l <"$TG_DIR/want.pct")" "${worst% *}"
assert_true "p50 and p99 within 2 % of the exact ones (worst $(awk "BEGIN{print ${worst#* } * 100}") %)" \
	"worst relative error ${worst#* }" awk "BEGIN { exit !(${worst#* } <= 0.02) }"

assert_eq "malformed messages are dead letters with their offsets" "9 9" \
	"$(tg_psql "SELECT count(*) || ' ' || count(DISTINCT (partition, \"offset\")) FROM dead_letters WHERE reason NOT LIKE '%dedupe window%'")"
assert_eq "no offsets skipped (none lost to retention)" 0 \
	"$(tg_psql "SELECT count(*) FROM dead_letters WHERE reason LIKE '%gone from Kafka%'")"
assert_match "a dead letter says why" "not a binary v1 usage record|not JSON" \
	"$(tg_psql "SELECT reason FROM dead_letters ORDER BY id LIMIT 3")"

# --- replay: rebuild damaged rollups from Kafka while a member is running ---------
check_rollups() { # WHEN
	local tier
	for tier in minute hour day; do
		assert_eq "$1: $tier rollups: total requests" "$(cat "$TG_DIR/want.total")" \
			"$(tg_psql "SELECT 'total ' || sum(requests) FROM rollup_$tier")"
	done
	tg_psql "SELECT 'consumer ' || consumer_id || ' ' || sum(requests) || ' ' ||
		sum(CASE WHEN verdict = 0 AND status_class BETWEEN 1 AND 4 THEN requests
			 WHEN verdict = 0 THEN summarized ELSE 0 END) || ' ' ||
		sum(bytes_in) || ' ' || sum(bytes_out) || ' ' || sum(unanswered) || ' ' || sum(summarized)
		FROM rollup_day GROUP BY consumer_id" | sort_c >"$TG_DIR/got.consumer2"
	assert_true "$1: per consumer (day rows)" \
		"$(diff "$TG_DIR/want.consumer" "$TG_DIR/got.consumer2" | head -5)" \
		cmp -s "$TG_DIR/want.consumer" "$TG_DIR/got.consumer2"
}
tg_psql "DELETE FROM rollup_hour WHERE consumer_id = 5;
	UPDATE rollup_day SET requests = requests + 1000 WHERE consumer_id = 7;
	DELETE FROM rollup_minute WHERE consumer_id = 9" >/dev/null
"$BUILD/tollgate-billing" --config "$CONF" replay --from "$(date -u -d '2 days ago' +%F)" \
	>"$TG_DIR/billing-replay.log" 2>&1
assert_eq "replay --from succeeds beside a running member" 0 $?
check_rollups "after replay"
check_totals "after replay"
"$BUILD/tollgate-billing" --config "$CONF" replay --from tomorrowish >"$TG_DIR/billing-replay2.log" 2>&1
assert_eq "replay with a bad time fails" 1 $?
assert_match "and says why" "--from 'tomorrowish' is not" "$(cat "$TG_DIR/billing-replay2.log")"

assert_eq "minute, minute total and hour partitions past their retention are dropped" "" \
	"$(tg_psql "SELECT string_agg(relname, ',') FROM pg_class WHERE relname IN
		('rollup_minute_p20200101', 'rollup_minute_total_p20200101', 'rollup_hour_p202001')")"
assert_ge "the current ones are kept" 3 \
	"$(tg_psql "SELECT count(*) FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
		WHERE p.relname IN ('rollup_minute', 'rollup_hour', 'rollup_day')")"

# --- invoice run requests (POST /v1/invoices/run inserts one and NOTIFYs) -------
tg_psql "INSERT INTO invoice_runs (period) VALUES ('2026-10-01'); NOTIFY tollgate_invoice_run" \
	>/dev/null
for ((i = 0; i < 50; i++)); do
	[ "$(tg_psql "SELECT status FROM invoice_runs")" = done ] && break
	sleep 0.1
done
assert_eq "a requested invoice run is taken at once and done" "done" \
	"$(tg_psql "SELECT status FROM invoice_runs")"

tg_summary
