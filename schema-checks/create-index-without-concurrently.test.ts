import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './create-index-without-concurrently.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { ...options, rules: [rule] });
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags CREATE INDEX on an existing table', async () => {
  const found = await findings(`CREATE INDEX users_email_idx ON users (email);`);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.equal(found[0]?.line, 1);
  assert.ok(found[0]?.message.includes('"users_email_idx"'), found[0]?.message);
});

test('passes with CONCURRENTLY', async () => {
  assert.deepEqual(await findings(`CREATE INDEX CONCURRENTLY users_email_idx ON users (email);`), []);
});

test('passes on a table created in the same migration', async () => {
  assert.deepEqual(
    await findings(`CREATE TABLE t (a int);
CREATE UNIQUE INDEX t_a ON t (a);`),
    [],
  );
});

test('matches schema-qualified and unqualified public names', async () => {
  assert.deepEqual(
    await findings(`CREATE TABLE public.t (a int);
CREATE INDEX ON t (a);`),
    [],
  );
});
