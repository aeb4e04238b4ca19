/**
 * The migration pre-flight on a real primary: pending migrations are linted by their phase, and
 * with ship setting lock_timeout itself the files need not.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { validateConfig, type LoadedConfig } from '../../src/config/load.js';
import { EventBus } from '../../src/events.js';
import { databaseChecks } from '../../src/preflight/database-checks.js';
import { startPostgres, type PostgresFleet } from '../fleet/postgres.js';

let db: PostgresFleet;
let work: string;
let loaded: LoadedConfig;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ship-phases-'));
  db = await startPostgres({ replica: false });
  const client = new pg.Client({ connectionString: db.primaryUrl });
  await client.connect();
  await client.query(`create table schema_migrations (version varchar(128) primary key);
    create table accounts (id bigint primary key, name text, email text);
    insert into schema_migrations values ('1');`);
  await client.end();
  await writeFile(join(work, 'V1__accounts.sql'), 'create table accounts (id bigint primary key, name text, email text);\n');
  // No lock_timeout of its own: only ship's keeps it from queueing every query on accounts behind it.
  await writeFile(join(work, 'V2__nickname.sql'), 'alter table accounts add column nickname text;\n');
  await writeFile(join(work, 'V3__drop_email.sql'), "-- ship:phase contract\nset lock_timeout = '2s';\nalter table accounts drop column email;\n");
  const file = join(work, 'ship.config.ts');
  const config = {
    app: 'phases',
    hosts: [{ name: 'web1', address: '127.0.0.1' }],
    loadBalancer: { type: 'none' },
    health: { tcp: { port: 8080 } },
    database: { primary: db.primaryUrl, versionTable: 'schema_migrations', connectTimeout: '2s', migrations: { dir: work } },
  };
  loaded = { ...validateConfig(config, file), file, dir: work };
});

after(async () => {
  await db?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

async function runChecks(lockTimeoutPreset: boolean | undefined): Promise<string[]> {
  const checks = databaseChecks({ loaded, bus: new EventBus('t'), instances: 1, batchSize: 1, ...(lockTimeoutPreset === undefined ? {} : { lockTimeoutPreset }) });
  const outcomes: string[] = [];
  for (const check of checks.checks) {
    outcomes.push(
      await check.run().then(
        (detail) => `${check.name}: ${detail ?? 'ok'}`,
        (error: Error) => `${check.name} refused: ${error.message}`,
      ),
    );
  }
  return outcomes;
}

test('without lockTimeoutPreset the expand file must set lock_timeout; the contract file may drop a column', async () => {
  const [database, migrations] = await runChecks(undefined);
  assert.match(database ?? '', /^database: schema 1; 2 pending migration/);
  assert.match(migrations ?? '', /^migrations refused: 1 pending migration finding/);
  assert.match(migrations ?? '', /V2__nickname\.sql:1:1 require-lock-timeout/);
  assert.doesNotMatch(migrations ?? '', /drop-column/);
});

test('with lockTimeoutPreset (ship applies the files and sets lock_timeout) both pass', async () => {
  const [, migrations] = await runChecks(true);
  assert.match(migrations ?? '', /^migrations: 2 pending migration\(s\) linted, 0 warning/);
});

test('a deploy that applies the files checks that its role can record them: a role without INSERT on the version table is refused, naming both', async () => {
  const admin = new pg.Client({ connectionString: db.primaryAdminUrl });
  await admin.connect();
  try {
    await admin.query(`do $$ begin if not exists (select from pg_roles where rolname = 'reader') then create role reader login password 'reader-pw-123'; end if; end $$;
      grant select on schema_migrations, accounts to reader;`);
  } finally {
    await admin.end();
  }
  const url = new URL(db.primaryUrl);
  url.username = 'reader';
  url.password = 'reader-pw-123';
  const migrate = (primary: string): LoadedConfig => {
    const config = {
      ...loaded.config,
      database: { ...loaded.config.database!, primary, migrate: { run: 'ship' as const, lockTimeout: 2000, statementTimeout: 0, retries: 5, waitForReplicas: 60_000 } },
    };
    return { ...loaded, config };
  };
  const outcomes = async (config: LoadedConfig) => {
    const { checks } = databaseChecks({ loaded: config, bus: new EventBus('t'), instances: 1, batchSize: 1, migrating: true, lockTimeoutPreset: true });
    const results: string[] = [];
    for (const check of checks)
      results.push(
        await check.run().then(
          (detail) => `${check.name}: ${detail ?? 'ok'}`,
          (error: Error) => `${check.name} refused: ${error.message}`,
        ),
      );
    return results;
  };
  const refused = (await outcomes(migrate(url.toString()))).find((line) => line.startsWith('migration role'));
  assert.match(refused ?? '', /^migration role refused: ship cannot record the migrations it applies:\n.*"reader".*schema_migrations/s);
  assert.ok(!refused?.includes('reader-pw-123'), refused);
  const allowed = (await outcomes(migrate(db.primaryUrl))).find((line) => line.startsWith('migration role'));
  assert.match(allowed ?? '', /^migration role: can write schema_migrations .* and take its lock$/);
});
