import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './prefer-timestamptz.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { hygiene: true, ...options, rules: [rule] });
  // SQL that does not parse would pass every "passes on" test: make it fail them instead.
  assert.deepEqual(
    report.findings.filter((finding) => finding.ruleId === 'syntax-error'),
    [],
  );
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags timestamp, timestamp(3) and timestamp without time zone in CREATE TABLE and ADD COLUMN', async () => {
  const found = await findings(`CREATE TABLE events (at timestamp, precise timestamp(3), spelled timestamp without time zone);
ALTER TABLE events ADD COLUMN seen_at timestamp;`);
  assert.deepEqual(
    found.map((f) => f.line),
    [1, 1, 1, 2],
  );
  assert.match(found[0]?.message ?? '', /Column "at" of "events" is timestamp without time zone/);
});

test('passes on timestamptz, timestamp with time zone and date', async () => {
  assert.deepEqual(await findings('CREATE TABLE events (a timestamptz, b timestamp with time zone, c timestamptz(3), d date);'), []);
});

test('is a hygiene rule: silent unless the project turns hygiene on', async () => {
  assert.deepEqual(await findings('CREATE TABLE events (at timestamp);', { hygiene: false }), []);
});
