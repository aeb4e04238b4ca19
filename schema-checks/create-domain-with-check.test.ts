import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './create-domain-with-check.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { ...options, rules: [rule] });
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags a domain with a CHECK', async () => {
  const found = await findings(`CREATE DOMAIN positive_int AS int CHECK (VALUE > 0);`);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.equal(found[0]?.line, 1);
  assert.ok(found[0]?.message.includes('"positive_int"'), found[0]?.message);
});

test('passes on a domain without a CHECK', async () => {
  assert.deepEqual(await findings(`CREATE DOMAIN email AS text NOT NULL;`), []);
});
