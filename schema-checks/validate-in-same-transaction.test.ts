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
