import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './add-stored-generated-column.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { ...options, rules: [rule] });
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags a stored generated column', async () => {
  const found = await findings(`ALTER TABLE orders ADD COLUMN total numeric GENERATED ALWAYS AS (price * qty) STORED;`);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.equal(found[0]?.line, 1);
});

test('passes on a virtual generated column (PostgreSQL 18)', async () => {
  assert.deepEqual(await findings(`ALTER TABLE orders ADD COLUMN total numeric GENERATED ALWAYS AS (price * qty) VIRTUAL;`), []);
});

test('passes on a table created in the same migration', async () => {
  assert.deepEqual(
    await findings(`CREATE TABLE t (a int);
ALTER TABLE t ADD COLUMN b int GENERATED ALWAYS AS (a * 2) STORED;`),
    [],
  );
});
