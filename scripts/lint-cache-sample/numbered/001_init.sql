SET search_path TO public;
CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
CREATE TABLE things (id uuid PRIMARY KEY DEFAULT uuid_generate_v4(), label text, parent_id uuid REFERENCES things (id)) INHERITS (base_things);
CREATE VIEW thing_labels AS SELECT id, label FROM things;
SELECT set_config('lock_timeout', '2s', false);
