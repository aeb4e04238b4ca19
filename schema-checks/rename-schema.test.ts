import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './rename-schema.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { ...options, rules: [rule] });
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags renaming a schema', async () => {
  const found = await findings(`ALTER SCHEMA billing RENAME TO invoicing;`);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.equal(found[0]?.line, 1);
  assert.ok(found[0]?.message.includes('"billing"'), found[0]?.message);
});

test('passes on creating a schema', async () => {
  assert.deepEqual(await findings(`CREATE SCHEMA invoicing;`), []);
});
