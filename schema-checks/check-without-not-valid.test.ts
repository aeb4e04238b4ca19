import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './check-without-not-valid.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { ...options, rules: [rule] });
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags a validated CHECK', async () => {
  const found = await findings(`ALTER TABLE orders ADD CONSTRAINT qty_positive CHECK (qty > 0);`);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.equal(found[0]?.line, 1);
  assert.ok(found[0]?.message.includes('"qty_positive"'), found[0]?.message);
});

test('passes with NOT VALID', async () => {
  assert.deepEqual(await findings(`ALTER TABLE orders ADD CONSTRAINT qty_positive CHECK (qty > 0) NOT VALID;`), []);
});

test('passes on a table created in the same migration', async () => {
  assert.deepEqual(
    await findings(`CREATE TABLE t (a int);
ALTER TABLE t ADD CHECK (a > 0);`),
    [],
  );
});
