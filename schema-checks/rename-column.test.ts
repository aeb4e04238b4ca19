import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './rename-column.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { ...options, rules: [rule] });
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags renaming a column', async () => {
  const found = await findings(`ALTER TABLE users RENAME COLUMN email TO email_address;`);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.equal(found[0]?.line, 1);
  assert.ok(found[0]?.message.includes('"email_address"'), found[0]?.message);
});

test('passes on a table created in the same migration', async () => {
  assert.deepEqual(
    await findings(`CREATE TABLE t (a int);
ALTER TABLE t RENAME COLUMN a TO b;`),
    [],
  );
});

test('passes on renaming an index', async () => {
  assert.deepEqual(await findings(`ALTER INDEX users_email_idx RENAME TO users_email_key;`), []);
});
