import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './cluster.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { ...options, rules: [rule] });
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags CLUSTER', async () => {
  const found = await findings(`CLUSTER users USING users_pkey;`);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.equal(found[0]?.line, 1);
  assert.ok(found[0]?.message.includes('"users"'), found[0]?.message);
});

test('passes on a table created in the same migration', async () => {
  assert.deepEqual(
    await findings(`CREATE TABLE t (a int primary key);
CLUSTER t USING t_pkey;`),
    [],
  );
});

test('the fix says what pg_repack needs', async () => {
  const [found] = await findings(`CLUSTER users USING users_pkey;`);
  assert.match(found?.safeAlternative ?? '', /primary key or a unique index on NOT NULL columns/);
});
