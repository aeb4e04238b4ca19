import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './drop-not-null.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { ...options, rules: [rule] });
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags dropping NOT NULL', async () => {
  const found = await findings(`ALTER TABLE users ALTER COLUMN email DROP NOT NULL;`);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.equal(found[0]?.line, 1);
});

test('passes on SET DEFAULT', async () => {
  assert.deepEqual(await findings(`ALTER TABLE users ALTER COLUMN email SET DEFAULT '';`), []);
});

test('passes on a column created nullable, in this file or an earlier one, or whose NOT NULL was dropped already', async () => {
  const history = [{ path: 'V1.sql', sql: 'CREATE TABLE users (id bigint PRIMARY KEY, email text NULL, name text NOT NULL);' }];
  assert.deepEqual(await findings(`ALTER TABLE users ALTER COLUMN email DROP NOT NULL;`, { history }), []);
  const dropped = [...history, { path: 'V2.sql', sql: 'ALTER TABLE users ALTER COLUMN name DROP NOT NULL;' }];
  assert.deepEqual(await findings(`ALTER TABLE users ALTER COLUMN name DROP NOT NULL;`, { history: dropped }), []);
  const added = [...history, { path: 'V2.sql', sql: 'ALTER TABLE users ADD COLUMN nickname text;' }];
  assert.deepEqual(await findings(`ALTER TABLE users ALTER COLUMN nickname DROP NOT NULL;`, { history: added }), []);
  const copied = [{ path: 'V1.sql', sql: 'CREATE TABLE archive (a, b) AS SELECT id, email FROM users;\nSELECT id, email AS mail INTO copy FROM users;' }];
  assert.deepEqual(await findings(`ALTER TABLE archive ALTER COLUMN b DROP NOT NULL;\nALTER TABLE copy ALTER COLUMN mail DROP NOT NULL;`, { history: copied }), []);
});

test('flags a column that is NOT NULL: declared so, by a primary key, an identity or serial, SET NOT NULL, ADD COLUMN ... NOT NULL', async () => {
  const history = [
    {
      path: 'V1.sql',
      sql: `CREATE TABLE users (id bigint, tenant int, name text NOT NULL, n serial, g int GENERATED ALWAYS AS IDENTITY, email text, nick text, PRIMARY KEY (id, tenant));
ALTER TABLE users ALTER COLUMN email SET NOT NULL;
ALTER TABLE users ALTER COLUMN email TYPE varchar(200);
ALTER TABLE users ADD COLUMN score int NOT NULL DEFAULT 0;
ALTER TABLE users RENAME COLUMN nick TO handle;
ALTER TABLE users ALTER COLUMN handle SET NOT NULL;`,
    },
  ];
  for (const column of ['id', 'tenant', 'name', 'n', 'g', 'email', 'score', 'handle']) {
    assert.equal((await findings(`ALTER TABLE users ALTER COLUMN ${column} DROP NOT NULL;`, { history })).length, 1, column);
  }
  const readded = [{ path: 'V1.sql', sql: 'CREATE TABLE t (a int);\nALTER TABLE t ADD CONSTRAINT t_pk PRIMARY KEY (a);' }];
  assert.equal((await findings(`ALTER TABLE t ALTER COLUMN a DROP NOT NULL;`, { history: readded })).length, 1);
  const nn = [{ path: 'V1.sql', sql: 'CREATE TABLE t (a int, CONSTRAINT a_nn NOT NULL a);' }];
  assert.equal((await findings(`ALTER TABLE t ALTER COLUMN a DROP NOT NULL;`, { history: nn })).length, 1);
});

test('flags a column whose nullability the migrations do not tell: inherited, or never declared', async () => {
  const history = [{ path: 'V1.sql', sql: 'CREATE TABLE child (extra int) INHERITS (parent);' }];
  assert.equal((await findings(`ALTER TABLE child ALTER COLUMN extra DROP NOT NULL;`, { history })).length, 1);
  assert.equal((await findings(`ALTER TABLE child ALTER COLUMN id DROP NOT NULL;`, { history })).length, 1);
});
