-- More statement kinds that real migration folders hold (triggers, deletes, views, grants,
-- transactions, extensions), so that the code cache holds the rules' code for them too.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE TABLE archived_accounts AS SELECT * FROM accounts WHERE plan = 'gone';
CREATE TRIGGER accounts_touch BEFORE UPDATE ON accounts FOR EACH ROW EXECUTE FUNCTION touch();
DELETE FROM accounts WHERE email IS NULL;
CREATE VIEW active_accounts AS SELECT id, email FROM accounts WHERE plan <> 'gone';
GRANT SELECT ON active_accounts TO reporting;
ALTER TABLE accounts DROP CONSTRAINT IF EXISTS accounts_email_key;
ALTER TABLE accounts ADD CONSTRAINT accounts_email_key UNIQUE USING INDEX accounts_email_idx;
ALTER TABLE accounts ALTER COLUMN email SET DEFAULT '';
ALTER TABLE accounts ADD PRIMARY KEY (id);
ALTER INDEX accounts_email_idx RENAME TO accounts_email_index;
DROP TRIGGER IF EXISTS accounts_touch ON accounts;
DROP VIEW active_accounts;
DROP FUNCTION IF EXISTS touch();
CREATE UNIQUE INDEX accounts_lower_email ON accounts (lower(email));
SELECT 1;
COMMIT;
