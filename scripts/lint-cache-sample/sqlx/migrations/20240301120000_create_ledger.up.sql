CREATE TABLE ledger_entries (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    amount_cents BIGINT NOT NULL,
    memo TEXT,
    booked_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    EXCLUDE USING gist (account_id WITH =, tstzrange(booked_at, booked_at + interval '1 day') WITH &&)
);
CREATE INDEX ledger_entries_account_booked ON ledger_entries (account_id, booked_at DESC);
ALTER TABLE accounts ADD COLUMN balance_cents BIGINT GENERATED ALWAYS AS (0) STORED;
