import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './vacuum-full.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { ...options, rules: [rule] });
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags VACUUM FULL', async () => {
  const found = await findings(`VACUUM FULL users;`);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.equal(found[0]?.line, 1);
  assert.ok(found[0]?.message.includes('"users"'), found[0]?.message);
});

test('flags VACUUM (FULL, ANALYZE)', async () => {
  const found = await findings(`VACUUM (FULL, ANALYZE) users;`);
  assert.equal(found.length, 1, JSON.stringify(found));
});

test('passes on plain VACUUM', async () => {
  assert.deepEqual(await findings(`VACUUM (ANALYZE) users;`), []);
});

test('passes on VACUUM (FULL false)', async () => {
  assert.deepEqual(await findings(`VACUUM (FULL false) users;`), []);
});
