SET LOCAL lock_timeout = '3s';
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_amount_nonzero CHECK (amount_cents <> 0) NOT VALID;
ALTER TABLE ledger_entries VALIDATE CONSTRAINT ledger_amount_nonzero;
ALTER TABLE ledger_entries ALTER COLUMN memo SET NOT NULL;
LOCK TABLE accounts IN SHARE ROW EXCLUSIVE MODE;
TRUNCATE ledger_entries CASCADE;
CLUSTER ledger_entries USING ledger_entries_account_booked;
