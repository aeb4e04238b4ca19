/**
 * ship records the migrations it applies in each tool's version table, row for row as the tool
 * would, so the team can still run its tool by hand afterwards; and `ship check` can tell whether
 * the role may do so. Real PostgreSQL, one fresh database per test.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { applyMigrations, type ApplyOptions } from '../../src/migrations/apply/apply.js';
import { MigrationFailedError } from '../../src/migrations/apply/errors.js';
import type { MigrationFile } from '../../src/migrations/discovery.js';
import { versionTableFor } from '../../src/migrations/layouts/registry.js';
import type { VersionTableAdapter } from '../../src/migrations/layouts/version-table.js';
import { VersionTableError } from '../../src/migrations/layouts/version-table-error.js';
import { checkMigrationPrivileges } from '../../src/migrations/privileges.js';
import { readAppliedVersions } from '../../src/preflight/database/applied-versions.js';
import { startPostgres, type PostgresFleet } from '../fleet/postgres.js';
import { flywayReferenceChecksum, freshDatabase, migrationFiles, removeMigrationFiles, session, sql } from '../support/migration-files.js';

let fleet: PostgresFleet;

before(async () => {
  fleet = await startPostgres({ replica: false });
});

const clients: pg.Client[] = [];

after(async () => {
  await Promise.all(clients.map((client) => client.end().catch(() => undefined)));
  await removeMigrationFiles();
  await fleet?.stop();
});

/** A connection the test keeps open; closed before the server stops. */
async function connected(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  clients.push(client);
  return client;
}

function apply(url: string, migrations: readonly MigrationFile[], versionTable: VersionTableAdapter, overrides: Partial<ApplyOptions> = {}) {
  return applyMigrations({ databaseUrl: url, migrations, versionTable, lockTimeoutMs: 2000, statementTimeoutMs: 0, retries: 0, ...overrides });
}

async function appliedAccordingToPreflight(url: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await readAppliedVersions(client, {}, { databaseUrl: url, role: 'primary' });
  } finally {
    await client.end();
  }
}

test("Flyway: flyway_schema_history is created as Flyway creates it, and each row is Flyway's own, checksum included", async () => {
  const db = await freshDatabase(fleet);
  const texts = {
    'V1__create_users.sql': '\uFEFF-- the users\r\nCREATE TABLE users (id int PRIMARY KEY);\r\n',
    'V1_1__add_email_to_users.sql': "ALTER TABLE users ADD COLUMN email text;\nCOMMENT ON COLUMN users.email IS 'adresse élue';\n",
  };
  const migrations = await migrationFiles(texts);
  await apply(db.url, migrations, versionTableFor('flyway'));

  const columns = await sql(
    db.url,
    `select column_name, data_type, character_maximum_length as width, is_nullable, column_default
       from information_schema.columns where table_name = 'flyway_schema_history' order by ordinal_position`,
  );
  assert.deepEqual(
    columns.map((c) => [c.column_name, c.data_type, c.width, c.is_nullable, c.column_default]),
    [
      ['installed_rank', 'integer', null, 'NO', null],
      ['version', 'character varying', 50, 'YES', null],
      ['description', 'character varying', 200, 'NO', null],
      ['type', 'character varying', 20, 'NO', null],
      ['script', 'character varying', 1000, 'NO', null],
      ['checksum', 'integer', null, 'YES', null],
      ['installed_by', 'character varying', 100, 'NO', null],
      ['installed_on', 'timestamp without time zone', null, 'NO', 'now()'],
      ['execution_time', 'integer', null, 'NO', null],
      ['success', 'boolean', null, 'NO', null],
    ],
  );
  const indexes = await sql(db.url, `select indexname, indexdef from pg_indexes where tablename = 'flyway_schema_history' order by indexname`);
  assert.deepEqual(
    indexes.map((i) => i.indexname),
    ['flyway_schema_history_pk', 'flyway_schema_history_s_idx'],
  );
  assert.match(indexes[0].indexdef, /UNIQUE INDEX .* \(installed_rank\)/);

  const rows = await sql(db.url, 'select * from flyway_schema_history order by installed_rank');
  assert.deepEqual(
    rows.map((r) => [r.installed_rank, r.version, r.description, r.type, r.script, r.checksum, r.installed_by, r.success]),
    [
      [1, '1', 'create users', 'SQL', 'V1__create_users.sql', flywayReferenceChecksum(texts['V1__create_users.sql']), 'ship', true],
      [2, '1.1', 'add email to users', 'SQL', 'V1_1__add_email_to_users.sql', flywayReferenceChecksum(texts['V1_1__add_email_to_users.sql']), 'ship', true],
    ],
  );
  for (const row of rows) {
    assert.ok(Number.isInteger(row.execution_time) && row.execution_time >= 0 && row.execution_time < 60_000);
    assert.ok(row.installed_on instanceof Date);
  }
  // The file with a BOM and CRLF line ends has the checksum of the same lines without them.
  assert.equal(rows[0].checksum, flywayReferenceChecksum('-- the users\nCREATE TABLE users (id int PRIMARY KEY);\n'));

  // A later run ranks after the highest rank, and the pre-flight reads the history as Flyway's.
  await apply(db.url, await migrationFiles({ 'V2__drop_nothing.sql': 'SELECT 1;' }), versionTableFor('flyway'));
  assert.deepEqual(
    (await sql(db.url, 'select installed_rank from flyway_schema_history order by 1')).map((r) => r.installed_rank),
    [1, 2, 3],
  );
  assert.deepEqual((await appliedAccordingToPreflight(db.url)).versions, ['1', '1.1', '2']);
});

test('Flyway in a schema of its own: the schema is created and noted in a first row, as Flyway does', async () => {
  const db = await freshDatabase(fleet);
  await apply(db.url, await migrationFiles({ 'V1__t.sql': 'CREATE TABLE t (id int);' }), versionTableFor('flyway', { versionTable: 'history.flyway_schema_history' }));
  const rows = await sql(db.url, 'select installed_rank, version, description, type, script from history.flyway_schema_history order by installed_rank');
  assert.deepEqual(
    rows.map((r) => [r.installed_rank, r.version, r.description, r.type, r.script]),
    [
      [1, null, '<< Flyway Schema Creation >>', 'SCHEMA', '"history"'],
      [2, '1', 't', 'SQL', 'V1__t.sql'],
    ],
  );
});

test('golang-migrate: the version is dirty while its file runs, clean after, and left dirty when the file fails', async () => {
  const db = await freshDatabase(fleet);
  const adapter = versionTableFor('golang-migrate');
  const migrations = await migrationFiles({
    '1_create.up.sql': 'CREATE TABLE g (id int);',
    '2_wait.up.sql': 'SELECT pg_advisory_xact_lock(4242);\nINSERT INTO g VALUES (2);',
    '3_broken.up.sql': 'INSERT INTO g VALUES (3);\nINSERT INTO missing_table VALUES (1);\n',
  });
  const gate = await session(db.url);
  await gate.query('select pg_advisory_lock(4242)');
  // lock_timeout off: file 2 waits at the gate for as long as the test holds it.
  const applying = apply(db.url, migrations.slice(0, 2), adapter, { lockTimeoutMs: 0 });
  try {
    const deadline = Date.now() + 10_000;
    let seen: unknown[] = [];
    while (Date.now() < deadline) {
      // Until ship has created the table, there is nothing to see.
      const table = await sql(db.url, `select to_regclass('schema_migrations') is not null as exists`);
      if (table[0].exists) seen = (await sql(db.url, 'select version::text, dirty from schema_migrations')).map((r) => [r.version, r.dirty]);
      if (JSON.stringify(seen) === JSON.stringify([['2', true]])) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.deepEqual(seen, [['2', true]], 'while file 2 runs, another session sees version 2 dirty');
  } finally {
    await gate.query('select pg_advisory_unlock(4242)');
    await gate.end();
  }
  await applying;
  assert.deepEqual(
    (await sql(db.url, 'select version::text, dirty from schema_migrations')).map((r) => [r.version, r.dirty]),
    [['2', false]],
  );
  const columns = await sql(db.url, `select column_name, data_type, is_nullable from information_schema.columns where table_name = 'schema_migrations' order by ordinal_position`);
  assert.deepEqual(
    columns.map((c) => [c.column_name, c.data_type, c.is_nullable]),
    [
      ['version', 'bigint', 'NO'],
      ['dirty', 'boolean', 'NO'],
    ],
  );

  await assert.rejects(apply(db.url, migrations.slice(2), adapter), (error: Error) => {
    assert.ok(error instanceof MigrationFailedError);
    assert.match(error.message, /3_broken\.up\.sql:2: relation "missing_table" does not exist \(SQLSTATE 42P01\)/);
    assert.match(error.message, /schema_migrations keeps the mark golang-migrate leaves after a failed run/);
    return true;
  });
  assert.deepEqual(
    (await sql(db.url, 'select version::text, dirty from schema_migrations')).map((r) => [r.version, r.dirty]),
    [['3', true]],
    'left dirty, exactly as migrate leaves it',
  );
  assert.deepEqual(
    (await sql(db.url, 'select id from g order by id')).map((r) => r.id),
    [2],
    "the failed file's first insert was rolled back",
  );
  const applied = await appliedAccordingToPreflight(db.url);
  assert.equal(applied.dirty, true);
});

test('dbmate: one row per file in schema_migrations; the down section never runs; transaction:false files work', async () => {
  const db = await freshDatabase(fleet);
  await apply(
    db.url,
    await migrationFiles({
      '20240101000000_create.sql': '-- migrate:up\nCREATE TABLE d (id int);\n\n-- migrate:down\nDROP TABLE d;\n',
      '20240102000000_index.sql': '-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY d_id ON d (id);\n\n-- migrate:down\nDROP INDEX d_id;\n',
    }),
    versionTableFor('dbmate'),
  );
  assert.deepEqual(
    (await sql(db.url, 'select version from schema_migrations order by version')).map((r) => r.version),
    ['20240101000000', '20240102000000'],
  );
  const [column] = await sql(db.url, `select data_type, character_maximum_length as width from information_schema.columns where table_name = 'schema_migrations'`);
  assert.deepEqual([column.data_type, column.width], ['character varying', 128]);
  const [index] = await sql(db.url, `select i.indisvalid from pg_index i where i.indexrelid = 'd_id'::regclass`);
  assert.equal(index.indisvalid, true);
});

test('numbered files are recorded in the shape of the table the team has, read from its columns', async () => {
  const files = { '001_create.sql': 'CREATE TABLE n (id int);', '002_fill.sql': 'INSERT INTO n VALUES (1);' };

  const perVersion = await freshDatabase(fleet);
  await sql(perVersion.url, 'create table schema_migrations (version varchar(255) primary key, applied_at timestamptz not null default now())');
  await apply(perVersion.url, await migrationFiles(files), versionTableFor('numbered'));
  assert.deepEqual(
    (await sql(perVersion.url, 'select version from schema_migrations order by version')).map((r) => r.version),
    ['001', '002'],
  );

  const singleRow = await freshDatabase(fleet);
  await sql(singleRow.url, 'create table schema_migrations (version bigint not null primary key, dirty boolean not null)');
  await apply(singleRow.url, await migrationFiles(files), versionTableFor('numbered'));
  assert.deepEqual(
    (await sql(singleRow.url, 'select version::text, dirty from schema_migrations')).map((r) => [r.version, r.dirty]),
    [['2', false]],
  );

  const history = await freshDatabase(fleet);
  await versionTableFor('flyway').ensure(await connected(history.url));
  await apply(history.url, await migrationFiles(files), versionTableFor('numbered', { versionTable: 'flyway_schema_history' }));
  assert.deepEqual(
    (await sql(history.url, 'select installed_rank, version, description, script from flyway_schema_history order by 1')).map((r) => [
      r.installed_rank,
      r.version,
      r.description,
      r.script,
    ]),
    [
      [1, '001', 'create', '001_create.sql'],
      [2, '002', 'fill', '002_fill.sql'],
    ],
  );
});

test('numbered files with no table to record in, or only a versionQuery, are refused before anything runs', async () => {
  assert.throws(
    () => versionTableFor('numbered', { versionQuery: 'select v from my_versions' }),
    (error: Error) => error instanceof VersionTableError && /versionQuery tells ship how to read the applied versions, not how to record one/.test(error.message),
  );
  assert.throws(() => versionTableFor('liquibase'), /ship cannot record migrations of layout "liquibase"/);

  const db = await freshDatabase(fleet);
  await assert.rejects(apply(db.url, await migrationFiles({ '001_create.sql': 'CREATE TABLE n (id int);' }), versionTableFor('numbered')), (error: Error) => {
    assert.ok(error instanceof VersionTableError);
    assert.equal(error.shipCode.code, 'SHIP-E043');
    assert.match(
      error.message,
      new RegExp(`primary 127\\.0\\.0\\.1:${fleet.primaryPort}/${db.name}: the version table "schema_migrations" or "flyway_schema_history" does not exist`),
    );
    assert.ok(!error.message.includes(fleet.password));
    return true;
  });
  assert.deepEqual(await sql(db.url, `select 1 from pg_class where relname = 'n'`), [], 'nothing was applied');
});

test('ship check: a role that may read but not write the version table is told what it lacks, naming the table and the role', async () => {
  const db = await freshDatabase(fleet);
  const password = 'reader-password-0123';
  await sql(
    fleet.primaryAdminUrl,
    `do $$ begin if not exists (select from pg_roles where rolname = 'reader') then create role reader login password '${password}'; end if; end $$`,
  );
  const adapter = versionTableFor('dbmate');
  const owner = await connected(db.url);
  await adapter.ensure(owner);
  assert.deepEqual(await checkMigrationPrivileges(owner, adapter), [], 'the owner may do everything');

  await sql(db.adminUrl, 'grant select on schema_migrations to reader');
  const readerUrl = db.url.replace(/\/\/ship:[^@]*@/, `//reader:${password}@`);
  const reader = await connected(readerUrl);
  const problems = await checkMigrationPrivileges(reader, adapter);
  assert.equal(problems.length, 2, problems.join('\n'));
  assert.match(
    problems[0]!,
    /role "reader" cannot record migrations in the version table schema_migrations \(dbmate\) on database "apply_\d+_\d+": it lacks INSERT; GRANT INSERT ON "public"."schema_migrations" TO "reader"/,
  );
  assert.match(problems[1]!, /role "reader" cannot lock the version table schema_migrations \(dbmate\).*permission denied/);

  // A table that does not exist yet: the role must be able to create it.
  const missing = await checkMigrationPrivileges(reader, versionTableFor('golang-migrate', { versionTable: 'migrate_versions' }));
  assert.equal(missing.length, 1);
  assert.match(missing[0]!, /role "reader" cannot create the version table migrate_versions \(golang-migrate\): it lacks CREATE on schema "public"/);

  await sql(db.adminUrl, 'grant insert, update on schema_migrations to reader');
  assert.deepEqual(await checkMigrationPrivileges(reader, adapter), []);

  // The lock is tried without waiting: a session holding a conflicting lock is reported, not waited for.
  const holder = await session(db.adminUrl);
  await holder.query('begin');
  await holder.query('lock table schema_migrations in access exclusive mode');
  try {
    const busy = await checkMigrationPrivileges(owner, adapter);
    assert.equal(busy.length, 1);
    assert.match(busy[0]!, /could not lock the version table schema_migrations \(dbmate\) on database "apply_\d+_\d+" right now: another session holds a conflicting lock/);
  } finally {
    await holder.query('rollback');
    await holder.end();
  }
});
