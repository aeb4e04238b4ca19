import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './change-column-type.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { ...options, rules: [rule] });
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags int to bigint', async () => {
  const found = await findings(`CREATE TABLE orders (id int);

ALTER TABLE legacy ALTER COLUMN id TYPE bigint;`);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.equal(found[0]?.line, 3);
});

test('flags a type whose current type is unknown', async () => {
  const found = await findings(`ALTER TABLE users ALTER COLUMN email TYPE text;`);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.ok(found[0]?.message.includes('not declared'), found[0]?.message);
});

test('flags a USING clause even between safe types', async () => {
  const found = await findings(`ALTER TABLE users ALTER COLUMN email TYPE text USING lower(email);`, {
    history: [{ path: 'V1.sql', sql: 'CREATE TABLE users (email varchar(50));' }],
  });
  assert.equal(found.length, 1, JSON.stringify(found));
});

test('passes on varchar(n) to text from an earlier migration', async () => {
  assert.deepEqual(await findings(`ALTER TABLE users ALTER COLUMN email TYPE text;`, { history: [{ path: 'V1.sql', sql: 'CREATE TABLE users (email varchar(50));' }] }), []);
});

test('passes on widening varchar, numeric precision, and cidr to inet', async () => {
  assert.deepEqual(
    await findings(
      `CREATE TABLE IF NOT EXISTS x (id int);
ALTER TABLE prices ALTER COLUMN code TYPE varchar(40), ALTER COLUMN amount TYPE numeric(12,2), ALTER COLUMN net TYPE inet, ALTER COLUMN label TYPE varchar;`,
      { history: [{ path: 'V1.sql', sql: 'CREATE TABLE prices (code varchar(20), amount numeric(10,2), net cidr, label varchar(10));' }] },
    ),
    [],
  );
});

test('flags narrowing varchar and changing numeric scale', async () => {
  const found = await findings(`ALTER TABLE prices ALTER COLUMN code TYPE varchar(10), ALTER COLUMN amount TYPE numeric(12,3);`, {
    history: [{ path: 'V1.sql', sql: 'CREATE TABLE prices (code varchar(20), amount numeric(10,2));' }],
  });
  assert.equal(found.length, 2, JSON.stringify(found));
  assert.ok(found[0]?.message.includes('from varchar(20) to varchar(10)'), found[0]?.message);
});

test('follows a column rename when looking up the type', async () => {
  assert.deepEqual(
    await findings(
      `ALTER TABLE users RENAME COLUMN email TO mail;
ALTER TABLE users ALTER COLUMN mail TYPE text;`,
      { history: [{ path: 'V1.sql', sql: 'CREATE TABLE users (email varchar(50));' }] },
    ),
    [],
  );
});

test('passes on a table created in the same migration', async () => {
  assert.deepEqual(
    await findings(`CREATE TABLE t (a int);
ALTER TABLE t ALTER COLUMN a TYPE bigint;`),
    [],
  );
});

// lemmy's fix-timezones and crates.io's timezones migrations: SET timezone = 'UTC' first, then
// timestamp to timestamptz, which PostgreSQL 12 and later do in the catalog alone.
const TIMESTAMPS = { history: [{ path: 'V1.sql', sql: 'CREATE TABLE events (at timestamp, until timestamptz, stamp timestamp(3));' }] };

test('passes on timestamp to timestamptz and back after SET TIME ZONE UTC (PostgreSQL 12 on)', async () => {
  assert.deepEqual(
    await findings(
      `SET timezone = 'UTC';
ALTER TABLE events ALTER COLUMN at TYPE timestamptz USING at;
ALTER TABLE events ALTER COLUMN until TYPE timestamp;`,
      TIMESTAMPS,
    ),
    [],
  );
  assert.deepEqual(await findings(`SET TIME ZONE 'Etc/UTC';\nALTER TABLE events ALTER at TYPE timestamp with time zone;`, TIMESTAMPS), []);
  assert.deepEqual(await findings(`BEGIN;\nSET LOCAL TIME ZONE 0;\nALTER TABLE events ALTER at TYPE timestamptz;\nCOMMIT;`, TIMESTAMPS), []);
});

test('flags timestamp to timestamptz in another time zone, before PostgreSQL 12, or with another USING or precision', async () => {
  const cases: Array<[string, LintOptions]> = [
    [`ALTER TABLE events ALTER COLUMN at TYPE timestamptz;`, TIMESTAMPS],
    [`SET timezone = 'Europe/London';\nALTER TABLE events ALTER COLUMN at TYPE timestamptz;`, TIMESTAMPS],
    [`SET timezone = 'UTC';\nRESET timezone;\nALTER TABLE events ALTER COLUMN at TYPE timestamptz;`, TIMESTAMPS],
    [`BEGIN;\nSET LOCAL timezone = 'UTC';\nCOMMIT;\nALTER TABLE events ALTER COLUMN at TYPE timestamptz;`, TIMESTAMPS],
    [`SET timezone = 'UTC';\nALTER TABLE events ALTER COLUMN at TYPE timestamptz;`, { ...TIMESTAMPS, pgVersion: 11 }],
    [`SET timezone = 'UTC';\nALTER TABLE events ALTER COLUMN at TYPE timestamptz USING at + interval '1 hour';`, TIMESTAMPS],
    [`SET timezone = 'UTC';\nALTER TABLE events ALTER COLUMN stamp TYPE timestamptz;`, TIMESTAMPS],
  ];
  for (const [sql, options] of cases) assert.equal((await findings(sql, options)).length, 1, sql);
});
