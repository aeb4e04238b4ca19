-- +goose Up
-- +goose StatementBegin
CREATE TABLE events (
    id BIGSERIAL PRIMARY KEY,
    kind INT NOT NULL,
    payload JSONB NOT NULL,
    happened_at TIMESTAMP NOT NULL
);
-- +goose StatementEnd
CREATE INDEX events_kind ON events (kind);

-- +goose StatementBegin
CREATE FUNCTION events_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('events', NEW.id::text);
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
CREATE TRIGGER events_notify AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION events_notify();

-- +goose Down
DROP TABLE events;
