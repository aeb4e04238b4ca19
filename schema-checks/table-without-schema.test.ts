import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './table-without-schema.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { hygiene: true, ...options, rules: [rule] });
  // SQL that does not parse would pass every "passes on" test: make it fail them instead.
  assert.deepEqual(
    report.findings.filter((finding) => finding.ruleId === 'syntax-error'),
    [],
  );
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

const history = [{ path: 'V1__init.sql', sql: 'CREATE SCHEMA app;\nCREATE TABLE app.users (id bigint);\nCREATE TABLE app.orders (id bigint);' }];

test('flags an unqualified table when every table the project created before names its schema', async () => {
  const found = await findings('CREATE TABLE invoices (id bigint);', { history });
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.match(found[0]?.message ?? '', /Table "invoices" is created without a schema, while the 2 table\(s\) the project created before all name theirs/);
  const sameFile = await findings('CREATE TABLE app.users (id bigint);\nCREATE TABLE orders (id bigint);');
  assert.deepEqual(
    sameFile.map((f) => f.line),
    [2],
  );
});

test('passes on qualified tables, temporary tables, and after SET search_path', async () => {
  assert.deepEqual(await findings('CREATE TABLE app.invoices (id bigint);\nCREATE TEMP TABLE scratch (id bigint);', { history }), []);
  assert.deepEqual(await findings('SET search_path = app;\nCREATE TABLE invoices (id bigint);', { history }), []);
});

test('passes where the project does not qualify its tables, or has none yet', async () => {
  assert.deepEqual(await findings('CREATE TABLE invoices (id bigint);'), []);
  assert.deepEqual(
    await findings('CREATE TABLE invoices (id bigint);', { history: [{ path: 'V1.sql', sql: 'CREATE TABLE users (id bigint);\nCREATE TABLE app.orders (id bigint);' }] }),
    [],
  );
});

test('is a hygiene rule: silent unless the project turns hygiene on', async () => {
  assert.deepEqual(await findings('CREATE TABLE invoices (id bigint);', { history, hygiene: false }), []);
});
