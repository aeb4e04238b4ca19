import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './not-null-column-without-default.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { ...options, rules: [rule] });
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags a NOT NULL column without a default', async () => {
  const found = await findings(`ALTER TABLE users ADD COLUMN tenant_id bigint NOT NULL;`);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.equal(found[0]?.line, 1);
  assert.ok(found[0]?.message.includes('"tenant_id"'), found[0]?.message);
});

test('passes with a constant default', async () => {
  assert.deepEqual(await findings(`ALTER TABLE users ADD COLUMN status text NOT NULL DEFAULT 'active';`), []);
});

test('passes on a nullable column', async () => {
  assert.deepEqual(await findings(`ALTER TABLE users ADD COLUMN nickname text;`), []);
});

test('passes on a table created in the same migration', async () => {
  assert.deepEqual(
    await findings(`CREATE TABLE t (a int);
ALTER TABLE t ADD COLUMN b int NOT NULL;`),
    [],
  );
});

test('flags a new table filled as it was made, where the ADD fails on its rows, but not an empty new one', async () => {
  const found = await findings(`CREATE TABLE t AS SELECT id FROM old;\nALTER TABLE t ADD COLUMN b int NOT NULL;`);
  assert.equal(found.length, 1);
  assert.match(found[0]?.message ?? '', /already holds rows/);
  assert.deepEqual(await findings(`CREATE TABLE t AS SELECT id FROM old WITH NO DATA;\nALTER TABLE t ADD COLUMN b int NOT NULL;`), []);
  assert.deepEqual(await findings(`CREATE TABLE t (id int);\nALTER TABLE t ADD COLUMN b int NOT NULL;`), []);
});
