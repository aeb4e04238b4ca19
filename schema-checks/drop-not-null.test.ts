import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './drop-not-null.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { ...options, rules: [rule] });
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags dropping NOT NULL', async () => {
  const found = await findings(`ALTER TABLE users ALTER COLUMN email DROP NOT NULL;`);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.equal(found[0]?.line, 1);
});

test('passes on SET DEFAULT', async () => {
  assert.deepEqual(await findings(`ALTER TABLE users ALTER COLUMN email SET DEFAULT '';`), []);
});
