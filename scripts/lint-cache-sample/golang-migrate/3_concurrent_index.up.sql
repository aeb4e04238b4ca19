CREATE INDEX CONCURRENTLY IF NOT EXISTS users_country_status_idx ON app.users (country, status, created_at, email, name);
CREATE UNIQUE INDEX CONCURRENTLY users_lower_email ON app.users (lower(email));
DROP INDEX CONCURRENTLY IF EXISTS sessions_user_id_index;
REINDEX INDEX CONCURRENTLY users_lower_email;
