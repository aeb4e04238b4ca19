/**
 * ship applies pending migrations on a real primary: one transaction per file unless the file
 * cannot run in one, failures reported with file, line and the server's words, lock_timeout on
 * every statement so no migration queues the application's queries behind it, and retries with
 * backoff that name the blocking session when they run out.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { applyMigrations, type ApplyOptions, type MigrationProgress } from '../../src/migrations/apply/apply.js';
import { MigrationAbortedError, MigrationFailedError, MigrationLockTimeoutError } from '../../src/migrations/apply/errors.js';
import type { MigrationFile } from '../../src/migrations/discovery.js';
import { versionTableFor } from '../../src/migrations/layouts/registry.js';
import { startPostgres, type PostgresFleet } from '../fleet/postgres.js';
import { freshDatabase, migrationFiles, removeMigrationFiles, session, sql } from '../support/migration-files.js';

let fleet: PostgresFleet;

before(async () => {
  fleet = await startPostgres({ replica: false });
});

after(async () => {
  await removeMigrationFiles();
  await fleet?.stop();
});

function apply(url: string, migrations: readonly MigrationFile[], overrides: Partial<ApplyOptions> = {}) {
  return applyMigrations({
    databaseUrl: url,
    migrations,
    versionTable: versionTableFor('dbmate'),
    lockTimeoutMs: 2000,
    statementTimeoutMs: 0,
    retries: 0,
    backoff: { initialMs: 50, maxMs: 200 },
    ...overrides,
  });
}

async function recorded(url: string): Promise<string[]> {
  return (await sql(url, 'select version from schema_migrations order by version')).map((row) => row.version);
}

async function tableExists(url: string, name: string): Promise<boolean> {
  return (await sql(url, 'select to_regclass($1) is not null as found', [name]))[0].found;
}

test('a failing statement is reported with file, line, the server message and SQLSTATE; its file is rolled back and unrecorded, later files do not run', async () => {
  const db = await freshDatabase(fleet);
  const migrations = await migrationFiles({
    '001_accounts.sql': 'CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL);',
    '002_broken.sql': 'CREATE TABLE audit (id int);\n\nINSERT INTO accounts (id, balance)\nVALUES (1,\n        no_such_column);\n',
    '003_later.sql': 'CREATE TABLE later (id int);',
  });
  const progress: MigrationProgress[] = [];
  await assert.rejects(apply(db.url, migrations, { onProgress: (event) => progress.push(event) }), (error: Error) => {
    assert.ok(error instanceof MigrationFailedError);
    assert.equal(error.shipCode.code, 'SHIP-E040');
    // The server's position inside the statement puts the error on the line of the bad column.
    assert.match(error.message, /002_broken\.sql:5: column "no_such_column" does not exist \(SQLSTATE 42703\)/);
    assert.match(error.message, new RegExp(`on primary 127\\.0\\.0\\.1:${fleet.primaryPort}/${db.name}`));
    assert.match(error.message, /its transaction was rolled back: nothing of it is applied, it is not recorded in schema_migrations; no later migration was applied/);
    assert.ok(!error.message.includes(fleet.password));
    assert.deepEqual([error.place.line, error.place.sqlState], [5, '42703']);
    return true;
  });
  assert.deepEqual(await recorded(db.url), ['001']);
  assert.equal(await tableExists(db.url, 'audit'), false, 'the statement before the failing one was rolled back with it');
  assert.equal(await tableExists(db.url, 'later'), false);
  assert.deepEqual(
    progress.map((event) => `${event.type} ${event.migration.version}`),
    ['started 001', 'applied 001', 'started 002', 'failed 002'],
  );
});

test('CREATE INDEX CONCURRENTLY runs outside a transaction and the file is recorded after it; a later failure in such a file keeps what ran before', async () => {
  const db = await freshDatabase(fleet);
  await sql(db.url, 'create table items (id int, sku text)');
  const [cic, broken] = await migrationFiles({
    '001_index.sql': '-- no BEGIN here: CONCURRENTLY refuses one\nCREATE INDEX CONCURRENTLY items_sku ON items (sku);\nCREATE TABLE item_notes (id int);\n',
    '002_half.sql': 'CREATE TABLE first_half (id int);\nCREATE INDEX CONCURRENTLY items_id ON items (id);\nSELECT 1/0;\n',
  });
  const progress: MigrationProgress[] = [];
  await apply(db.url, [cic!], { onProgress: (event) => progress.push(event) });
  assert.match((progress[0] as { outsideTransaction?: string }).outsideTransaction ?? '', /CREATE INDEX CONCURRENTLY at line 2 cannot run inside a transaction block/);
  assert.deepEqual(await sql(db.url, `select indisvalid from pg_index where indexrelid = 'items_sku'::regclass`), [{ indisvalid: true }]);
  assert.deepEqual(await recorded(db.url), ['001']);

  await assert.rejects(apply(db.url, [broken!]), (error: Error) => {
    assert.match(error.message, /002_half\.sql:3: division by zero \(SQLSTATE 22012\)/);
    assert.match(error.message, /it runs outside a transaction \(CREATE INDEX CONCURRENTLY at line 2 .*\), so the statements before this one stay applied; it is not recorded/);
    return true;
  });
  assert.equal(await tableExists(db.url, 'first_half'), true);
  assert.deepEqual(await recorded(db.url), ['001']);
});

test("a file's own BEGIN ... COMMIT runs as written", async () => {
  const db = await freshDatabase(fleet);
  await apply(db.url, await migrationFiles({ '001_own.sql': 'BEGIN;\nCREATE TABLE own (id int);\nINSERT INTO own VALUES (1);\nCOMMIT;\n' }));
  assert.deepEqual(await sql(db.url, 'select id from own'), [{ id: 1 }]);
  assert.deepEqual(await recorded(db.url), ['001']);
});

test("lock_timeout and statement_timeout hold for every file's statements; a file's own SET wins after it, and the next file starts from ship's again", async () => {
  const db = await freshDatabase(fleet);
  await apply(
    db.url,
    await migrationFiles({
      '001_seen.sql': "CREATE TABLE seen AS SELECT '001' AS file, current_setting('lock_timeout') AS lock, current_setting('statement_timeout') AS statement;",
      '002_own_set.sql': "SET lock_timeout = '7s';\nINSERT INTO seen SELECT '002', current_setting('lock_timeout'), current_setting('statement_timeout');",
      '003_seen.sql': "INSERT INTO seen SELECT '003', current_setting('lock_timeout'), current_setting('statement_timeout');",
    }),
    { lockTimeoutMs: 1500, statementTimeoutMs: 60_000 },
  );
  assert.deepEqual(await sql(db.url, 'select file, lock, statement from seen order by file'), [
    { file: '001', lock: '1500ms', statement: '1min' },
    { file: '002', lock: '7s', statement: '1min' },
    { file: '003', lock: '1500ms', statement: '1min' },
  ]);

  const started = Date.now();
  await assert.rejects(
    apply(db.url, await migrationFiles({ '004_slow.sql': 'CREATE TABLE slow (id int);\nSELECT pg_sleep(30);' }), { statementTimeoutMs: 300 }),
    (error: Error) => {
      assert.match(error.message, /004_slow\.sql:2: canceling statement due to statement timeout \(SQLSTATE 57014\)/);
      return true;
    },
  );
  assert.ok(Date.now() - started < 15_000, 'statement_timeout cancelled the sleep long before it ended');
  assert.equal(await tableExists(db.url, 'slow'), false);
});

test("a long transaction on the table: the migration gives way and retries, other sessions' queries are never queued behind it, and it succeeds once the blocker commits", async () => {
  const db = await freshDatabase(fleet);
  await sql(db.url, 'create table orders (id serial primary key, note text)');
  await sql(db.url, "insert into orders (note) select 'n' from generate_series(1, 10)");
  const lockTimeoutMs = 200;
  const blocker = await session(db.url, 'nightly-report');
  await blocker.query('begin');
  await blocker.query('select count(*) from orders');
  const progress: MigrationProgress[] = [];
  const applying = apply(db.url, await migrationFiles({ '001_add_column.sql': 'ALTER TABLE orders ADD COLUMN shipped_at timestamptz;' }), {
    lockTimeoutMs,
    retries: 50,
    backoff: { initialMs: 100, maxMs: 300 },
    onProgress: (event) => progress.push(event),
  });
  // Another session reads and writes the table the whole time; without lock_timeout, each of its
  // queries would queue behind the migration's ACCESS EXCLUSIVE request until the blocker ends.
  const app = await session(db.url, 'app');
  // Bounded, so a migration that does queue the app fails this test instead of hanging it.
  await app.query(`set statement_timeout = '3s'`);
  const latencies: number[] = [];
  const until = Date.now() + 2500;
  try {
    while (Date.now() < until) {
      const started = performance.now();
      try {
        await app.query('select count(*) from orders');
        await app.query("insert into orders (note) values ('during')");
      } catch (error) {
        assert.fail(`an app query was queued behind the migration until cancelled: ${(error as Error).message}`);
      }
      latencies.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    await blocker.query('commit');
    await blocker.end();
    await app.end();
  }
  const result = await applying;

  const retries = progress.filter((event) => event.type === 'retrying');
  assert.ok(retries.length >= 2, `the migration gave way and retried (${retries.length} retries)`);
  assert.ok(
    retries.some((event) => event.type === 'retrying' && event.blockers.some((b) => b.pid === blocker.pid && b.applicationName === 'nightly-report')),
    'the retries name the blocking session',
  );
  assert.ok(latencies.length > 20, `the app kept querying (${latencies.length} round trips)`);
  const worst = Math.max(...latencies);
  assert.ok(worst < lockTimeoutMs + 1000, `no app query waited much longer than lock_timeout (worst ${Math.round(worst)} ms)`);
  assert.deepEqual(await sql(db.url, `select column_name from information_schema.columns where table_name = 'orders' and column_name = 'shipped_at'`), [
    { column_name: 'shipped_at' },
  ]);
  assert.equal(result.applied[0]?.attempts, retries.length + 1);
  assert.deepEqual(await recorded(db.url), ['001']);
});

test('when every retry times out, the error names the blocking session: pid, state, age, application and query', async () => {
  const db = await freshDatabase(fleet);
  await sql(db.url, 'create table invoices (id int)');
  const blocker = await session(db.url, 'month-end-batch');
  await blocker.query('begin');
  await blocker.query('select * from invoices /* month-end totals */');
  try {
    await assert.rejects(
      apply(db.url, await migrationFiles({ '001_pending.sql': 'CREATE TABLE keep_out (id int);\nALTER TABLE invoices ADD COLUMN total int;' }), {
        lockTimeoutMs: 150,
        retries: 2,
      }),
      (error: Error) => {
        assert.ok(error instanceof MigrationLockTimeoutError);
        assert.equal(error.shipCode.code, 'SHIP-E041');
        assert.match(error.message, /001_pending\.sql:2: waited longer than lock_timeout \(150ms\) for a lock in each of 3 attempt\(s\)/);
        assert.match(
          error.message,
          new RegExp(
            `blocked by pid ${blocker.pid} \\(idle in transaction, transaction open for [\\d.]+m?s, application "month-end-batch", query "select \\* from invoices /\\* month-end totals \\*/"\\)`,
          ),
        );
        assert.match(error.message, /nothing of it is applied, it is not recorded/);
        assert.deepEqual(
          error.blockers.map((b) => b.pid),
          [blocker.pid],
        );
        return true;
      },
    );
  } finally {
    await blocker.query('rollback');
    await blocker.end();
  }
  assert.equal(await tableExists(db.url, 'keep_out'), false);
  assert.deepEqual(await recorded(db.url), []);
});

test('a CREATE INDEX CONCURRENTLY cancelled by lock_timeout leaves an invalid index, which is dropped before the retry, so the retry succeeds', async () => {
  const db = await freshDatabase(fleet);
  await sql(db.url, 'create table events (id int, kind text)');
  // A writer in the middle of its transaction: CIC builds its catalog entry, then waits for it.
  const writer = await session(db.url, 'importer');
  await writer.query('begin');
  await writer.query("insert into events values (1, 'import')");
  const progress: MigrationProgress[] = [];
  const applying = apply(db.url, await migrationFiles({ '001_index.sql': 'CREATE INDEX CONCURRENTLY events_kind ON events (kind);' }), {
    lockTimeoutMs: 150,
    retries: 40,
    backoff: { initialMs: 50, maxMs: 150 },
    onProgress: (event) => progress.push(event),
  });
  try {
    const deadline = Date.now() + 10_000;
    while (progress.filter((event) => event.type === 'retrying').length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  } finally {
    await writer.query('commit');
    await writer.end();
  }
  await applying;
  assert.ok(progress.filter((event) => event.type === 'retrying').length >= 2);
  assert.deepEqual(await sql(db.url, `select c.relname, i.indisvalid from pg_index i join pg_class c on c.oid = i.indexrelid where i.indrelid = 'events'::regclass`), [
    { relname: 'events_kind', indisvalid: true },
  ]);
  assert.deepEqual(await recorded(db.url), ['001']);
});

test('an invalid index an interrupted earlier attempt of the file left (a killed deploy, resumed) is dropped and built again, not kept invalid', async () => {
  const db = await freshDatabase(fleet);
  // A unique CIC that fails on duplicates leaves its index INVALID, as a kill mid-build does.
  await sql(db.url, "create table accounts (id int, email text); insert into accounts values (1, 'a@x'), (2, 'a@x')");
  await assert.rejects(sql(db.url, 'create unique index concurrently accounts_email on accounts (email)'), /could not create unique index/);
  await sql(db.url, 'delete from accounts where id = 2');
  await apply(db.url, await migrationFiles({ '001_email.sql': 'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS accounts_email ON accounts (email);' }));
  assert.deepEqual(await sql(db.url, `select c.relname, i.indisvalid from pg_index i join pg_class c on c.oid = i.indexrelid where i.indrelid = 'accounts'::regclass`), [
    { relname: 'accounts_email', indisvalid: true },
  ]);
  assert.deepEqual(await recorded(db.url), ['001']);
});

test('an abort between files stops before the next one; what was applied stays applied and recorded', async () => {
  const db = await freshDatabase(fleet);
  const stop = new AbortController();
  await assert.rejects(
    apply(db.url, await migrationFiles({ '001_a.sql': 'CREATE TABLE a (id int);', '002_b.sql': 'CREATE TABLE b (id int);' }), {
      signal: stop.signal,
      onProgress: (event) => {
        if (event.type === 'applied') stop.abort();
      },
    }),
    (error: Error) =>
      error instanceof MigrationAbortedError &&
      error.shipCode.code === 'SHIP-E030' &&
      /interrupted before .*002_b\.sql: 1 file\(s\) applied and recorded, 1 still pending/.test(error.message),
  );
  assert.deepEqual(await recorded(db.url), ['001']);
  assert.equal(await tableExists(db.url, 'b'), false);
});
