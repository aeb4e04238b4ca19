SET lock_timeout = '2s';
SET statement_timeout = '5min';
CREATE INDEX CONCURRENTLY IF NOT EXISTS accounts_email_idx ON accounts (email);
ALTER TABLE articles ADD CONSTRAINT articles_account_fk2 FOREIGN KEY (account_id) REFERENCES accounts (id) NOT VALID;
ALTER TABLE articles VALIDATE CONSTRAINT articles_account_fk2;
COMMENT ON TABLE accounts IS 'people';
