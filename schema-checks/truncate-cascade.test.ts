import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './truncate-cascade.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { ...options, rules: [rule] });
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags TRUNCATE CASCADE', async () => {
  const found = await findings(`TRUNCATE sessions CASCADE;`);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.equal(found[0]?.line, 1);
  assert.ok(found[0]?.message.includes('"sessions"'), found[0]?.message);
});

test('passes on TRUNCATE without CASCADE', async () => {
  assert.deepEqual(await findings(`TRUNCATE sessions;`), []);
});
