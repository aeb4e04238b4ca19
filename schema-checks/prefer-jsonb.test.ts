import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './prefer-jsonb.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { hygiene: true, ...options, rules: [rule] });
  // SQL that does not parse would pass every "passes on" test: make it fail them instead.
  assert.deepEqual(
    report.findings.filter((finding) => finding.ruleId === 'syntax-error'),
    [],
  );
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags json columns of a new table, also added later in the same file', async () => {
  const found = await findings('CREATE TABLE events (id bigint, payload json, tags json[]);\nALTER TABLE events ADD COLUMN raw json;');
  assert.deepEqual(
    found.map((f) => [f.line, f.column]),
    [
      [1, 41],
      [1, 52],
      [2, 35],
    ],
  );
  assert.match(found[0]?.message ?? '', /Column "payload" of "events" is json/);
});

test('passes on jsonb, on temporary tables, and on existing tables (add-json-column reports those)', async () => {
  assert.deepEqual(await findings('CREATE TABLE events (payload jsonb);'), []);
  assert.deepEqual(await findings('CREATE TEMP TABLE scratch (payload json);'), []);
  assert.deepEqual(await findings('ALTER TABLE events ADD COLUMN payload json;'), []);
});

test('is a hygiene rule: silent unless the project turns hygiene on', async () => {
  assert.deepEqual(await findings('CREATE TABLE events (payload json);', { hygiene: false }), []);
});
