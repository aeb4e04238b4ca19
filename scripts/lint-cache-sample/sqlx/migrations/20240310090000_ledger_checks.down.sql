ALTER TABLE ledger_entries DROP CONSTRAINT ledger_amount_nonzero;
