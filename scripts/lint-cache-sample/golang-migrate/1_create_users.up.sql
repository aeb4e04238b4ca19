CREATE SCHEMA IF NOT EXISTS app;
CREATE TABLE IF NOT EXISTS app.users (
    user_id BIGINT PRIMARY KEY,
    email TEXT UNIQUE NOT NULL,
    name VARCHAR(100),
    status SMALLINT NOT NULL DEFAULT 0 CHECK (status >= 0),
    attributes JSONB DEFAULT '{}'::jsonb,
    created_at BIGINT NOT NULL,
    updated_at TIMESTAMPTZ
);
CREATE TABLE IF NOT EXISTS app.sessions (
    token TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES app.users (user_id) ON DELETE CASCADE,
    expires_at TIMESTAMP WITH TIME ZONE NOT NULL,
    CONSTRAINT sessions_user_token UNIQUE (user_id, token)
);
CREATE INDEX IF NOT EXISTS sessions_user_id_index ON app.sessions USING btree (user_id) WHERE expires_at IS NOT NULL;
CREATE SEQUENCE IF NOT EXISTS app.invoice_number START 1000;
