import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './unbatched-backfill.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { ...options, rules: [rule] });
  // SQL that does not parse would pass every "passes on" test: make it fail them instead.
  assert.deepEqual(
    report.findings.filter((finding) => finding.ruleId === 'syntax-error'),
    [],
  );
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags an UPDATE of every row of a table the file altered', async () => {
  const found = await findings(`ALTER TABLE users ADD COLUMN email_lower text;
UPDATE users SET email_lower = lower(email);
UPDATE users SET email_lower = lower(email) WHERE email_lower IS NULL;
UPDATE users u SET email_lower = p.email FROM profiles p WHERE p.user_id = u.id;
DELETE FROM users WHERE id NOT IN (1, 2);`);
  assert.deepEqual(
    found.map((f) => f.line),
    [2, 3, 4, 5],
  );
  assert.match(found[0]?.message ?? '', /^UPDATE of "users" with no WHERE follows DDL on "users"/);
  assert.match(found[1]?.message ?? '', /with no WHERE that keeps it to part of the table/);
});

test('flags a backfill of another table in the same transaction as DDL, which keeps its lock meanwhile', async () => {
  const found = await findings(`BEGIN;
ALTER TABLE orders ADD COLUMN total numeric;
UPDATE line_items SET currency = 'EUR' WHERE currency IS NULL;
COMMIT;`);
  assert.deepEqual(
    found.map((f) => f.line),
    [3],
  );
  assert.match(found[0]?.message ?? '', /same transaction as DDL on "orders", whose lock is held until COMMIT/);
  const wrapped = await findings('CREATE INDEX orders_user ON orders (user_id);\nUPDATE line_items SET currency = NULL;', { transactionPerFile: true });
  assert.equal(wrapped.length, 1, JSON.stringify(wrapped));
});

test('passes on bounded statements: a value compared, a range, a list, a batch with LIMIT', async () => {
  assert.deepEqual(
    await findings(`ALTER TABLE users ADD COLUMN role text;
UPDATE users SET role = 'admin' WHERE email = 'boss@example.com';
UPDATE users SET role = 'user' WHERE id BETWEEN 1 AND 10000;
UPDATE users SET role = 'user' WHERE id IN (1, 2, 3) OR id > 100000;
UPDATE users SET role = 'user' WHERE role IS NULL AND id < 5000;
UPDATE users SET role = 'user' WHERE id IN (SELECT id FROM users WHERE role IS NULL ORDER BY id LIMIT 1000);
WITH batch AS (SELECT id FROM users WHERE role IS NULL LIMIT 1000) UPDATE users SET role = 'user' WHERE id IN (SELECT id FROM batch);
DELETE FROM users WHERE created_at < now() - interval '10 years';`),
    [],
  );
});

test('passes on a table created in the file, and on a backfill with no DDL before it outside a transaction', async () => {
  assert.deepEqual(await findings('CREATE TABLE flags (id bigint, enabled boolean);\nINSERT INTO flags VALUES (1, false);\nUPDATE flags SET enabled = true;'), []);
  assert.deepEqual(await findings('UPDATE users SET role = lower(role);'), []);
  assert.deepEqual(await findings('BEGIN;\nALTER TABLE orders ADD COLUMN total numeric;\nCOMMIT;\nUPDATE line_items SET currency = NULL;'), []);
});
