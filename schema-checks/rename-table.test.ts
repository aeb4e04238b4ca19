import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './rename-table.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { ...options, rules: [rule] });
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags renaming a table', async () => {
  const found = await findings(`ALTER TABLE users RENAME TO accounts;`);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.equal(found[0]?.line, 1);
  assert.ok(found[0]?.message.includes('"accounts"'), found[0]?.message);
});

test('passes on a table created in the same migration', async () => {
  assert.deepEqual(
    await findings(`CREATE TABLE staging (id int);
ALTER TABLE staging RENAME TO final;`),
    [],
  );
});

test('passes on renaming a column', async () => {
  assert.deepEqual(await findings(`ALTER TABLE users RENAME COLUMN a TO b;`), []);
});
