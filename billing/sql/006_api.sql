-- 006: what the dashboard REST API (tollgate-api, DESIGN §7) keeps: key
-- rotation, the routes it publishes to the agents, Idempotency-Key records,
-- the audit log, and a NOTIFY that wakes its outbox relay.

-- Rotation: the replaced key stays valid until expires_at (the grace period),
-- then tollgate-api revokes it (revoked_at = expires_at, an outbox row takes
-- is_active 0 to Redis). replaced_by: the key that took its place.
ALTER TABLE api_keys ADD COLUMN expires_at timestamptz;
ALTER TABLE api_keys ADD COLUMN replaced_by tg_id REFERENCES api_keys (id);
CREATE INDEX api_keys_expiring ON api_keys (expires_at)
	WHERE expires_at IS NOT NULL AND revoked_at IS NULL;

-- Path prefixes the agents map to an API (DESIGN §8 route:{id} {api_id,
-- prefix, flags}); publishing an API makes one from its base_path.
CREATE TABLE routes (
	id tg_id PRIMARY KEY DEFAULT nextval('tg_id_seq'),
	api_id tg_id NOT NULL REFERENCES apis (id),
	prefix text NOT NULL CHECK (prefix LIKE '/%' AND octet_length(prefix) < 127),
	public boolean NOT NULL DEFAULT false,
	deprecated boolean NOT NULL DEFAULT false,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX routes_api ON routes (api_id);

-- Idempotency-Key records, per (caller, key), kept 24 hours. A request claims
-- its row inside the transaction that does its work, so a concurrent request
-- with the same key waits for it and then replays its answer; status and
-- body are that answer. A response carrying a secret (a new raw key) is
-- stored as the answer a replay gets instead (409 with the key's id), never
-- with the secret. request_hash: sha256 of method, path and body.
CREATE TABLE api_idempotency (
	caller text NOT NULL, -- "admin", "consumer:42"
	key text NOT NULL,
	request_hash text NOT NULL,
	status integer,
	body text,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (caller, key)
);
CREATE INDEX api_idempotency_created ON api_idempotency (created_at);

-- Every change made through the API, written in the transaction that makes it.
CREATE TABLE audit_log (
	id bigserial PRIMARY KEY,
	actor text NOT NULL,	 -- "admin", "consumer:42"
	action text NOT NULL,	 -- "key.create", "plan.create", ...
	object text NOT NULL,	 -- "key:17"
	details jsonb NOT NULL DEFAULT '{}',
	remote_addr text,
	at timestamptz NOT NULL DEFAULT now()
);

-- A row in outbox (005) wakes the relay at once, whoever wrote it (billing's
-- dunning too); the relay also polls every second, so a lost NOTIFY only
-- delays.
CREATE FUNCTION tg_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('tollgate_outbox', '');
	RETURN NULL;
END $$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
	FOR EACH STATEMENT EXECUTE FUNCTION tg_outbox_notify();
