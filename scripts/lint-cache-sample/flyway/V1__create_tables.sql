CREATE TABLE accounts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email varchar(255) NOT NULL,
    plan text,
    settings json,
    created_at timestamp NOT NULL DEFAULT now()
);
CREATE TABLE posts (id serial PRIMARY KEY, account_id integer REFERENCES accounts (id), title text NOT NULL, body text);
CREATE INDEX posts_account_id_idx ON posts (account_id);
CREATE TYPE mood AS ENUM ('sad', 'ok');
