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

test('passes on every spelling of false, and flags every spelling of true', async () => {
  for (const off of ["'false'", '0', 'off', "'off'", "E'false'", "U&'false'", 'FALSE']) assert.deepEqual(await findings(`VACUUM (FULL ${off}) users;`), [], off);
  for (const on of ['true', "'on'", '1', 'ON']) assert.equal((await findings(`VACUUM (FULL ${on}) users;`)).length, 1, on);
});

test('the fix says plain VACUUM runs outside a transaction block and what pg_repack needs', async () => {
  const [found] = await findings(`VACUUM FULL users;`);
  assert.match(found?.safeAlternative ?? '', /outside a transaction block/);
  assert.match(found?.safeAlternative ?? '', /primary key/);
});
