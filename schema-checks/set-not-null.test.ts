import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './set-not-null.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { ...options, rules: [rule] });
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags SET NOT NULL without a validated check', async () => {
  const found = await findings(`ALTER TABLE users ALTER COLUMN email SET NOT NULL;`);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.equal(found[0]?.line, 1);
  assert.ok(found[0]?.message.includes('"email"'), found[0]?.message);
});

test('passes after a NOT VALID check validated earlier in the file', async () => {
  assert.deepEqual(
    await findings(`ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;
ALTER TABLE users VALIDATE CONSTRAINT email_nn;
ALTER TABLE users ALTER COLUMN email SET NOT NULL;`),
    [],
  );
});

test('passes after a check validated in a previous migration of the run', async () => {
  assert.deepEqual(
    await findings(`ALTER TABLE users ALTER COLUMN email SET NOT NULL;`, {
      history: [{ path: 'V1.sql', sql: 'ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL AND id > 0);' }],
    }),
    [],
  );
});

test('flags when the check was never validated', async () => {
  const found = await findings(`ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;
ALTER TABLE users ALTER COLUMN email SET NOT NULL;`);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.equal(found[0]?.line, 2);
});

test('flags before PostgreSQL 12 even after a validated check', async () => {
  const found = await findings(
    `ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL);
ALTER TABLE users ALTER COLUMN email SET NOT NULL;`,
    { pgVersion: 11 },
  );
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.ok(found[0]?.message.includes('before PostgreSQL 12'), found[0]?.message);
});

test('passes on a table created in the same migration', async () => {
  assert.deepEqual(
    await findings(`CREATE TABLE t (a int);
ALTER TABLE t ALTER COLUMN a SET NOT NULL;`),
    [],
  );
});
