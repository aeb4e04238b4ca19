import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './prefer-text-over-varchar.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { hygiene: true, ...options, rules: [rule] });
  // SQL that does not parse would pass every "passes on" test: make it fail them instead.
  assert.deepEqual(
    report.findings.filter((finding) => finding.ruleId === 'syntax-error'),
    [],
  );
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags varchar(n) and character varying(n) in CREATE TABLE and ADD COLUMN', async () => {
  const found = await findings(`CREATE TABLE users (id bigint, email varchar(255), name character varying(100)[]);
ALTER TABLE users ADD COLUMN phone varchar(20);`);
  assert.deepEqual(
    found.map((f) => f.line),
    [1, 1, 2],
  );
  assert.match(found[0]?.message ?? '', /"email" of "users" is varchar\(255\): use text, with a CHECK \(char_length\(email\) <= 255\)/);
  assert.match(found[1]?.message ?? '', /varchar\(100\)\[\]/);
});

test('passes on text, on varchar without a length, and on temporary tables', async () => {
  assert.deepEqual(await findings('CREATE TABLE users (email text, nick varchar);\nCREATE TEMP TABLE scratch (v varchar(10));'), []);
});

test('is a hygiene rule: silent unless the project turns hygiene on', async () => {
  assert.deepEqual(await findings('CREATE TABLE users (email varchar(255));', { hygiene: false }), []);
});
