import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './rename-enum-value.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { ...options, rules: [rule] });
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags renaming an enum value', async () => {
  const found = await findings(`ALTER TYPE order_status RENAME VALUE 'shipped' TO 'dispatched';`);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.equal(found[0]?.line, 1);
  assert.ok(found[0]?.message.includes("'shipped'"), found[0]?.message);
});

test('passes on adding an enum value', async () => {
  assert.deepEqual(await findings(`ALTER TYPE order_status ADD VALUE 'returned';`), []);
});
