import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './concurrently-in-transaction.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { ...options, rules: [rule] });
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags CREATE INDEX CONCURRENTLY after BEGIN', async () => {
  const found = await findings(`BEGIN;
CREATE INDEX CONCURRENTLY i ON users (email);
COMMIT;`);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.equal(found[0]?.line, 2);
});

test('flags it when the runner wraps files in transactions', async () => {
  const found = await findings(`CREATE INDEX CONCURRENTLY i ON users (email);`, { transactionPerFile: true });
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.ok(found[0]?.message.includes('runner wraps'), found[0]?.message);
});

test('flags REINDEX and DROP INDEX CONCURRENTLY in a transaction', async () => {
  const found = await findings(`START TRANSACTION;
REINDEX INDEX CONCURRENTLY i;
DROP INDEX CONCURRENTLY j;
COMMIT;`);
  assert.equal(found.length, 2, JSON.stringify(found));
});

test('passes after COMMIT', async () => {
  assert.deepEqual(
    await findings(`BEGIN;
ALTER TABLE users ADD COLUMN a int;
COMMIT;
CREATE INDEX CONCURRENTLY i ON users (a);`),
    [],
  );
});

test('passes outside a transaction', async () => {
  assert.deepEqual(await findings(`CREATE INDEX CONCURRENTLY i ON users (email);`), []);
});

test('passes on REINDEX with CONCURRENTLY set to false in a transaction', async () => {
  assert.deepEqual(await findings(`BEGIN;\nREINDEX (CONCURRENTLY false) INDEX i;\nREINDEX (CONCURRENTLY 'off') TABLE t;\nCOMMIT;`), []);
  assert.equal((await findings(`BEGIN;\nREINDEX (CONCURRENTLY on) INDEX i;\nCOMMIT;`)).length, 1);
});
