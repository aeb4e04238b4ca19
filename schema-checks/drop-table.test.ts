import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './drop-table.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { ...options, rules: [rule] });
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags dropping an existing table', async () => {
  const found = await findings(`DROP TABLE IF EXISTS legacy_orders;`);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.equal(found[0]?.line, 1);
  assert.ok(found[0]?.message.includes('"legacy_orders"'), found[0]?.message);
});

test('flags only the existing tables of a list', async () => {
  const found = await findings(`CREATE TABLE tmp (id int);
DROP TABLE tmp, public.old_audit;`);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.equal(found[0]?.line, 2);
  assert.ok(found[0]?.message.includes('"public"."old_audit"'), found[0]?.message);
});

test('passes on a table created in the same migration', async () => {
  assert.deepEqual(
    await findings(`CREATE TABLE scratch (id int);
DROP TABLE scratch;`),
    [],
  );
});

test('passes on dropping a view', async () => {
  assert.deepEqual(await findings(`DROP VIEW active_users;`), []);
});
