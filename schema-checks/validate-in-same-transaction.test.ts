import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './validate-in-same-transaction.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { ...options, rules: [rule] });
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags VALIDATE in the transaction that added NOT VALID', async () => {
  const found = await findings(`BEGIN;
ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;
ALTER TABLE orders VALIDATE CONSTRAINT fk;
COMMIT;`);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.equal(found[0]?.line, 3);
  assert.ok(found[0]?.message.includes('"fk"'), found[0]?.message);
});

test('flags it when the runner wraps the file', async () => {
  const found = await findings(
    `ALTER TABLE orders ADD CONSTRAINT c CHECK (qty > 0) NOT VALID;
ALTER TABLE orders VALIDATE CONSTRAINT c;`,
    { transactionPerFile: true },
  );
  assert.equal(found.length, 1, JSON.stringify(found));
});

test('passes after COMMIT', async () => {
  assert.deepEqual(
    await findings(`BEGIN;
ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;
COMMIT;
ALTER TABLE orders VALIDATE CONSTRAINT fk;`),
    [],
  );
});

test('passes without a transaction (each statement commits)', async () => {
  assert.deepEqual(
    await findings(`ALTER TABLE orders ADD CONSTRAINT c CHECK (qty > 0) NOT VALID;
ALTER TABLE orders VALIDATE CONSTRAINT c;`),
    [],
  );
});

test('flags a foreign key from a new table that holds rows to a live table, validated in the same transaction', async () => {
  const found = await findings(`BEGIN;
CREATE TABLE archive AS SELECT * FROM orders;
ALTER TABLE archive ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;
ALTER TABLE archive VALIDATE CONSTRAINT fk;
COMMIT;`);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.match(found[0]?.message ?? '', /SHARE ROW EXCLUSIVE lock on "users"/);
});

test('passes on a new table that holds rows when nothing live is locked: a CHECK, or a key to a new table', async () => {
  assert.deepEqual(
    await findings(`BEGIN;
CREATE TABLE people (id int PRIMARY KEY);
CREATE TABLE archive AS SELECT * FROM orders;
ALTER TABLE archive ADD CONSTRAINT c CHECK (qty > 0) NOT VALID;
ALTER TABLE archive VALIDATE CONSTRAINT c;
ALTER TABLE archive ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES people (id) NOT VALID;
ALTER TABLE archive VALIDATE CONSTRAINT fk;
COMMIT;`),
    [],
  );
});
