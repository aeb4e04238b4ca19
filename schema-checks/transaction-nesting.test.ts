import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintMigrations, lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './transaction-nesting.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { ...options, rules: [rule] });
  // SQL that does not parse would pass every "passes on" test: make it fail them instead.
  assert.deepEqual(
    report.findings.filter((finding) => finding.ruleId === 'syntax-error'),
    [],
  );
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags a BEGIN inside a transaction the file opened', async () => {
  const found = await findings(`BEGIN;
ALTER TABLE users ADD COLUMN a int;
START TRANSACTION;
ALTER TABLE users ADD COLUMN b int;
COMMIT;
COMMIT;`);
  assert.deepEqual(
    found.map((f) => f.line),
    [3],
  );
  assert.match(found[0]?.message ?? '', /ends the outer transaction/);
});

test('flags COMMIT and ROLLBACK in a file the runner wraps, from the setting or the file', async () => {
  const sql = `BEGIN;
ALTER TABLE users ADD COLUMN a int;
COMMIT;`;
  const wrapped = await findings(sql, { transactionPerFile: true });
  assert.deepEqual(
    wrapped.map((f) => f.line),
    [3],
  );
  assert.match(wrapped[0]?.message ?? '', /runner wraps this file in a transaction; this COMMIT ends it early: the runner then records the migration outside it/);
  const followed = await findings(`${sql}\nALTER TABLE users ADD COLUMN b int;`, { transactionPerFile: true });
  assert.match(followed[0]?.message ?? '', /this COMMIT ends it early: the statements after it run one by one/);
  // dbmate and goose mark a file's own wrapping in the file; the marker wins over the setting.
  const marked = await lintMigrations([{ path: 'V1.sql', sql: 'ALTER TABLE users ADD COLUMN a int;\nROLLBACK;', transaction: true }], { rules: [rule] });
  assert.deepEqual(
    marked.findings.map((f) => [f.line, /ROLLBACK undoes every statement before it/.test(f.message)]),
    [[2, true]],
  );
});

test('passes on one BEGIN ... COMMIT in a file the runner does not wrap, on savepoints, and on two transactions in a row', async () => {
  assert.deepEqual(
    await findings(`BEGIN;
SAVEPOINT s;
ALTER TABLE users ADD COLUMN a int;
ROLLBACK TO SAVEPOINT s;
COMMIT;
BEGIN;
ALTER TABLE users ADD COLUMN b int;
COMMIT;`),
    [],
  );
});

test('passes on a wrapped file without transaction statements, and on a BEGIN the runner ignores when nothing commits it', async () => {
  assert.deepEqual(await findings('ALTER TABLE users ADD COLUMN a int;', { transactionPerFile: true }), []);
  assert.deepEqual(await findings('BEGIN;\nALTER TABLE users ADD COLUMN a int;', { transactionPerFile: true }), []);
});
