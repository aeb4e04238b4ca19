/**
 * Each layout's version table on a real PostgreSQL: created and written as the tool itself does
 * (so the team can still run its tool by hand after ship applied a migration), then read back
 * for the replica gate as the tool reads it, found without configuration.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { discoverMigrations } from '../../src/migrations/discovery.js';
import { LAYOUTS } from '../../src/migrations/layouts/registry.js';
import type { LayoutId, MigrationFile } from '../../src/migrations/migration-file.js';
import { changedAppliedFiles, pendingVersions, readAppliedVersions, type VersionSource } from '../../src/preflight/database/applied-versions.js';
import { checkDatabase } from '../../src/preflight/database/preflight.js';
import { startPostgres, type PostgresFleet } from '../fleet/postgres.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/layouts');
const FIXTURE_DIRS: Record<LayoutId, string> = {
  prisma: 'prisma/prisma/migrations',
  drizzle: 'drizzle/drizzle',
  diesel: 'diesel/migrations',
  sqlx: 'sqlx/migrations',
  goose: 'goose/db/migrations',
};

let fleet: PostgresFleet;
let databases = 0;

before(async () => {
  fleet = await startPostgres({ replica: false });
});

after(async () => {
  await fleet?.stop();
});

/** A database of its own, owned by the app role, so each tool's table is the only one there. */
async function withDatabase(body: (client: pg.Client, url: string) => Promise<void>): Promise<void> {
  const name = `layouts_${++databases}`;
  const admin = new pg.Client({ connectionString: fleet.primaryAdminUrl });
  await admin.connect();
  await admin.query(`create database ${name} owner ship`);
  await admin.end();
  const url = new URL(fleet.primaryUrl);
  url.pathname = `/${name}`;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await body(client, url.toString());
  } finally {
    await client.end();
  }
}

async function fixture(layout: LayoutId): Promise<MigrationFile[]> {
  const discovery = await discoverMigrations(join(FIXTURES, FIXTURE_DIRS[layout]));
  assert.equal(discovery.layout, layout);
  return [...discovery.migrations];
}

/** What ship's applier does around each migration: ensure the table, then mark and record in the migration's transaction. */
async function recordAll(client: pg.Client, layout: LayoutId, migrations: readonly MigrationFile[]): Promise<void> {
  const adapter = LAYOUTS[layout].versionTable.adapter();
  await adapter.ensure(client);
  await adapter.ensure(client);
  for (const migration of migrations) {
    await client.query('begin');
    await adapter.markStarted?.(client, migration);
    await adapter.recordApplied(client, migration, { executionMs: 12.5 });
    await client.query('commit');
  }
}

const where = { databaseUrl: 'postgres://ship@db.internal/app', role: 'primary' };
const read = (client: pg.Client, source: VersionSource = {}) => readAppliedVersions(client, source, where);
const sha = (algorithm: string, path: string) => createHash(algorithm).update(readFileSync(path)).digest('hex');

async function columns(client: pg.Client, schema: string, table: string): Promise<string[]> {
  const { rows } = await client.query<{ column: string }>(
    `select column_name || ' ' || data_type || case when is_nullable = 'NO' then ' not null' else '' end as column
       from information_schema.columns where table_schema = $1 and table_name = $2 order by ordinal_position`,
    [schema, table],
  );
  return rows.map((row) => row.column);
}

describe('version tables written as each tool writes them and read as it reads them', () => {
  test('Prisma: one row per migration, started then finished, SHA-256 of the file; a failed row is dirty, a rolled-back one not applied', async () => {
    await withDatabase(async (client) => {
      const migrations = await fixture('prisma');
      await recordAll(client, 'prisma', migrations);
      assert.deepEqual(await columns(client, 'public', '_prisma_migrations'), [
        'id character varying not null',
        'checksum character varying not null',
        'finished_at timestamp with time zone',
        'migration_name character varying not null',
        'logs text',
        'rolled_back_at timestamp with time zone',
        'started_at timestamp with time zone not null',
        'applied_steps_count integer not null',
      ]);
      const { rows } = await client.query(
        `select id, checksum, migration_name, logs, rolled_back_at, applied_steps_count, finished_at >= started_at as finished from _prisma_migrations order by started_at`,
      );
      assert.equal(rows.length, 4);
      assert.match(rows[0].id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.deepEqual(
        rows.map((row) => [row.migration_name, row.checksum, row.logs, row.rolled_back_at, row.applied_steps_count, row.finished]),
        migrations.map((m) => [m.version, sha('sha256', m.path), null, null, 1, true]),
      );

      const applied = await read(client);
      assert.equal(applied.source, '_prisma_migrations (Prisma)');
      assert.deepEqual(applied.versions, ['20240105093000_init', '20240112150000_add_post', '20240112150000_add_post_published_index', '20240120101500_drop_user_name']);
      assert.deepEqual(pendingVersions([...migrations.map((m) => m.version), '20240201000000_next'], applied), ['20240201000000_next']);

      // As `prisma migrate resolve --rolled-back` leaves a migration: not applied, nothing dirty.
      await client.query(`update _prisma_migrations set rolled_back_at = now() where migration_name = '20240120101500_drop_user_name'`);
      const rolledBack = await read(client);
      assert.equal(rolledBack.versions.length, 3);
      assert.equal(rolledBack.dirty, false);
      // As Prisma leaves a migration that failed: started, never finished.
      await client.query(`insert into _prisma_migrations (id, checksum, migration_name, logs) values (gen_random_uuid(), 'x', '20240201000000_next', 'ERROR: ...')`);
      const failed = await read(client);
      assert.equal(failed.dirty, true);
      assert.match(failed.repair ?? '', /20240201000000_next failed halfway: .*prisma migrate resolve --rolled-back 20240201000000_next/);
    });
  });

  test("Drizzle: its own schema, the file's SHA-256 and the journal's when; applied is everything up to the last created_at, as drizzle decides", async () => {
    await withDatabase(async (client) => {
      const migrations = await fixture('drizzle');
      await recordAll(client, 'drizzle', migrations);
      assert.deepEqual(await columns(client, 'drizzle', '__drizzle_migrations'), ['id integer not null', 'hash text not null', 'created_at bigint']);
      const { rows } = await client.query(`select id, hash, created_at from drizzle.__drizzle_migrations order by id`);
      assert.deepEqual(
        rows.map((row) => [row.id, row.hash, row.created_at]),
        migrations.map((m, index) => [index + 1, sha('sha256', m.path), m.version]),
      );
      const applied = await read(client);
      assert.equal(applied.source, 'drizzle.__drizzle_migrations (Drizzle)');
      assert.equal(applied.semantics, 'up-to');
      assert.equal(applied.latest, '1717516800000');
      // A journal entry older than the last row counts as applied even if it never ran: drizzle would skip it too.
      assert.deepEqual(pendingVersions(['1717171200000', '1717300000000', '1717516800000', '1717600000000'], applied), ['1717600000000']);
    });
  });

  test('Diesel: the version as Diesel stores it, run_on by default', async () => {
    await withDatabase(async (client) => {
      const migrations = await fixture('diesel');
      await recordAll(client, 'diesel', migrations);
      assert.deepEqual(await columns(client, 'public', '__diesel_schema_migrations'), ['version character varying not null', 'run_on timestamp without time zone not null']);
      const { rows } = await client.query(`select version, run_on is not null as run from __diesel_schema_migrations order by version`);
      assert.deepEqual(
        rows.map((row) => [row.version, row.run]),
        migrations.map((m) => [m.version, true]),
      );
      const applied = await read(client);
      assert.equal(applied.source, '__diesel_schema_migrations (Diesel)');
      assert.deepEqual(pendingVersions([...migrations.map((m) => m.version), '20240401000000'], applied), ['20240401000000']);
    });
  });

  test('sqlx: SHA-384 as bytea, the description from the name, execution time in nanoseconds; a changed applied file is a problem naming it', async () => {
    await withDatabase(async (client) => {
      const migrations = await fixture('sqlx');
      await recordAll(client, 'sqlx', migrations);
      assert.deepEqual(await columns(client, 'public', '_sqlx_migrations'), [
        'version bigint not null',
        'description text not null',
        'installed_on timestamp with time zone not null',
        'success boolean not null',
        'checksum bytea not null',
        'execution_time bigint not null',
      ]);
      const { rows } = await client.query(
        `select version::text, description, success, encode(checksum, 'hex') as checksum, execution_time::int from _sqlx_migrations order by version`,
      );
      assert.deepEqual(rows[0], {
        version: '20240301120000',
        description: 'create accounts',
        success: true,
        checksum: sha('sha384', migrations[0]!.path),
        execution_time: 12_500_000,
      });
      const applied = await read(client);
      assert.equal(applied.source, '_sqlx_migrations (sqlx)');
      assert.deepEqual(
        pendingVersions(
          migrations.map((m) => m.version),
          applied,
        ),
        [],
      );
      assert.deepEqual(changedAppliedFiles(applied, migrations), []);

      const edited = { ...migrations[2]!, checksum: createHash('sha384').update('alter table accounts alter column plan drop not null;').digest('hex') };
      const problems = changedAppliedFiles(applied, [migrations[0]!, edited]);
      assert.equal(problems.length, 1);
      assert.match(problems[0]!, /20240402110000_require_account_plan\.sql changed after it was applied: .*_sqlx_migrations \(sqlx\)/);

      // As sqlx leaves a migration that failed on a database without transactional DDL.
      await client.query(`insert into _sqlx_migrations (version, description, success, checksum, execution_time) values (20240501000000, 'half', false, '\\x00', -1)`);
      const dirty = await read(client);
      assert.equal(dirty.dirty, true);
      assert.match(dirty.repair ?? '', /20240501000000 failed halfway: .*delete its row from _sqlx_migrations/);
    });
  });

  test('sqlx: the database pre-flight refuses a changed applied file, naming it', async () => {
    await withDatabase(async (client, url) => {
      const migrations = await fixture('sqlx');
      await recordAll(client, 'sqlx', migrations);
      const edited = migrations.map((m, index) => (index === 1 ? { ...m, checksum: 'ff'.repeat(48) } : m));
      const result = await checkDatabase({ primaryUrl: url, onDiskVersions: migrations.map((m) => m.version), onDiskChecksums: edited, versionSource: { layout: 'sqlx' } });
      assert.equal(result.ok, false);
      assert.equal(result.problems.length, 1);
      assert.match(result.problems[0]!, /^primary .*: .*20240315083000_index_accounts_email\.sql changed after it was applied/);
    });
  });

  test('goose: the table with its version 0 row, one row per migration; applied is the newest row per version, as goose reads it', async () => {
    await withDatabase(async (client) => {
      const migrations = await fixture('goose');
      await recordAll(client, 'goose', migrations);
      assert.deepEqual(await columns(client, 'public', 'goose_db_version'), [
        'id integer not null',
        'version_id bigint not null',
        'is_applied boolean not null',
        'tstamp timestamp without time zone not null',
      ]);
      const { rows } = await client.query(`select version_id::int, is_applied from goose_db_version order by id`);
      assert.deepEqual(
        rows.map((row) => [row.version_id, row.is_applied]),
        [
          [0, true],
          [1, true],
          [3, true],
          [4, true],
        ],
      );
      const applied = await read(client);
      assert.equal(applied.source, 'goose_db_version (goose)');
      assert.deepEqual(applied.versions, ['1', '3', '4']);
      assert.deepEqual(pendingVersions(['00001', '00003', '00004', '00005'], applied), ['00005']);
      // Older goose records a rollback as a newer row saying not applied.
      await client.query(`insert into goose_db_version (version_id, is_applied) values (4, false)`);
      assert.deepEqual(pendingVersions(['00001', '00003', '00004'], await read(client)), ['00004']);
    });
  });
});

describe('the version table is found without configuration', () => {
  test("each tool's table under its own name; under another name, by its columns", async () => {
    await withDatabase(async (client) => {
      await recordAll(client, 'goose', await fixture('goose'));
      assert.equal((await read(client)).source, 'goose_db_version (goose)');
      await client.query('alter table goose_db_version rename to eventlog_versions');
      const renamed = await read(client, { versionTable: 'eventlog_versions' });
      assert.equal(renamed.source, 'eventlog_versions (goose)');
      assert.deepEqual(renamed.versions, ['1', '3', '4']);
    });
  });

  test("the tool found on disk is looked for first, before another tool's leftover table", async () => {
    await withDatabase(async (client) => {
      // A database that moved from dbmate to Prisma keeps dbmate's table.
      await client.query(`create table schema_migrations (version varchar(128) primary key); insert into schema_migrations values ('20230101000000')`);
      await recordAll(client, 'prisma', await fixture('prisma'));
      assert.equal((await read(client)).source, 'schema_migrations (one row per version)');
      const prisma = await read(client, { layout: 'prisma' });
      assert.equal(prisma.source, '_prisma_migrations (Prisma)');
      assert.equal(prisma.versions.length, 4);
    });
  });

  test('a Flyway table is not mistaken for sqlx, which shares most of its columns', async () => {
    await withDatabase(async (client) => {
      await client.query(
        `create table flyway_schema_history (installed_rank int primary key, version varchar(50), description varchar(200), type varchar(20), script varchar(1000),
           checksum int, installed_by varchar(100), installed_on timestamp default now(), execution_time int, success boolean not null)`,
      );
      await client.query(`insert into flyway_schema_history (installed_rank, version, script, success) values (1, '1', 'V1__init.sql', true)`);
      assert.equal((await read(client)).source, 'flyway_schema_history (Flyway)');
    });
  });
});
