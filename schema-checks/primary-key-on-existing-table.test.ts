import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './primary-key-on-existing-table.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { ...options, rules: [rule] });
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags ADD PRIMARY KEY', async () => {
  const found = await findings(`ALTER TABLE events ADD PRIMARY KEY (id);`);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.equal(found[0]?.line, 1);
  assert.ok(found[0]?.message.includes('"events"'), found[0]?.message);
});

test('flags a PRIMARY KEY column added to an existing table', async () => {
  const found = await findings(`ALTER TABLE events ADD COLUMN id bigint PRIMARY KEY;`);
  assert.equal(found.length, 1, JSON.stringify(found));
});

test('passes with USING INDEX', async () => {
  assert.deepEqual(await findings(`ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY USING INDEX events_id_idx;`), []);
});

test('passes on a table created in the same migration', async () => {
  assert.deepEqual(
    await findings(`CREATE TABLE t (a int);
ALTER TABLE t ADD PRIMARY KEY (a);`),
    [],
  );
});
