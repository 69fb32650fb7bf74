-- 005: what billing/payments.c needs to charge invoices exactly once, dun and
-- suspend (DESIGN §6 "Payments"), and the outbox of key and plan changes that
-- a relay applies to Redis (DESIGN §7).

-- Per attempt, what every send of it repeats under its idempotency key: the
-- provider's customer (amount_minor and currency are in 003). outcome: the
-- provider's answer to the latest exchange (stripe_outcome_name()); status
-- says what it means for the attempt. next_attempt_at (003) is when the next
-- dunning attempt is due after a decline, NULL when there is none.
ALTER TABLE payments ADD COLUMN customer_id text;
ALTER TABLE payments ADD COLUMN outcome text
	CHECK (outcome IN ('ok', 'declined', 'retry', 'invalid', 'pending'));

-- Why automatic charging of this invoice stopped (an answer that retrying
-- cannot fix: a refused parameter, an unknown customer, a key Stripe may have
-- forgotten). NULL = charge as usual. An operator fixes the cause and clears it.
ALTER TABLE invoices ADD COLUMN payment_hold text;

-- the invoices a payments run looks at, without scanning the paid ones
CREATE INDEX invoices_unpaid ON invoices (id) WHERE status IN ('finalized', 'payment_failed');

-- Changes for Redis, written in the same transaction as the Postgres change
-- they announce; the relay (tollgate-api) applies each row, PUBLISHes on the
-- channel of its kind and sets applied_at, retrying while Redis is down.
-- kind 'key': payload {"digest": "<32 hex>", "suspended": true|false, ...}
-- for apikey:{digest} and tollgate:keys.
CREATE TABLE outbox (
	id bigserial PRIMARY KEY,
	kind text NOT NULL,
	payload jsonb NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	applied_at timestamptz
);
CREATE INDEX outbox_unapplied ON outbox (id) WHERE applied_at IS NULL;
