BEGIN;
ALTER TABLE app.users ADD COLUMN is_admin BOOLEAN NOT NULL DEFAULT false, ADD COLUMN country CHAR(2);
ALTER TABLE app.users ALTER COLUMN name TYPE TEXT, ALTER COLUMN status SET DEFAULT 1;
ALTER TABLE app.users ALTER COLUMN updated_at SET DATA TYPE TIMESTAMPTZ USING to_timestamp(created_at / 1000000);
ALTER TABLE app.users DROP CONSTRAINT IF EXISTS users_status_check;
ALTER TABLE app.sessions RENAME CONSTRAINT sessions_user_token TO sessions_user_token_key;
ALTER TABLE app.sessions DISABLE TRIGGER ALL;
UPDATE app.users SET country = 'NL' WHERE country IS NULL AND email LIKE '%.nl';
UPDATE app.users SET status = 2;
DELETE FROM app.sessions USING app.users WHERE app.sessions.user_id = app.users.user_id AND app.users.status = 9;
INSERT INTO app.users (user_id, email, created_at) SELECT 0, 'root@example.com', 0 ON CONFLICT (user_id) DO NOTHING;
CREATE TYPE app.plan AS ENUM ('free', 'paid');
ALTER TYPE app.plan RENAME VALUE 'paid' TO 'pro';
ALTER SEQUENCE app.invoice_number RESTART WITH 2000;
CREATE OR REPLACE FUNCTION app.now_micros() RETURNS BIGINT AS $$
BEGIN
    RETURN (EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::BIGINT;
END;
$$ LANGUAGE plpgsql;
ALTER TABLE app.users ADD COLUMN seen_at BIGINT NOT NULL DEFAULT app.now_micros();
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'readonly') THEN
        CREATE ROLE readonly;
    END IF;
END
$$;
COMMIT;
