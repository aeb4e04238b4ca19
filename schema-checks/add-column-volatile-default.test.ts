import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './add-column-volatile-default.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { ...options, rules: [rule] });
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags a volatile default', async () => {
  const found = await findings(`ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();`);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.equal(found[0]?.line, 1);
  assert.ok(found[0]?.message.includes('gen_random_uuid()'), found[0]?.message);
});

test('flags clock_timestamp() nested in an expression', async () => {
  const found = await findings(`ALTER TABLE users ADD COLUMN seen timestamptz DEFAULT (clock_timestamp() + interval '1 day');`);
  assert.equal(found.length, 1, JSON.stringify(found));
});

test('flags a function whose volatility it cannot know', async () => {
  const found = await findings(`ALTER TABLE users ADD COLUMN code text DEFAULT make_code();`);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.ok(found[0]?.message.includes('make_code()'), found[0]?.message);
});

test('passes on constant and now() defaults on PostgreSQL 11+', async () => {
  assert.deepEqual(await findings(`ALTER TABLE users ADD COLUMN status text DEFAULT 'new', ADD COLUMN created timestamptz DEFAULT now(), ADD COLUMN n int DEFAULT 0;`), []);
});

test('flags any default before PostgreSQL 11', async () => {
  const found = await findings(`ALTER TABLE users ADD COLUMN status text DEFAULT 'new';`, { pgVersion: 10 });
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.ok(found[0]?.message.includes('Before PostgreSQL 11'), found[0]?.message);
});

test('passes on a table created in the same migration', async () => {
  assert.deepEqual(
    await findings(`CREATE TABLE t (a int);
ALTER TABLE t ADD COLUMN b float DEFAULT random();`),
    [],
  );
});
