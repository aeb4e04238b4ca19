import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './drop-database.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { ...options, rules: [rule] });
  // SQL that does not parse would pass every "passes on" test: make it fail them instead.
  assert.deepEqual(
    report.findings.filter((finding) => finding.ruleId === 'syntax-error'),
    [],
  );
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags DROP DATABASE, also IF EXISTS and WITH (FORCE)', async () => {
  const found = await findings('DROP DATABASE shop;\nDROP DATABASE IF EXISTS "shop-old" WITH (FORCE);');
  assert.deepEqual(
    found.map((f) => f.line),
    [1, 2],
  );
  assert.match(found[1]?.message ?? '', /"shop-old"/);
});

test('passes on dropping a table or a schema, which other rules judge', async () => {
  assert.deepEqual(await findings('DROP TABLE shop;\nDROP SCHEMA IF EXISTS shop;'), []);
});
