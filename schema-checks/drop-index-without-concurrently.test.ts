import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './drop-index-without-concurrently.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { ...options, rules: [rule] });
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags DROP INDEX', async () => {
  const found = await findings(`DROP INDEX users_email_idx;`);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.equal(found[0]?.line, 1);
  assert.ok(found[0]?.message.includes('"users_email_idx"'), found[0]?.message);
});

test('passes with CONCURRENTLY', async () => {
  assert.deepEqual(await findings(`DROP INDEX CONCURRENTLY users_email_idx;`), []);
});

test('passes on an index created in the same migration', async () => {
  assert.deepEqual(
    await findings(`CREATE TABLE t (a int);
CREATE INDEX t_a ON t (a);
DROP INDEX t_a;`),
    [],
  );
});

test('with CASCADE the fix drops the dependent objects first, as DROP INDEX CONCURRENTLY refuses CASCADE', async () => {
  const [found] = await findings(`DROP INDEX users_email_idx CASCADE;`);
  assert.match(found?.safeAlternative ?? '', /refuses CASCADE/);
});

test('flags an index created earlier in the file on a live table: dropping it locks that table', async () => {
  const found = await findings(`CREATE INDEX CONCURRENTLY users_a ON users (a);\nDROP INDEX users_a;`);
  assert.equal(found.length, 1, JSON.stringify(found));
});
