import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './unique-constraint-without-index.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { ...options, rules: [rule] });
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags UNIQUE built in place', async () => {
  const found = await findings(`ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);`);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.equal(found[0]?.line, 1);
  assert.ok(found[0]?.message.includes('"users_email_key"'), found[0]?.message);
});

test('flags a UNIQUE column added to an existing table: the index is built in place too', async () => {
  const found = await findings(`ALTER TABLE users ADD COLUMN handle text UNIQUE;`);
  assert.equal(found.length, 1, JSON.stringify(found));
});

test('passes with USING INDEX', async () => {
  assert.deepEqual(await findings(`ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_idx;`), []);
});

test('passes on a table created in the same migration', async () => {
  assert.deepEqual(
    await findings(`CREATE TABLE t (a int);
ALTER TABLE t ADD UNIQUE (a);`),
    [],
  );
});
