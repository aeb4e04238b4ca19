import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './require-lock-timeout.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { ...options, rules: [rule] });
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags ALTER TABLE without lock_timeout', async () => {
  const found = await findings(`ALTER TABLE users ADD COLUMN nickname text;`);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.equal(found[0]?.line, 1);
  assert.ok(found[0]?.message.includes('"users"'), found[0]?.message);
});

test('flags DROP TABLE and TRUNCATE without lock_timeout', async () => {
  const found = await findings(`DROP TABLE old;
TRUNCATE sessions;`);
  assert.equal(found.length, 2, JSON.stringify(found));
});

test('passes after SET lock_timeout', async () => {
  assert.deepEqual(
    await findings(`SET lock_timeout = '2s';
ALTER TABLE users ADD COLUMN nickname text;`),
    [],
  );
});

test('passes after SET LOCAL inside the transaction', async () => {
  assert.deepEqual(
    await findings(`BEGIN;
SET LOCAL lock_timeout = '2s';
ALTER TABLE users ADD COLUMN nickname text;
COMMIT;`),
    [],
  );
});

test('flags again once SET LOCAL ends with the transaction', async () => {
  const found = await findings(`BEGIN;
SET LOCAL lock_timeout = '2s';
COMMIT;
ALTER TABLE users ADD COLUMN nickname text;`);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.equal(found[0]?.line, 4);
});

test('flags after lock_timeout is reset to 0', async () => {
  const found = await findings(`SET lock_timeout = '2s';
SET lock_timeout = 0;
ALTER TABLE users DROP COLUMN a;`);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.equal(found[0]?.line, 3);
});

test('passes on locks weaker than ACCESS EXCLUSIVE', async () => {
  assert.deepEqual(
    await findings(`ALTER TABLE orders VALIDATE CONSTRAINT fk;
ALTER TABLE orders ADD CONSTRAINT fk2 FOREIGN KEY (a) REFERENCES users (id) NOT VALID;
CREATE INDEX CONCURRENTLY i ON users (a);`),
    [],
  );
});

test('passes on a table created in the same migration', async () => {
  assert.deepEqual(
    await findings(`CREATE TABLE t (a int);
ALTER TABLE t ADD COLUMN b int;`),
    [],
  );
});

test('reads the value of FULL and CONCURRENTLY: false is not the option', async () => {
  assert.equal((await findings(`REINDEX (CONCURRENTLY false) TABLE users;`)).length, 1);
  assert.deepEqual(await findings(`REINDEX (CONCURRENTLY 1) TABLE users;`), []);
  assert.deepEqual(await findings(`VACUUM (FULL 'off') users;`), []);
  assert.equal((await findings(`VACUUM (FULL on) users;`)).length, 1);
});
