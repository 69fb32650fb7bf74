-- 008: minute totals per consumer and per API, for the dashboard's minute
-- series (dashboard-api/analytics.c).
--
-- A minute series of one consumer reads every minute row of its range: one
-- per (API, plan, status class, verdict) and minute, 16 a minute for a busy
-- consumer of five APIs, 23,000 for one day. Postgres spent about 26 ms of
-- CPU on each such read (the aggregates and histogram texts per row, not the
-- scan), which is what kept the day's minute chart from its 100 ms p99 at
-- four readers. These rows are that read done once, when billing writes the
-- minute rows: one row a minute per consumer (api_id = 0: every API of it)
-- and one per API (consumer_id = 0: every consumer of it).
--
-- The figures are the ones a series point reports (analytics.h "Figures"):
--   refused     requests with verdict <> 0
--   errors_4xx  admitted, answered 4xx (requests - summarized - unanswered)
--   errors_5xx  admitted, answered 5xx (idem)
--   unanswered  admitted and never answered
--   answered    admitted, answered with a status (status class 1..5)
--   good        admitted, answered below 500 (status class 1..4)
--   hist        latencies of the admitted answered requests
-- Billing adds them in the transaction of the minute rows, folded from the
-- same batch rows (billing/usage.c: fold_totals()), so the two never
-- disagree. tg_minute_totals_add() below is the same computation in SQL:
-- tg_minute_totals_rebuild() uses it (the backfill below, repair, tests that
-- write minute rows themselves), and test-billing-usage checks that
-- billing's totals equal its.
CREATE TABLE rollup_minute_total (
	ts timestamptz NOT NULL,
	consumer_id bigint NOT NULL,
	api_id bigint NOT NULL,
	requests bigint NOT NULL,
	refused bigint NOT NULL,
	errors_4xx bigint NOT NULL,
	errors_5xx bigint NOT NULL,
	unanswered bigint NOT NULL,
	answered bigint NOT NULL,
	good bigint NOT NULL,
	bytes_in bigint NOT NULL,
	bytes_out bigint NOT NULL,
	hist bigint[] NOT NULL,
	CHECK ((consumer_id = 0) <> (api_id = 0)),
	PRIMARY KEY (consumer_id, api_id, ts)
) PARTITION BY RANGE (ts);

-- a partition of rollup_minute_total for every partition of rollup_minute,
-- with the same bounds and name suffix (rollup_minute_p20261128 ->
-- rollup_minute_total_p20261128); the number created
CREATE FUNCTION tg_minute_total_partitions() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	p record;
	n integer := 0;
BEGIN
	FOR p IN SELECT substr(c.relname, 15) AS suffix,
			pg_get_expr(c.relpartbound, c.oid) AS bound
		 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		 JOIN pg_class t ON t.oid = i.inhparent
		 WHERE t.relname = 'rollup_minute'
		 AND to_regclass('rollup_minute_total_' || substr(c.relname, 15)) IS NULL LOOP
		EXECUTE format('CREATE TABLE %I PARTITION OF rollup_minute_total %s',
			       'rollup_minute_total_' || p.suffix, p.bound);
		n := n + 1;
	END LOOP;
	RETURN n;
END $$;

-- Add the totals of the rows of @src (rollup_minute or a table like it) in
-- [t0, t1) to rollup_minute_total, merged into the rows already there. The
-- number of total rows written.
CREATE FUNCTION tg_minute_totals_add(src regclass, t0 timestamptz, t1 timestamptz) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
BEGIN
	EXECUTE format($q$
	WITH src AS (
		SELECT m.*, k.cid, k.aid FROM %s m
		CROSS JOIN LATERAL (VALUES (m.consumer_id, 0::bigint), (0::bigint, m.api_id)) k(cid, aid)
		WHERE m.ts >= $1 AND m.ts < $2 AND (k.cid <> 0 OR k.aid <> 0)
	), figures AS (
		SELECT ts, cid, aid, sum(requests) AS requests,
		 coalesce(sum(requests) FILTER (WHERE verdict <> 0), 0) AS refused,
		 coalesce(sum(requests - summarized - unanswered)
		  FILTER (WHERE verdict = 0 AND status_class = 4), 0) AS errors_4xx,
		 coalesce(sum(requests - summarized - unanswered)
		  FILTER (WHERE verdict = 0 AND status_class = 5), 0) AS errors_5xx,
		 coalesce(sum(unanswered) FILTER (WHERE verdict = 0), 0) AS unanswered,
		 coalesce(sum(requests - summarized - unanswered)
		  FILTER (WHERE verdict = 0 AND status_class BETWEEN 1 AND 5), 0) AS answered,
		 coalesce(sum(requests - summarized - unanswered)
		  FILTER (WHERE verdict = 0 AND status_class BETWEEN 1 AND 4), 0) AS good,
		 sum(bytes_in) AS bytes_in, sum(bytes_out) AS bytes_out
		FROM src GROUP BY ts, cid, aid
	), pairs AS (
		-- the (bucket, count) pairs of the admitted rows, summed per bucket
		SELECT ts, cid, aid, hist[2 * g - 1] AS i, sum(hist[2 * g])::bigint AS c
		FROM src, generate_series(1, cardinality(hist) / 2) g
		WHERE verdict = 0 GROUP BY ts, cid, aid, hist[2 * g - 1]
	), hists AS (
		SELECT ts, cid, aid, array_agg(v ORDER BY i, o) AS hist
		FROM pairs CROSS JOIN LATERAL (VALUES (i, 1), (c, 2)) x(v, o)
		GROUP BY ts, cid, aid
	)
	INSERT INTO rollup_minute_total AS t
	SELECT f.ts, f.cid, f.aid, f.requests, f.refused, f.errors_4xx, f.errors_5xx, f.unanswered,
	       f.answered, f.good, f.bytes_in, f.bytes_out, coalesce(h.hist, '{}')
	FROM figures f LEFT JOIN hists h USING (ts, cid, aid)
	-- one order for every writer: billing members that share an API's
	-- rows wait for each other instead of deadlocking
	ORDER BY f.cid, f.aid, f.ts
	ON CONFLICT (consumer_id, api_id, ts) DO UPDATE SET
	 requests = t.requests + EXCLUDED.requests, refused = t.refused + EXCLUDED.refused,
	 errors_4xx = t.errors_4xx + EXCLUDED.errors_4xx,
	 errors_5xx = t.errors_5xx + EXCLUDED.errors_5xx,
	 unanswered = t.unanswered + EXCLUDED.unanswered, answered = t.answered + EXCLUDED.answered,
	 good = t.good + EXCLUDED.good, bytes_in = t.bytes_in + EXCLUDED.bytes_in,
	 bytes_out = t.bytes_out + EXCLUDED.bytes_out, hist = tg_hist_merge(t.hist, EXCLUDED.hist)
	$q$, src) USING t0, t1;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END $$;

-- Recompute the totals of [t0, t1) from the minute rows (backfill, repair),
-- creating missing partitions. The rows written. Run it with billing
-- stopped: a batch committed between its DELETE and its INSERT would be
-- counted twice.
CREATE FUNCTION tg_minute_totals_rebuild(t0 timestamptz, t1 timestamptz) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM tg_minute_total_partitions();
	DELETE FROM rollup_minute_total WHERE ts >= t0 AND ts < t1;
	RETURN tg_minute_totals_add('rollup_minute', t0, t1);
END $$;

SELECT tg_minute_totals_rebuild('-infinity', 'infinity');
