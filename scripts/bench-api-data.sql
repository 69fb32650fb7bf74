-- SPDX-License-Identifier: BSD-2-Clause
-- bench-api-data.sql - the dataset of scripts/bench-api.sh: usage rollups at
-- the retention tiers of DESIGN §6 for :consumers consumers, Zipf-distributed,
-- generated in Postgres (generate_series) rather than through Kafka and
-- tollgate-billing, which would take hours for this volume.
--
-- psql variables (psql -v):
--   consumers          how many consumers (ranks 1..N, id 100000 + rank)
--   zipf_s             Zipf exponent of traffic over the ranks
--   daily_top          requests a day of rank 1; rank r makes daily_top / r^zipf_s
--   minute_consumers   ranks 1..M get minute rows (the full minute tier would
--                      be ~10k x 14 d x 1440 min x combos: hundreds of millions)
--   part               which part to run: setup, hour, day, minute,
--                      minute_total (the script runs parts in parallel
--                      sessions where they do not depend on each other)
--   slice              "K/N": for part=hour this session writes the hours whose
--                      index is K modulo N, for part=minute the consumers
--                      whose id is K modulo N, for part=minute_total the days
--                      whose number is K modulo N (default 0/1: all of it)
--
-- The shape, per consumer of rank r (all deterministic but for a +-25 % noise):
--   - k(r) = clamp(round(60 / sqrt(r)), 2, 60) combinations of (endpoint,
--     method, country, status class, verdict) a day: heavy consumers call
--     many endpoints from many countries, the tail two;
--   - active in every hour when it makes >= 10,000 requests a day, else in a
--     share daily / 10,000 of the hours (the tail calls in bursts), with the
--     same daily total;
--   - combination j carries a weight 1 / (j + 1) (Zipf over endpoints too); a
--     diurnal curve of +-60 % over the UTC day;
--   - 10 endpoints on 5 APIs, 6 countries, 2xx mostly, some 4xx and 5xx, and
--     over-limit refusals (verdict 6) on every 17th combination;
--   - histograms of 1, 2 or 4 buckets (lib/histogram.h indexes) whose counts
--     add up to the row's requests.
-- Hour rows cover 30 days: today up to the current hour and the 29 days
-- before; day rows are the hour rows summed per UTC day, and, before those, generated per day back
-- to the first day of the previous month so that month's invoice bills a
-- whole month; minute rows are the hour rows of ranks 1..M spread over their
-- minutes, for the minute retention (today and the 14 days before); minute
-- totals are computed from the minute rows as billing computes them
-- (tg_minute_totals_add(), billing/sql/008_minute_totals.sql).

\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET timezone = 'UTC';

SELECT :'part' = 'setup' AS is_setup, :'part' = 'hour' AS is_hour, :'part' = 'day' AS is_day,
       :'part' = 'minute' AS is_minute, :'part' = 'minute_total' AS is_minute_total \gset

\if :is_setup
BEGIN;
CREATE TABLE bench_params AS SELECT
	date_trunc('hour', now()) AS hour_end,			-- the current hour (included)
	date_trunc('day', now()) - interval '29 days' AS hour_start,	-- 29 days and today
	date_trunc('day', now()) - interval '14 days' AS minute_start,
	now() AS generated_at,
	date_trunc('month', date_trunc('month', now()) - interval '1 day') AS last_month,
	date_trunc('month', now()) AS this_month;

INSERT INTO apis (id, name, base_path, description) VALUES
	(1, 'orders', '/orders', 'bench'), (2, 'catalog', '/catalog', 'bench'),
	(3, 'payments', '/payments', 'bench'), (4, 'search', '/search', 'bench'),
	(5, 'accounts', '/accounts', 'bench');

-- the seed's graduated plan (as scripts/bench-billing.sh), a volume plan with
-- a period fee for the heavy consumers, and a free-tier plan
INSERT INTO plans (id, name, rate_per_sec, burst, monthly_quota, currency, tiers_mode, tiers,
		   period_fee) VALUES
	(1, 'Seed', 100, 100, 0, 'USD', 'graduated',
	 '[{"up_to": 1000, "unit_price": "0"}, {"up_to": 10000, "unit_price": "0.001"},
	   {"up_to": null, "unit_price": "0.0005"}]', 0),
	(2, 'Pro', 1000, 2000, 0, 'USD', 'volume',
	 '[{"up_to": 1000000, "unit_price": "0.0004", "flat_price": "0"},
	   {"up_to": 100000000, "unit_price": "0.0002", "flat_price": "100"},
	   {"up_to": null, "unit_price": "0.0001", "flat_price": "500"}]', 49),
	(3, 'Free', 10, 20, 100000, 'USD', 'graduated',
	 '[{"up_to": 100000, "unit_price": "0"}, {"up_to": null, "unit_price": "0.002"}]', 0);
SELECT setval('tg_id_seq', 1000000) \g /dev/null

CREATE TABLE bench_endpoints (
	e integer PRIMARY KEY,
	api_id bigint NOT NULL,
	method smallint NOT NULL,
	endpoint text NOT NULL,
	bucket integer NOT NULL,	-- the histogram's lowest bucket (~ p50)
	bytes_in integer NOT NULL,
	bytes_out integer NOT NULL
);
INSERT INTO bench_endpoints VALUES
	(0, 1, 1, '/orders', 270, 200, 4000), (1, 1, 1, '/orders/{id}', 250, 200, 1200),
	(2, 1, 2, '/orders', 300, 900, 600), (3, 2, 1, '/catalog/items', 280, 200, 9000),
	(4, 2, 1, '/catalog/items/{id}', 240, 200, 2000), (5, 3, 2, '/payments', 330, 700, 500),
	(6, 3, 1, '/payments/{id}', 260, 200, 800), (7, 4, 1, '/search', 310, 300, 15000),
	(8, 5, 1, '/accounts/{id}', 230, 200, 700), (9, 5, 4, '/accounts/{id}', 270, 600, 700);

CREATE TABLE bench_combos AS
SELECT j, j % 10 AS e, (ARRAY['US', 'DE', 'GB', 'IN', 'BR', 'JP'])[j / 10 + 1]::char(2) AS country,
	CASE WHEN j % 17 = 16 THEN 0 WHEN j % 7 = 3 THEN 4 WHEN j % 23 = 11 THEN 5 ELSE 2 END::smallint
		AS status_class,
	CASE WHEN j % 17 = 16 THEN 6 ELSE 0 END::smallint AS verdict,
	1.0 / (j + 1) AS w
FROM generate_series(0, 59) j;

CREATE TABLE bench_consumers AS
SELECT r, 100000 + r AS id,
	CASE WHEN r <= 200 THEN 2 WHEN r % 3 = 0 THEN 3 ELSE 1 END AS plan_id,
	greatest(1, round(:daily_top / power(r, :zipf_s)))::bigint AS daily,
	least(60, greatest(2, round(60 / sqrt(r))))::integer AS k
FROM generate_series(1, :consumers) r;
ALTER TABLE bench_consumers ADD COLUMN active double precision, ADD COLUMN wsum double precision;
UPDATE bench_consumers c SET active = least(1.0, daily / 10000.0),
	wsum = (SELECT sum(w) FROM bench_combos b WHERE b.j < c.k);
ALTER TABLE bench_consumers ADD PRIMARY KEY (r);

INSERT INTO consumers (id, name, email, created_at)
SELECT id, 'bench consumer ' || r, 'c' || r || '@bench.example', now() - interval '400 days'
FROM bench_consumers;
INSERT INTO api_keys (id, consumer_id, plan_id, digest, prefix, created_at)
SELECT 200000 + r, id, plan_id, md5('bench key ' || r), 'tg_1' || r, now() - interval '400 days'
FROM bench_consumers;

-- histogram of n answered requests with lowest bucket b: counts add up to n,
-- zero buckets left out (002_usage.sql: non-zero buckets only)
CREATE FUNCTION bench_hist(b integer, n bigint) RETURNS bigint[]
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN n <= 0 THEN '{}'::bigint[]
		WHEN n < 4 THEN ARRAY[b, n]
		WHEN n < 20 THEN ARRAY[b, n - n / 3, b + 12, n / 3]
		ELSE ARRAY[b, n / 2, b + 8, n * 3 / 10, b + 20, n * 3 / 20, b + 40,
			   n - n / 2 - n * 3 / 10 - n * 3 / 20] END
$$;

-- partitions as billing/usage.c ensure_partition() names them
CREATE FUNCTION bench_partition(tbl text, t timestamptz, unit char) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	lo timestamptz;
	hi timestamptz;
	name text;
BEGIN
	SET LOCAL timezone = 'UTC';
	IF unit = 'd' THEN
		lo := date_trunc('day', t); hi := lo + interval '1 day';
		name := to_char(lo, 'YYYYMMDD');
	ELSIF unit = 'm' THEN
		lo := date_trunc('month', t); hi := lo + interval '1 month';
		name := to_char(lo, 'YYYYMM');
	ELSE
		lo := date_trunc('year', t); hi := lo + interval '1 year';
		name := to_char(lo, 'YYYY');
	END IF;
	EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
		       tbl || '_p' || name, tbl, to_char(lo, 'YYYY-MM-DD') || ' 00:00:00+00',
		       to_char(hi, 'YYYY-MM-DD') || ' 00:00:00+00');
END $$;
DO $$
DECLARE
	p bench_params%ROWTYPE;
	d timestamptz;
BEGIN
	SELECT * INTO p FROM bench_params;
	FOR d IN SELECT generate_series(least(p.last_month, p.hour_start), p.hour_end,
					interval '1 day') LOOP
		IF d >= p.minute_start THEN
			PERFORM bench_partition('rollup_minute', d, 'd');
			PERFORM bench_partition('rollup_minute_total', d, 'd');
		END IF;
		IF d >= date_trunc('day', p.hour_start) THEN
			PERFORM bench_partition('rollup_hour', d, 'm');
		END IF;
		PERFORM bench_partition('rollup_day', d, 'y');
	END LOOP;
END $$;
COMMIT;
\endif

SELECT split_part(:'slice', '/', 1)::integer AS slice_k,
       split_part(:'slice', '/', 2)::integer AS slice_n \gset

\if :is_hour
-- hour rows: every active hour of every consumer, its k combinations
SET work_mem = '64MB';
INSERT INTO rollup_hour (ts, consumer_id, plan_id, api_id, status_class, verdict, method,
			 endpoint, country, requests, summarized, unanswered, unattributed,
			 bytes_in, bytes_out, latency_sum_us, hist)
SELECT ts, c.id, c.plan_id, e.api_id, b.status_class, b.verdict, e.method, e.endpoint,
	b.country, n, 0, 0, 0, n * e.bytes_in, CASE WHEN b.verdict = 0 THEN n * e.bytes_out ELSE 0 END,
	CASE WHEN b.verdict = 0 THEN n * tg_hist_value(e.bucket + 8) ELSE 0 END,
	CASE WHEN b.verdict = 0 THEN bench_hist(e.bucket, n) ELSE '{}' END
FROM bench_params p,
	generate_series(0, (extract(epoch FROM p.hour_end - p.hour_start) / 3600)::integer) hi,
	LATERAL (SELECT p.hour_start + hi * interval '1 hour' AS ts,
			extract(epoch FROM p.hour_start)::bigint / 3600 + hi AS epoch_hour,
			1 + 0.6 * sin(2 * pi() * (extract(hour FROM (p.hour_start + hi * interval '1 hour')
							  AT TIME ZONE 'UTC') - 9) / 24) AS diurnal) h,
	bench_consumers c
	JOIN bench_combos b ON b.j < c.k
	JOIN bench_endpoints e ON e.e = b.e,
	LATERAL (SELECT greatest(1, round(c.daily / 24.0 / c.active * h.diurnal * b.w / c.wsum
					  * (0.75 + 0.5 * random())))::bigint AS n) v
WHERE hi % :slice_n = :slice_k
	AND (c.active >= 1 OR abs(hashint8(c.r::bigint * 1000003 + h.epoch_hour)) % 10000 < c.active * 10000);
\endif

\if :is_day
SET work_mem = '512MB';
-- the 30 days: the hour rows summed per UTC day
INSERT INTO rollup_day (ts, consumer_id, plan_id, api_id, status_class, verdict, method, endpoint,
			country, requests, summarized, unanswered, unattributed, bytes_in,
			bytes_out, latency_sum_us, hist)
SELECT date_trunc('day', h.ts), consumer_id, plan_id,
	h.api_id, status_class, verdict, h.method, h.endpoint, country, sum(requests), 0, 0, 0,
	sum(h.bytes_in), sum(h.bytes_out), sum(latency_sum_us),
	CASE WHEN verdict = 0 THEN bench_hist(min(e.bucket), sum(requests)::bigint) ELSE '{}' END
FROM rollup_hour h JOIN bench_endpoints e ON e.api_id = h.api_id AND e.method = h.method
	AND e.endpoint = h.endpoint
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9;
-- before them, back to the first day of last month: generated per day
INSERT INTO rollup_day (ts, consumer_id, plan_id, api_id, status_class, verdict, method, endpoint,
			country, requests, summarized, unanswered, unattributed, bytes_in,
			bytes_out, latency_sum_us, hist)
SELECT d, c.id, c.plan_id, e.api_id, b.status_class, b.verdict, e.method, e.endpoint, b.country,
	n, 0, 0, 0, n * e.bytes_in, CASE WHEN b.verdict = 0 THEN n * e.bytes_out ELSE 0 END,
	CASE WHEN b.verdict = 0 THEN n * tg_hist_value(e.bucket + 8) ELSE 0 END,
	CASE WHEN b.verdict = 0 THEN bench_hist(e.bucket, n) ELSE '{}' END
FROM bench_params p,
	generate_series(p.last_month, p.hour_start - interval '1 day', interval '1 day') d,
	bench_consumers c
	JOIN bench_combos b ON b.j < c.k
	JOIN bench_endpoints e ON e.e = b.e,
	LATERAL (SELECT greatest(1, round(c.daily * b.w / c.wsum * (0.75 + 0.5 * random())))::bigint
			AS n) v;
\endif

\if :is_minute
SET work_mem = '256MB';
-- the hour rows of ranks 1..M in the minute retention, per (consumer, API,
-- status class, verdict), spread evenly over the hour's minutes (those
-- before now)
INSERT INTO rollup_minute (ts, consumer_id, plan_id, api_id, status_class, verdict, requests,
			   summarized, unanswered, unattributed, bytes_in, bytes_out,
			   latency_sum_us, hist)
SELECT g.ts + m * interval '1 minute', consumer_id, plan_id, api_id, status_class, verdict, n,
	0, 0, 0, n * g.bytes_in / g.requests, n * g.bytes_out / g.requests,
	n * g.latency_sum_us / g.requests,
	CASE WHEN verdict = 0 THEN bench_hist(g.bucket, n) ELSE '{}' END
FROM (SELECT h.ts, h.consumer_id, h.plan_id, h.api_id, h.status_class, h.verdict,
		sum(h.requests)::bigint AS requests, sum(h.bytes_in)::bigint AS bytes_in,
		sum(h.bytes_out)::bigint AS bytes_out, sum(h.latency_sum_us)::bigint AS latency_sum_us,
		min(e.bucket) AS bucket
	FROM rollup_hour h JOIN bench_endpoints e ON e.api_id = h.api_id
		AND e.method = h.method AND e.endpoint = h.endpoint, bench_params p
	WHERE h.consumer_id BETWEEN 100001 AND 100000 + :minute_consumers
		AND h.ts >= p.minute_start AND h.consumer_id % :slice_n = :slice_k
	GROUP BY 1, 2, 3, 4, 5, 6) g,
	bench_params p,
	generate_series(0, 59) m,
	LATERAL (SELECT g.requests / 60 + CASE WHEN m < g.requests % 60 THEN 1 ELSE 0 END AS n) v
WHERE n > 0 AND g.ts + m * interval '1 minute' <= p.generated_at;
\endif

\if :is_minute_total
SET work_mem = '256MB';
-- after the minute part: the per-consumer and per-API totals of the minute
-- rows, a day per call, the days of this slice
SELECT sum(tg_minute_totals_add('rollup_minute', d, d + interval '1 day'))
FROM bench_params p, generate_series(p.minute_start, p.generated_at, interval '1 day') d
WHERE (extract(epoch FROM d)::bigint / 86400) % :slice_n = :slice_k;
\endif
