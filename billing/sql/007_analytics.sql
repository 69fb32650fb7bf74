-- 007: indexes for the dashboard's analytics reads (dashboard-api/analytics.h).
--
-- The rollup primary keys lead with ts, so a read for one consumer (usage,
-- top endpoints, geo, the upcoming invoice) would scan every consumer's rows
-- in its time range: a day of minute rows of every consumer for one chart
-- (measured: 3,000 consumers, one day of minute rows, 330 ms with the key
-- alone, under 1 ms of execution with these). Reads of one API (usage, SLA,
-- deprecation) get the same for APIs that carry a small share of the traffic
-- (a deprecated API, typically); for a large share Postgres still scans.
--
-- Created on the partitioned tables, so every partition, present and future,
-- gets them. On a database that already holds much usage this takes a lock
-- on the rollups while it builds; such an operator can build each
-- partition's index with CREATE INDEX CONCURRENTLY first, as Postgres then
-- attaches the matching ones instead of building them again.
CREATE INDEX rollup_minute_consumer ON rollup_minute (consumer_id, ts);
CREATE INDEX rollup_hour_consumer ON rollup_hour (consumer_id, ts);
CREATE INDEX rollup_day_consumer ON rollup_day (consumer_id, ts);

CREATE INDEX rollup_minute_api ON rollup_minute (api_id, ts);
CREATE INDEX rollup_hour_api ON rollup_hour (api_id, ts);
CREATE INDEX rollup_day_api ON rollup_day (api_id, ts);
