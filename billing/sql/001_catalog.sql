-- 001: the catalog, the consumers and their keys, and the plans (DESIGN §7,
-- §8). Postgres is their source of truth; Redis is a cache rebuilt from here.
-- Ids are the u32 >= 1 of DESIGN §5, held in bigint so all of u32 fits.

CREATE DOMAIN tg_id AS bigint CHECK (VALUE BETWEEN 1 AND 4294967295);

CREATE SEQUENCE tg_id_seq AS bigint MINVALUE 1 MAXVALUE 4294967295;

CREATE TABLE apis (
	id tg_id PRIMARY KEY DEFAULT nextval('tg_id_seq'),
	name text NOT NULL,
	version text NOT NULL DEFAULT '1',
	base_path text NOT NULL DEFAULT '/',
	description text NOT NULL DEFAULT '',
	sandbox_url text,
	deprecated_at timestamptz,
	sunset_at timestamptz,
	sla_uptime numeric(7, 4) CHECK (sla_uptime IS NULL OR sla_uptime BETWEEN 0 AND 100),
	sla_p99_ms integer CHECK (sla_p99_ms IS NULL OR sla_p99_ms > 0),
	openapi jsonb,
	created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE plans (
	id tg_id PRIMARY KEY DEFAULT nextval('tg_id_seq'),
	name text NOT NULL,
	api_id tg_id REFERENCES apis (id),
	rate_per_sec numeric(20, 6) NOT NULL CHECK (rate_per_sec > 0),
	burst bigint NOT NULL CHECK (burst >= 1),
	monthly_quota bigint NOT NULL DEFAULT 0 CHECK (monthly_quota >= 0),
	currency char(3) NOT NULL DEFAULT 'USD',
	tiers_mode text NOT NULL DEFAULT 'graduated' CHECK (tiers_mode IN ('graduated', 'volume')),
	-- [{"up_to": N | null, "unit_price": "0.001", "flat_price": "0"}], prices as
	-- decimal strings (lib/pricing.h reads them)
	tiers jsonb NOT NULL DEFAULT '[]',
	period_fee numeric(32, 12) NOT NULL DEFAULT 0,
	bill_server_errors boolean NOT NULL DEFAULT false,
	created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE consumers (
	id tg_id PRIMARY KEY DEFAULT nextval('tg_id_seq'),
	name text NOT NULL,
	email text NOT NULL DEFAULT '',
	suspended boolean NOT NULL DEFAULT false,
	-- the payment provider's customer ("cus_..."), made on the first charge
	payment_customer_id text,
	created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
	id tg_id PRIMARY KEY DEFAULT nextval('tg_id_seq'),
	consumer_id tg_id NOT NULL REFERENCES consumers (id),
	plan_id tg_id NOT NULL REFERENCES plans (id),
	digest char(32) NOT NULL UNIQUE, -- SipHash-2-4-128 hex (DESIGN §8); never the raw key
	prefix text NOT NULL,		  -- "tg_1abcd": enough to recognise, not to use
	created_at timestamptz NOT NULL DEFAULT now(),
	revoked_at timestamptz,
	last_used_at timestamptz
);
CREATE INDEX api_keys_consumer ON api_keys (consumer_id);
