import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MigrationFile } from '../../src/migrations/discovery.js';
import { retryDelayMs } from '../../src/migrations/apply/backoff.js';
import { MigrationFailedError } from '../../src/migrations/apply/errors.js';
import { planMigration, type MigrationPlan } from '../../src/migrations/apply/plan.js';
import { flywayChecksum } from '../../src/migrations/layouts/flyway-checksum.js';
import { flywayReferenceChecksum } from '../support/migration-files.js';

function file(sql: string, extra: Partial<MigrationFile> = {}): MigrationFile {
  return { path: 'db/V7__change.sql', version: '7', name: 'change', layout: 'flyway', phase: 'expand', sql, ...extra };
}

const PG16 = { serverVersionNum: 160004, marksStart: false };

function shape(plan: MigrationPlan): string[] {
  return plan.units.map(
    (unit) => `${unit.transaction}:${unit.steps.map((step) => (step.kind === 'statement' ? `${step.statement.type}@${step.statement.line}` : step.kind)).join(',')}`,
  );
}

test('a plain file runs in one transaction of ship, recorded inside it; statements keep the line of their first word', async () => {
  const plan = await planMigration(file("-- add the column\nALTER TABLE users ADD COLUMN email text;\n\n/* backfill */\nUPDATE users\n  SET email = '';\n"), PG16);
  assert.equal(plan.outsideTransaction, undefined);
  assert.deepEqual(shape(plan), ['ship:AlterTableStmt@2,UpdateStmt@5,record']);
});

test('statements PostgreSQL refuses in a transaction block make the file run statement by statement, recorded after', async () => {
  const cases: Array<[string, RegExp]> = [
    ['CREATE INDEX CONCURRENTLY users_email ON users (email);', /CREATE INDEX CONCURRENTLY at line 2/],
    ['DROP INDEX CONCURRENTLY users_email;', /DROP INDEX CONCURRENTLY/],
    ['REINDEX TABLE CONCURRENTLY users;', /REINDEX CONCURRENTLY/],
    ['REINDEX DATABASE app;', /REINDEX DATABASE/],
    ['VACUUM users;', /VACUUM/],
    ["ALTER SYSTEM SET work_mem = '8MB';", /ALTER SYSTEM/],
    ['CREATE DATABASE other;', /CREATE DATABASE/],
    ['ALTER TABLE events DETACH PARTITION events_2020 CONCURRENTLY;', /DETACH PARTITION CONCURRENTLY/],
  ];
  for (const [statement, why] of cases) {
    const plan = await planMigration(file(`SELECT 1;\n${statement}\nSELECT 2;`), PG16);
    assert.match(plan.outsideTransaction ?? '', why, statement);
    assert.deepEqual(
      plan.units.map((unit) => unit.transaction),
      ['none', 'none', 'none', 'ship'],
      statement,
    );
  }
  const analyze = await planMigration(file('ANALYZE users;'), PG16);
  assert.equal(analyze.outsideTransaction, undefined, 'ANALYZE runs in a transaction');
});

test('ALTER TYPE ... ADD VALUE leaves the transaction only before PostgreSQL 12; a rename never does', async () => {
  const sql = "ALTER TYPE mood ADD VALUE 'meh';";
  assert.match((await planMigration(file(sql), { serverVersionNum: 110022, marksStart: false })).outsideTransaction ?? '', /ADD VALUE before PostgreSQL 12/);
  assert.equal((await planMigration(file(sql), PG16)).outsideTransaction, undefined);
  assert.equal((await planMigration(file("ALTER TYPE mood RENAME VALUE 'sad' TO 'blue';"), { serverVersionNum: 110022, marksStart: false })).outsideTransaction, undefined);
});

test("dbmate transaction:false and a file's own BEGIN ... COMMIT are honoured; the own block is one unit, retried from its BEGIN", async () => {
  const dbmate = await planMigration(file('CREATE TABLE a (id int);', { layout: 'dbmate', transaction: false }), PG16);
  assert.match(dbmate.outsideTransaction ?? '', /transaction:false/);
  const own = await planMigration(file('CREATE TABLE a (id int);\nBEGIN;\nINSERT INTO a VALUES (1);\nCOMMIT;\nCREATE INDEX CONCURRENTLY a_id ON a (id);'), PG16);
  assert.match(own.outsideTransaction ?? '', /manages its own transactions \(line 2\)/);
  assert.deepEqual(shape(own), ['none:CreateStmt@1', 'file:TransactionStmt@2,InsertStmt@3,TransactionStmt@4', 'none:IndexStmt@5', 'ship:record']);
  const concurrent = own.units[2]?.steps[0];
  assert.deepEqual(concurrent?.kind === 'statement' ? concurrent.statement.concurrentIndex : undefined, { table: { name: 'a' }, name: 'a_id' });
  // Savepoints need a transaction around them: ship's.
  assert.equal((await planMigration(file('SAVEPOINT s; SELECT 1; RELEASE SAVEPOINT s;'), PG16)).outsideTransaction, undefined);
});

test('a version table that marks a file started gets its own unit before the work, committed on its own', async () => {
  const plan = await planMigration(file('SELECT 1;'), { serverVersionNum: 160004, marksStart: true });
  assert.deepEqual(shape(plan), ['ship:mark-started', 'ship:SelectStmt@1,record']);
});

test('a file that does not parse, or leaves its own transaction open, is refused before anything runs, with file:line', async () => {
  await assert.rejects(
    planMigration(file('SELECT 1;\nALTER TABLE users ADD COLUMN;\n'), PG16),
    (error: Error) => error instanceof MigrationFailedError && /^db\/V7__change\.sql:2:\d+: does not parse: syntax error/.test(error.message),
  );
  await assert.rejects(
    planMigration(file('SELECT 1;\nBEGIN;\nSELECT 2;\n'), PG16),
    (error: Error) => error instanceof MigrationFailedError && /^db\/V7__change\.sql:2: the transaction it begins is never committed/.test(error.message),
  );
  await assert.rejects(planMigration(file('', { problem: 'is a directory, not a regular file' }), PG16), /cannot be applied: it is a directory/);
});

test("Flyway's checksum: CRC-32 of the lines without terminators, BOM dropped, signed; line endings do not change it", () => {
  // The standard CRC-32 check value of "123456789" is 0xCBF43926.
  assert.equal(flywayChecksum('123\n456\r\n789\n'), 0xcbf43926 | 0);
  const text = "\uFEFF-- crée la table\r\nCREATE TABLE users (id int);\rCOMMENT ON TABLE users IS 'naïve';\n\n";
  assert.equal(flywayChecksum(text), flywayReferenceChecksum(text));
  assert.equal(flywayChecksum(text), flywayChecksum(text.replace(/\r\n?/g, '\n').replace('\uFEFF', '')));
  assert.equal(flywayChecksum(''), 0);
});

test('retry waits double up to the ceiling, with jitter between half and all of it', () => {
  const options = { initialMs: 100, maxMs: 1000 };
  assert.deepEqual(
    [1, 2, 3, 4, 5].map((attempt) => retryDelayMs(attempt, options, () => 1)),
    [100, 200, 400, 800, 1000],
  );
  assert.equal(
    retryDelayMs(3, options, () => 0),
    200,
  );
});
