import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './not-rerunnable-outside-transaction.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { ...options, rules: [rule] });
  // SQL that does not parse would pass every "passes on" test: make it fail them instead.
  assert.deepEqual(
    report.findings.filter((finding) => finding.ruleId === 'syntax-error'),
    [],
  );
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags CREATE INDEX CONCURRENTLY without IF NOT EXISTS, also alone in its file', async () => {
  const found = await findings('CREATE INDEX CONCURRENTLY users_email ON users (email);');
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.match(found[0]?.message ?? '', /INVALID index "users_email"/);
  const unnamed = await findings('CREATE INDEX CONCURRENTLY ON users (email);');
  assert.match(unnamed[0]?.message ?? '', /second index beside it/);
});

test('passes on CREATE INDEX CONCURRENTLY IF NOT EXISTS, or after DROP INDEX ... IF EXISTS of the same index', async () => {
  assert.deepEqual(await findings('CREATE INDEX CONCURRENTLY IF NOT EXISTS users_email ON users (email);'), []);
  assert.deepEqual(
    await findings(`DROP INDEX CONCURRENTLY IF EXISTS users_email;
CREATE INDEX CONCURRENTLY users_email ON users (email);`),
    [],
  );
  const other = await findings(`DROP INDEX CONCURRENTLY IF EXISTS users_name;
CREATE INDEX CONCURRENTLY users_email ON users (email);`);
  assert.equal(other.length, 1, JSON.stringify(other));
});

test('flags DROP and ALTER TABLE ... DROP without IF EXISTS outside a transaction when statements follow', async () => {
  const found = await findings(`DROP INDEX CONCURRENTLY users_email;
ALTER TABLE users DROP COLUMN email, DROP CONSTRAINT users_email_key;
DROP FUNCTION normalize_email(text);
DROP TYPE IF EXISTS mood;`);
  assert.deepEqual(
    found.map((f) => f.line),
    [1, 2, 2, 3],
  );
  assert.match(found[0]?.message ?? '', /^DROP INDEX "users_email" without IF EXISTS/);
  assert.match(found[3]?.message ?? '', /^DROP FUNCTION "normalize_email" without IF EXISTS/);
});

test('passes on the last statement of the file: if it fails nothing was dropped', async () => {
  assert.deepEqual(await findings('CREATE TABLE t (a int);\nDROP INDEX CONCURRENTLY users_email;'), []);
  assert.deepEqual(await findings('DROP TABLE old_sessions'), []);
});

test('passes on DROP ... IF EXISTS, and on anything inside a transaction', async () => {
  assert.deepEqual(await findings('DROP TABLE IF EXISTS a;\nALTER TABLE b DROP COLUMN IF EXISTS c;\nSELECT 1;'), []);
  assert.deepEqual(await findings('BEGIN;\nDROP TABLE a;\nALTER TABLE b DROP COLUMN c;\nCOMMIT;'), []);
  assert.deepEqual(await findings('DROP TABLE a;\nALTER TABLE b DROP COLUMN c;\nSELECT 1;', { transactionPerFile: true }), []);
});
