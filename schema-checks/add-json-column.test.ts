import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './add-json-column.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { ...options, rules: [rule] });
  // SQL that does not parse would pass every "passes on" test: make it fail them instead.
  assert.deepEqual(
    report.findings.filter((finding) => finding.ruleId === 'syntax-error'),
    [],
  );
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags a json column added to an existing table, at its type, also json[] and pg_catalog.json', async () => {
  const found = await findings('ALTER TABLE events ADD COLUMN payload json, ADD COLUMN tags json[], ADD COLUMN raw pg_catalog.json;');
  assert.deepEqual(
    found.map((f) => [f.line, f.column]),
    [
      [1, 39],
      [1, 61],
      [1, 84],
    ],
  );
  assert.match(found[0]?.message ?? '', /"payload" to "events"/);
});

test('passes on jsonb, and on json in a table created in the same file', async () => {
  assert.deepEqual(await findings('ALTER TABLE events ADD COLUMN payload jsonb;'), []);
  assert.deepEqual(await findings('CREATE TABLE events (id bigint);\nALTER TABLE events ADD COLUMN payload json;'), []);
});
