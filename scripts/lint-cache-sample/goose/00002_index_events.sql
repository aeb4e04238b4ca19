-- +goose NO TRANSACTION
-- +goose Up
CREATE INDEX CONCURRENTLY events_happened_at ON events (happened_at);
ALTER TABLE events ALTER COLUMN kind TYPE BIGINT;

-- +goose Down
DROP INDEX CONCURRENTLY events_happened_at;
