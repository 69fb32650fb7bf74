-- 002: usage, exactly once (DESIGN §6). A micro-batch writes its rollups, the
-- offsets it consumed and the dedupe state of the event streams it saw in one
-- transaction; the offsets are fenced, so a member that lost its partitions
-- in a rebalance cannot write.

-- next offset to read per partition; -1 = from the beginning of the topic
CREATE TABLE consumer_offsets (
	topic text NOT NULL,
	partition integer NOT NULL,
	next_offset bigint NOT NULL DEFAULT -1,
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (topic, partition)
);

-- Which event ids of one agent run (host, epoch) a partition has applied:
-- the highest seq applied and a bitmap of the DEDUPE_WINDOW seqs at and below
-- it (bit seq % window, little-endian bit order). An event id always lands
-- in the same partition (the key is the consumer id), so per-partition state
-- is exact, and members never contend for it.
CREATE TABLE dedupe_state (
	partition integer NOT NULL,
	host_id bigint NOT NULL,
	epoch bigint NOT NULL,
	high_seq bigint NOT NULL,
	applied bytea NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (partition, host_id, epoch)
);

-- messages that could not be applied, with where they were and why; they are
-- kept, never retried automatically (tollgate-billing replay can)
CREATE TABLE dead_letters (
	id bigserial PRIMARY KEY,
	topic text NOT NULL,
	partition integer NOT NULL,
	"offset" bigint NOT NULL,
	reason text NOT NULL,
	message_key bytea,
	payload bytea,
	received_at timestamptz NOT NULL DEFAULT now(),
	UNIQUE (topic, partition, "offset")
);

-- Latency histograms: a bigint[] of (bucket index, count) pairs sorted by
-- index, non-zero buckets only (lib/histogram.h: 32 log-linear buckets per
-- power of two of microseconds). Merging is adding counts of equal indexes.
CREATE FUNCTION tg_hist_merge(a bigint[], b bigint[]) RETURNS bigint[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
	na integer := coalesce(array_length(a, 1), 0);
	nb integer := coalesce(array_length(b, 1), 0);
	i integer := 1;
	j integer := 1;
	r bigint[] := '{}';
BEGIN
	IF na = 0 THEN
		RETURN coalesce(b, '{}');
	ELSIF nb = 0 THEN
		RETURN a;
	END IF;
	WHILE i <= na OR j <= nb LOOP
		IF j > nb OR (i <= na AND a[i] < b[j]) THEN
			r := r || a[i] || a[i + 1];
			i := i + 2;
		ELSIF i > na OR b[j] < a[i] THEN
			r := r || b[j] || b[j + 1];
			j := j + 2;
		ELSE
			r := r || a[i] || (a[i + 1] + b[j + 1]);
			i := i + 2;
			j := j + 2;
		END IF;
	END LOOP;
	RETURN r;
END $$;

CREATE AGGREGATE tg_hist_sum(bigint[]) (
	SFUNC = tg_hist_merge, STYPE = bigint[], INITCOND = '{}', PARALLEL = SAFE
);

-- the value bucket i of a histogram reports: the midpoint of its range
-- (lib/histogram.h: histogram_bucket_value)
CREATE FUNCTION tg_hist_value(i bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE WHEN i < 64 THEN i ELSE
		((32 + (i - 64) % 32) << ((i - 64) / 32 + 1)::integer)
		+ ((1::bigint << ((i - 64) / 32 + 1)::integer) - 1) / 2 END
$$;

-- the nearest-rank q-quantile (0 < q <= 1) of a histogram, in microseconds;
-- NULL when it is empty
CREATE FUNCTION tg_hist_percentile(h bigint[], q double precision) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
	n integer := coalesce(array_length(h, 1), 0);
	total bigint := 0;
	rank bigint;
	seen bigint := 0;
BEGIN
	FOR k IN 1 .. n / 2 LOOP
		total := total + h[2 * k];
	END LOOP;
	IF total = 0 THEN
		RETURN NULL;
	END IF;
	rank := greatest(1, ceil(q * total)::bigint);
	FOR k IN 1 .. n / 2 LOOP
		seen := seen + h[2 * k];
		IF seen >= rank THEN
			RETURN tg_hist_value(h[2 * k - 1]);
		END IF;
	END LOOP;
	RETURN tg_hist_value(h[n - 1]);
END $$;

-- Rollups. status_class: 0 = no status (refused, unanswered, or a summary
-- event without detail), 1..5 = 1xx..5xx. verdict: DESIGN §3 codes
-- (docs/event-format.md; 0 = admitted). requests counts every request of the
-- row, summary counts included; summarized and unanswered say how many of
-- them were that; latency covers only requests with a response.
CREATE TABLE rollup_minute (
	ts timestamptz NOT NULL,
	consumer_id bigint NOT NULL,
	plan_id bigint NOT NULL,
	api_id bigint NOT NULL,
	status_class smallint NOT NULL,
	verdict smallint NOT NULL,
	requests bigint NOT NULL,
	summarized bigint NOT NULL,
	unanswered bigint NOT NULL,
	unattributed bigint NOT NULL,
	bytes_in bigint NOT NULL,
	bytes_out bigint NOT NULL,
	latency_sum_us bigint NOT NULL,
	hist bigint[] NOT NULL,
	PRIMARY KEY (ts, consumer_id, api_id, plan_id, status_class, verdict)
) PARTITION BY RANGE (ts);

CREATE TABLE rollup_hour (
	ts timestamptz NOT NULL,
	consumer_id bigint NOT NULL,
	plan_id bigint NOT NULL,
	api_id bigint NOT NULL,
	status_class smallint NOT NULL,
	verdict smallint NOT NULL,
	method smallint NOT NULL,
	endpoint text NOT NULL,
	country char(2) NOT NULL,
	requests bigint NOT NULL,
	summarized bigint NOT NULL,
	unanswered bigint NOT NULL,
	unattributed bigint NOT NULL,
	bytes_in bigint NOT NULL,
	bytes_out bigint NOT NULL,
	latency_sum_us bigint NOT NULL,
	hist bigint[] NOT NULL,
	PRIMARY KEY (ts, consumer_id, api_id, plan_id, status_class, verdict, method, endpoint,
		     country)
) PARTITION BY RANGE (ts);

CREATE TABLE rollup_day (LIKE rollup_hour INCLUDING ALL) PARTITION BY RANGE (ts);

-- the latest kernel counter snapshot per key, and the first one of every
-- hour, so reconciliation can take differences over any period; body is the
-- snapshot as the agent sent it (lib/snapshot.h)
CREATE TABLE counter_snapshots (
	host_id bigint NOT NULL,
	pin_generation text NOT NULL,
	consumer_id bigint NOT NULL,
	api_id bigint NOT NULL,
	hour timestamptz NOT NULL,
	ts timestamptz NOT NULL,
	body jsonb NOT NULL,
	PRIMARY KEY (host_id, pin_generation, consumer_id, api_id, hour)
);
