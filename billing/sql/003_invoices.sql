-- 003: invoices, their lines, the usage they billed, late units carried to a
-- later invoice, invoice run requests, payments (DESIGN §6, §7).

CREATE SEQUENCE invoice_id_seq AS bigint MINVALUE 1;

CREATE TABLE invoices (
	id bigint PRIMARY KEY DEFAULT nextval('invoice_id_seq'),
	consumer_id tg_id NOT NULL REFERENCES consumers (id),
	period date NOT NULL CHECK (extract(day FROM period) = 1), -- the month's first day
	period_start timestamptz NOT NULL,
	period_end timestamptz NOT NULL,
	currency char(3) NOT NULL,
	status text NOT NULL DEFAULT 'draft'
		CHECK (status IN ('draft', 'finalized', 'paid', 'payment_failed')),
	total_minor bigint NOT NULL DEFAULT 0,
	reconciliation jsonb,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	finalized_at timestamptz,
	paid_at timestamptz,
	UNIQUE (consumer_id, period)
);

CREATE TABLE invoice_lines (
	invoice_id bigint NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
	line_no integer NOT NULL,
	plan_id tg_id NOT NULL,
	kind text NOT NULL CHECK (kind IN ('tier', 'tier_flat', 'period_fee', 'adjustment')),
	tier integer NOT NULL,
	description text NOT NULL,
	quantity numeric(20, 0) NOT NULL,
	unit_price numeric(32, 12) NOT NULL,
	amount_minor bigint NOT NULL,
	PRIMARY KEY (invoice_id, line_no)
);

-- the billable units an invoice charged per plan: what arrives for its period
-- after it is finalized is the difference
CREATE TABLE invoice_usage (
	invoice_id bigint NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
	plan_id tg_id NOT NULL,
	quantity numeric(20, 0) NOT NULL,
	PRIMARY KEY (invoice_id, plan_id)
);

-- late units of a finalized invoice, charged on an "adjustment YYYY-MM" line
-- of the consumer's next open invoice (charged_invoice_id)
CREATE TABLE invoice_adjustments (
	id bigserial PRIMARY KEY,
	source_invoice_id bigint NOT NULL REFERENCES invoices (id),
	plan_id tg_id NOT NULL,
	units numeric(20, 0) NOT NULL CHECK (units > 0),
	amount_minor bigint NOT NULL,
	unit_price numeric(32, 12) NOT NULL,
	tier integer NOT NULL,
	charged_invoice_id bigint REFERENCES invoices (id),
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX invoice_adjustments_source ON invoice_adjustments (source_invoice_id, plan_id);

-- POST /v1/invoices/run inserts one and NOTIFYs tollgate_invoice_run; a
-- tollgate-billing run LISTENs, claims it and records the outcome
CREATE TABLE invoice_runs (
	id bigserial PRIMARY KEY,
	period date NOT NULL CHECK (extract(day FROM period) = 1),
	status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'done', 'failed')),
	invoices integer,
	error text,
	requested_at timestamptz NOT NULL DEFAULT now(),
	started_at timestamptz,
	finished_at timestamptz
);

CREATE TABLE payments (
	id bigserial PRIMARY KEY,
	invoice_id bigint NOT NULL REFERENCES invoices (id),
	attempt integer NOT NULL,
	idempotency_key text NOT NULL UNIQUE,
	status text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'unknown')),
	provider_ref text,
	error text,
	amount_minor bigint NOT NULL,
	currency char(3) NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	next_attempt_at timestamptz,
	UNIQUE (invoice_id, attempt)
);
