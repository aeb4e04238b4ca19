import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './drop-column.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { ...options, rules: [rule] });
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags dropping a column of an existing table', async () => {
  const found = await findings(`ALTER TABLE users DROP COLUMN email;`);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.equal(found[0]?.line, 1);
  assert.ok(found[0]?.message.includes('"email"'), found[0]?.message);
});

test('flags each dropped column', async () => {
  const found = await findings(`SELECT 1;
ALTER TABLE users DROP COLUMN a, DROP COLUMN b;`);
  assert.equal(found.length, 2, JSON.stringify(found));
  assert.equal(found[0]?.line, 2);
});

test('passes on a table created in the same migration', async () => {
  assert.deepEqual(
    await findings(`CREATE TABLE drafts (id int, note text);
ALTER TABLE drafts DROP COLUMN note;`),
    [],
  );
});

test('passes on adding a column', async () => {
  assert.deepEqual(await findings(`ALTER TABLE users ADD COLUMN nickname text;`), []);
});
