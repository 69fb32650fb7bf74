-- 004: SLA alerts, deprecation notices and the webhook outbox (DESIGN §6
-- "SLA", "Deprecation"). An alert or notice and the webhook that announces it
-- are written in one transaction; billing/webhook.c delivers the outbox with
-- retries, so a webhook receiver that is down loses nothing.

-- a time as the JSON of DESIGN §7 shows it: RFC 3339 UTC, "2026-11-28T10:05:00Z"
CREATE FUNCTION tg_rfc3339(t timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
	SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

-- One row per breach: opened by the first breached window, kept open (never
-- duplicated) while windows stay breached, resolved by the first healthy one.
-- opened_at is the start of the first breached window, resolved_at the start
-- of the first healthy one, so [opened_at, resolved_at) is the breach.
-- details: the opening window {window_start, window_end, window_seconds,
-- requests, failures, unanswered, uptime, latency_requests, p99_ms,
-- target_uptime, target_p99_ms}; resolution: the same for the healthy window
-- (or {"reason": "target removed"}). opened_delivered_at and
-- resolved_delivered_at say when the webhooks announcing the change were
-- delivered (NULL: pending, failed, or no URL; the outbox rows tell which).
CREATE TABLE alerts (
	id bigserial PRIMARY KEY,
	kind text NOT NULL CHECK (kind IN ('sla_uptime', 'sla_latency', 'reconciliation')),
	api_id tg_id REFERENCES apis (id),
	consumer_id tg_id REFERENCES consumers (id),
	state text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'resolved')),
	opened_at timestamptz NOT NULL,
	resolved_at timestamptz,
	breached_windows integer NOT NULL DEFAULT 1,
	last_breach_at timestamptz, -- end of the latest breached window
	details jsonb NOT NULL DEFAULT '{}',
	resolution jsonb,
	opened_delivered_at timestamptz,
	resolved_delivered_at timestamptz,
	created_at timestamptz NOT NULL DEFAULT now(),
	CHECK ((state = 'resolved') = (resolved_at IS NOT NULL)),
	CHECK (kind NOT LIKE 'sla_%' OR (api_id IS NOT NULL AND consumer_id IS NULL))
);
-- at most one open alert per (kind, api, consumer); NULL ids compare equal
CREATE UNIQUE INDEX alerts_one_open ON alerts (kind, coalesce(api_id, 0), coalesce(consumer_id, 0))
	WHERE state = 'open';
CREATE INDEX alerts_api ON alerts (api_id, opened_at);

-- Where SLA evaluation stands per API: the end of the last window evaluated,
-- so evaluating the same window twice changes nothing. The row is also the
-- lock that serialises members evaluating the same API.
CREATE TABLE sla_state (
	api_id tg_id PRIMARY KEY REFERENCES apis (id) ON DELETE CASCADE,
	last_window_end timestamptz,
	updated_at timestamptz NOT NULL DEFAULT now()
);

-- Deprecation notices: at most one per consumer, API and ISO week (week = its
-- Monday, UTC). requests: the consumer's admitted requests to the API in the
-- 7 days before created_at. delivered_at: when notify_webhook_url took it.
CREATE TABLE notices (
	id bigserial PRIMARY KEY,
	consumer_id tg_id NOT NULL REFERENCES consumers (id),
	api_id tg_id NOT NULL REFERENCES apis (id),
	week date NOT NULL CHECK (extract(isodow FROM week) = 1),
	requests bigint NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	delivered_at timestamptz,
	UNIQUE (consumer_id, api_id, week)
);

-- Webhooks to send. kind picks the URL at delivery time (alert:
-- billing.alert_webhook_url, notice: billing.notify_webhook_url), so fixing a
-- wrong URL in the configuration redirects what is still pending; url is the
-- one the last attempt went to. A row is due when delivered_at IS NULL and
-- next_attempt_at <= now; a member claims it by moving next_attempt_at ahead
-- (a lease), so members never send the same row at the same time. Delivery
-- is at least once: receivers deduplicate on the X-Tollgate-Delivery header
-- (the id). Rows are kept after delivery as the record of what was sent.
CREATE TABLE webhook_outbox (
	id bigserial PRIMARY KEY,
	kind text NOT NULL CHECK (kind IN ('alert', 'notice')),
	event text NOT NULL, -- alert.opened, alert.resolved, deprecation.notice
	alert_id bigint REFERENCES alerts (id),
	notice_id bigint REFERENCES notices (id),
	payload jsonb NOT NULL,
	url text,
	attempts integer NOT NULL DEFAULT 0,
	next_attempt_at timestamptz NOT NULL DEFAULT now(),
	delivered_at timestamptz,
	last_error text,
	created_at timestamptz NOT NULL DEFAULT now()
);
-- the pending rows in claim order; delivered rows stay out of the way
CREATE INDEX webhook_outbox_pending ON webhook_outbox (id) WHERE delivered_at IS NULL;
CREATE INDEX webhook_outbox_alert ON webhook_outbox (alert_id) WHERE alert_id IS NOT NULL;
CREATE INDEX webhook_outbox_notice ON webhook_outbox (notice_id) WHERE notice_id IS NOT NULL;
