import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './require-statement-timeout.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { ...options, rules: [rule] });
  // SQL that does not parse would pass every "passes on" test: make it fail them instead.
  assert.deepEqual(
    report.findings.filter((finding) => finding.ruleId === 'syntax-error'),
    [],
  );
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

const LOCK = "SET lock_timeout = '2s';\n";

test('flags scans and rewrites of an existing table after lock_timeout with no statement_timeout', async () => {
  const found = await findings(`${LOCK}ALTER TABLE users ALTER COLUMN id TYPE bigint;
ALTER TABLE users ALTER COLUMN email SET NOT NULL;
ALTER TABLE orders ADD CONSTRAINT orders_user FOREIGN KEY (user_id) REFERENCES users (id);
ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();
ALTER TABLE users ADD COLUMN total int GENERATED ALWAYS AS (a + b) STORED;
CREATE INDEX users_email ON users (email);
VACUUM (FULL) users;
CLUSTER users USING users_pkey;
REINDEX TABLE users;
REFRESH MATERIALIZED VIEW stats;
ALTER TABLE users SET LOGGED;`);
  assert.deepEqual(
    found.map((f) => f.line),
    [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
  );
  assert.match(found[0]?.message ?? '', /rewrites "users" holding it, and every read and write waits/);
  assert.match(found[2]?.message ?? '', /scans "orders" holding it, and every write waits/);
  assert.match(found[5]?.message ?? '', /builds an index on "users"/);
});

test('passes once statement_timeout is set, for the session or the transaction', async () => {
  const alter = 'ALTER TABLE users ALTER COLUMN id TYPE bigint;';
  assert.deepEqual(await findings(`${LOCK}SET statement_timeout = '5min';\n${alter}`), []);
  assert.deepEqual(await findings(`BEGIN;\nSET LOCAL lock_timeout = '2s';\nSET LOCAL statement_timeout = '5min';\n${alter}\nCOMMIT;`), []);
  // SET LOCAL ends with its transaction, and 0 turns the timeout off.
  assert.equal((await findings(`${LOCK}BEGIN;\nSET LOCAL statement_timeout = '5min';\nCOMMIT;\n${alter}`)).length, 1);
  assert.equal((await findings(`${LOCK}SET statement_timeout = '5min';\nSET statement_timeout = 0;\n${alter}`)).length, 1);
});

test('passes when the project says the migration role sets statement_timeout', async () => {
  assert.deepEqual(await findings(`${LOCK}ALTER TABLE users ALTER COLUMN id TYPE bigint;`, { requireStatementTimeout: false }), []);
});

test('passes without lock_timeout: the statement is flagged for that first', async () => {
  assert.deepEqual(await findings('ALTER TABLE users ALTER COLUMN id TYPE bigint;'), []);
});

test('passes on catalog-only changes and on forms that hold no blocking lock', async () => {
  assert.deepEqual(
    await findings(`${LOCK}ALTER TABLE users ADD COLUMN nickname text;
ALTER TABLE users ADD COLUMN status text DEFAULT 'active' NOT NULL;
ALTER TABLE orders ADD CONSTRAINT orders_user FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;
ALTER TABLE orders VALIDATE CONSTRAINT orders_user;
ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_idx;
CREATE INDEX CONCURRENTLY users_email ON users (email);
REINDEX TABLE CONCURRENTLY users;
REFRESH MATERIALIZED VIEW CONCURRENTLY stats;
ALTER TABLE users DROP COLUMN fax;
VACUUM users;`),
    [],
  );
});

test('passes on a widening type change the migrations declared, on SET NOT NULL proved by a validated CHECK, and on new tables', async () => {
  const history = [{ path: 'V1.sql', sql: 'CREATE TABLE users (email varchar(100));' }];
  assert.deepEqual(await findings(`${LOCK}ALTER TABLE users ALTER COLUMN email TYPE varchar(200);`, { history }), []);
  assert.deepEqual(
    await findings(`${LOCK}ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;
SET statement_timeout = '1h';
ALTER TABLE users VALIDATE CONSTRAINT email_nn;
RESET statement_timeout;
ALTER TABLE users ALTER COLUMN email SET NOT NULL;`),
    [],
  );
  assert.deepEqual(await findings(`${LOCK}CREATE TABLE t (a int);\nCREATE INDEX t_a ON t (a);\nALTER TABLE t ALTER COLUMN a TYPE bigint;`), []);
});
