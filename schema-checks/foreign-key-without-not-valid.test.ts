import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './foreign-key-without-not-valid.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { ...options, rules: [rule] });
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags a validated foreign key', async () => {
  const found = await findings(`ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id);`);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.equal(found[0]?.line, 1);
  assert.ok(found[0]?.message.includes('"orders_user_fk"'), found[0]?.message);
});

test('flags REFERENCES on an added column', async () => {
  const found = await findings(`ALTER TABLE orders ADD COLUMN user_id bigint REFERENCES users (id);`);
  assert.equal(found.length, 1, JSON.stringify(found));
});

test('passes with NOT VALID', async () => {
  assert.deepEqual(await findings(`ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;`), []);
});

test('passes on a table created in the same migration', async () => {
  assert.deepEqual(
    await findings(`CREATE TABLE t (a int);
ALTER TABLE t ADD FOREIGN KEY (a) REFERENCES users (id);`),
    [],
  );
});

test('flags a new table filled as it was made (CREATE TABLE AS, SELECT INTO, WITH DATA), referencing a live table', async () => {
  for (const create of ['CREATE TABLE t AS SELECT id AS a FROM old', 'SELECT id AS a INTO t FROM old', 'CREATE TABLE t (a) AS SELECT id FROM old WITH DATA']) {
    const found = await findings(`${create};\nALTER TABLE t ADD FOREIGN KEY (a) REFERENCES users (id);`);
    assert.equal(found.length, 1, create);
    assert.match(found[0]?.message ?? '', /already holds rows.*"users"/, create);
  }
  const renamed = await findings(`CREATE TABLE t AS SELECT id AS a FROM old;\nALTER TABLE t RENAME TO u;\nALTER TABLE u ADD FOREIGN KEY (a) REFERENCES users (id);`);
  assert.equal(renamed.length, 1);
});

test('passes on a new table created WITH NO DATA, or one referencing a table also new', async () => {
  assert.deepEqual(await findings(`CREATE TABLE t AS SELECT id AS a FROM old WITH NO DATA;\nALTER TABLE t ADD FOREIGN KEY (a) REFERENCES users (id);`), []);
  assert.deepEqual(await findings(`CREATE TABLE p (id int PRIMARY KEY);\nCREATE TABLE t AS SELECT id AS a FROM old;\nALTER TABLE t ADD FOREIGN KEY (a) REFERENCES p (id);`), []);
});
