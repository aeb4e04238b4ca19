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
CREATE FUNCTION events_stamp() RETURNS trigger AS $$
BEGIN
    IF NEW.happened_at IS NULL THEN
        NEW.happened_at := now();
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
CREATE TRIGGER events_stamp BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION events_stamp();

-- +goose Down
DROP TABLE events;
