import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './uncommitted-transaction.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { ...options, rules: [rule] });
  // SQL that does not parse would pass every "passes on" test: make it fail them instead.
  assert.deepEqual(
    report.findings.filter((finding) => finding.ruleId === 'syntax-error'),
    [],
  );
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags a BEGIN the file never commits, at the BEGIN', async () => {
  const found = await findings(`SET lock_timeout = '2s';
BEGIN;
ALTER TABLE users ADD COLUMN a int;`);
  assert.deepEqual(
    found.map((f) => [f.line, f.column]),
    [[2, 1]],
  );
});

test('flags the BEGIN that is still open when an earlier transaction was committed', async () => {
  const found = await findings('BEGIN;\nSELECT 1;\nCOMMIT;\nSTART TRANSACTION;\nSELECT 2;\n');
  assert.deepEqual(
    found.map((f) => f.line),
    [4],
  );
});

test('passes on BEGIN ... COMMIT, BEGIN ... ROLLBACK and no transaction at all', async () => {
  assert.deepEqual(await findings('BEGIN;\nALTER TABLE users ADD COLUMN a int;\nCOMMIT;'), []);
  assert.deepEqual(await findings('BEGIN;\nALTER TABLE users ADD COLUMN a int;\nEND;'), []);
  assert.deepEqual(await findings('BEGIN;\nSELECT 1;\nROLLBACK;'), []);
  assert.deepEqual(await findings('ALTER TABLE users ADD COLUMN a int;'), []);
});

test('passes in a file the runner wraps: its COMMIT ends what the file left open', async () => {
  assert.deepEqual(await findings('BEGIN;\nALTER TABLE users ADD COLUMN a int;', { transactionPerFile: true }), []);
});
