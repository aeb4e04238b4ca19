import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './alter-domain-add-constraint.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { ...options, rules: [rule] });
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags ALTER DOMAIN ADD CONSTRAINT', async () => {
  const found = await findings(`ALTER DOMAIN positive_int ADD CONSTRAINT lt_max CHECK (VALUE < 1000000);`);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.equal(found[0]?.line, 1);
});

test('flags ALTER DOMAIN SET NOT NULL', async () => {
  const found = await findings(`ALTER DOMAIN email SET NOT NULL;`);
  assert.equal(found.length, 1, JSON.stringify(found));
});

test('passes with NOT VALID', async () => {
  assert.deepEqual(await findings(`ALTER DOMAIN positive_int ADD CONSTRAINT lt_max CHECK (VALUE < 1000000) NOT VALID;`), []);
});

test('the fix for SET NOT NULL is one PostgreSQL accepts (a NOT NULL cannot be NOT VALID), and says VALIDATE blocks writes', async () => {
  const [found] = await findings(`ALTER DOMAIN email SET NOT NULL;`);
  assert.match(found?.safeAlternative ?? '', /CHECK \(VALUE IS NOT NULL\)/);
  assert.match(found?.safeAlternative ?? '', /blocks writes/);
});
