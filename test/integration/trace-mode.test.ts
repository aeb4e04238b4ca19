import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { traceMigrations, type TraceFinding } from '../../src/preflight/database/trace.js';
import { withDatabaseName } from '../../src/util/redact-url.js';
import { startPostgres, type PostgresFleet } from '../fleet/postgres.js';

let fleet: PostgresFleet;
let shadowUrl: string;

const SCHEMA = `
  create table accounts (id int primary key, name text not null, age int);
  create table audit (id int primary key, happened_at timestamptz default now());
  insert into accounts select g, 'user ' || g, 30 from generate_series(1, 100) g;
  insert into audit (id) select g from generate_series(1, 10) g;
`;

async function sql(url: string, text: string, values: unknown[] = []) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** Everything the trace could have changed: columns, storage, functions, data, databases. */
async function fingerprint(url: string) {
  const [columns, storage, functions, counts] = await Promise.all([
    sql(
      url,
      `select attrelid::regclass::text as t, attnum, attname, format_type(atttypid, atttypmod) as type, attnotnull, attisdropped
                from pg_attribute where attrelid in ('accounts'::regclass, 'audit'::regclass) and attnum > 0 order by 1, 2`,
    ),
    sql(url, `select relname, relfilenode from pg_class where relname in ('accounts', 'audit') order by 1`),
    sql(url, `select proname from pg_proc where pronamespace = 'public'::regnamespace order by 1`),
    sql(url, `select (select count(*) from accounts) as accounts, (select count(*) from audit) as audit`),
  ]);
  return { columns, storage, functions, counts };
}

async function scratchDatabases() {
  return (await sql(fleet.primaryAdminUrl, `select datname from pg_database where datname like 'ship_trace_%'`)).map((row) => row.datname as string);
}

const MIGRATIONS = [
  { path: 'V2__widen_ids.sql', sql: `set lock_timeout = '2s';\nalter table accounts alter column id type bigint;\n` },
  { path: 'V3__do_block.sql', sql: `do $$\nbegin\n  execute 'alter table accounts drop column age';\nend\n$$;\n` },
  {
    path: 'V4__function.sql',
    sql:
      `create function rename_name() returns void language plpgsql as $$\nbegin\n  alter table accounts rename column name to full_name;\nend\n$$;\n` +
      `-- the DDL runs here, inside the function\nselect rename_name();\n`,
  },
  { path: 'V5__not_null.sql', sql: `alter table audit add column actor text not null;\nalter table audit add column source text not null default 'web';\n` },
  {
    path: 'V6__housekeeping.sql',
    // As discovery hands over a dbmate file: the down section and the marker lines blanked.
    sql: `\n\nbegin;\ncreate table fresh (id int);\nalter table fresh add column x int not null;\ncreate index concurrently accounts_id_idx on accounts (id);\ncommit;\n`,
  },
];

function findingsOf(findings: TraceFinding[], file: string) {
  return findings.filter((finding) => finding.file === file).map(({ statementIndex, kind, table, detail }) => ({ statementIndex, kind, table, detail }));
}

before(async () => {
  fleet = await startPostgres({ replica: false });
  await sql(fleet.primaryUrl, SCHEMA);
  await sql(fleet.primaryUrl, `create database shadow`);
  shadowUrl = withDatabaseName(fleet.primaryUrl, 'shadow');
  await sql(shadowUrl, SCHEMA);
});

after(async () => {
  await fleet?.stop();
});

test('traces the migrations on a schema copy: locks, rewrites and catalog changes, also from DO blocks and functions', async () => {
  const primaryBefore = await fingerprint(fleet.primaryUrl);
  const result = await traceMigrations({ primaryUrl: fleet.primaryUrl, migrations: MIGRATIONS });

  assert.equal(result.failure, undefined);
  assert.equal(result.scratch.kind, 'schema-copy');
  assert.match(result.scratch.database, new RegExp(`^${fleet.address}:${fleet.primaryPort}/ship_trace_[0-9a-f]{12}$`));

  assert.deepEqual(findingsOf(result.findings, 'V2__widen_ids.sql'), [
    {
      statementIndex: 1,
      kind: 'lock',
      table: 'public.accounts',
      detail: "takes AccessExclusiveLock on public.accounts: blocks every read and write on it until the migration's transaction ends",
    },
    {
      statementIndex: 1,
      kind: 'rewrite',
      table: 'public.accounts',
      detail: 'rewrites public.accounts (its relfilenode changed): every row is copied, or the table truncated, under an exclusive lock',
    },
    { statementIndex: 1, kind: 'catalog', table: 'public.accounts', detail: 'changes the type of public.accounts.id from integer to bigint' },
  ]);
  // The lock on accounts was taken by V2 already; the DO block's DDL shows as the column it dropped.
  assert.deepEqual(findingsOf(result.findings, 'V3__do_block.sql'), [
    { statementIndex: 0, kind: 'catalog', table: 'public.accounts', detail: 'drops column public.accounts.age: the running code still reads or writes it' },
  ]);
  assert.deepEqual(findingsOf(result.findings, 'V4__function.sql'), [
    { statementIndex: 1, kind: 'catalog', table: 'public.accounts', detail: 'renames column public.accounts.name to full_name: the running code still uses the old name' },
  ]);
  assert.equal(result.findings.find((f) => f.file === 'V4__function.sql')?.line, 7);
  assert.deepEqual(findingsOf(result.findings, 'V5__not_null.sql'), [
    {
      statementIndex: 0,
      kind: 'lock',
      table: 'public.audit',
      detail: "takes AccessExclusiveLock on public.audit: blocks every read and write on it until the migration's transaction ends",
    },
    {
      statementIndex: 0,
      kind: 'catalog',
      table: 'public.audit',
      detail: 'adds column public.audit.actor NOT NULL without a default: it fails on a table with rows, and inserts from the running code fail',
    },
  ]);
  // A table created by the migrations themselves is nobody else's yet: no findings for it.
  assert.deepEqual(findingsOf(result.findings, 'V6__housekeeping.sql'), []);
  assert.deepEqual(
    result.skipped.map(({ file, statementIndex, line, reason }) => ({ file, statementIndex, line, reason: reason.split(':')[0] })),
    [
      { file: 'V6__housekeeping.sql', statementIndex: 0, line: 3, reason: 'transaction control' },
      { file: 'V6__housekeeping.sql', statementIndex: 3, line: 6, reason: 'cannot run inside a transaction block, so it was not traced' },
      { file: 'V6__housekeeping.sql', statementIndex: 4, line: 7, reason: 'transaction control' },
    ],
  );
  assert.equal(result.statementsTraced, 9);

  assert.deepEqual(await scratchDatabases(), [], 'the scratch database is dropped');
  assert.deepEqual(await fingerprint(fleet.primaryUrl), primaryBefore, 'the primary is untouched');
});

test('traces on a configured shadow database and leaves it as it was', async () => {
  const shadowBefore = await fingerprint(shadowUrl);
  const primaryBefore = await fingerprint(fleet.primaryUrl);
  const result = await traceMigrations({ primaryUrl: fleet.primaryUrl, shadowDatabaseUrl: shadowUrl, migrations: MIGRATIONS.slice(0, 2) });
  assert.equal(result.scratch.kind, 'shadow');
  assert.equal(result.scratch.database, `${fleet.address}:${fleet.primaryPort}/shadow`);
  assert.deepEqual(
    result.findings.map((finding) => `${finding.file}#${finding.statementIndex} ${finding.kind}`),
    ['V2__widen_ids.sql#1 lock', 'V2__widen_ids.sql#1 rewrite', 'V2__widen_ids.sql#1 catalog', 'V3__do_block.sql#0 catalog'],
  );
  assert.deepEqual(await fingerprint(shadowUrl), shadowBefore, 'the shadow database is rolled back');
  assert.deepEqual(await fingerprint(fleet.primaryUrl), primaryBefore);
});

test('a statement that fails on the scratch database stops the trace and names the file and line', async () => {
  const result = await traceMigrations({
    primaryUrl: fleet.primaryUrl,
    migrations: [
      { path: 'V7__typo.sql', sql: `alter table audit add column note text;\n\nalter table acounts add column x int;\n` },
      { path: 'V8__later.sql', sql: `alter table accounts drop column age;\n` },
    ],
  });
  assert.deepEqual(result.failure, { file: 'V7__typo.sql', statementIndex: 1, line: 3, message: 'relation "acounts" does not exist' });
  assert.equal(
    result.findings.some((finding) => finding.file === 'V8__later.sql'),
    false,
  );
  assert.deepEqual(await scratchDatabases(), []);
});

test('SQL that does not parse is an error naming the file, line and column', async () => {
  await assert.rejects(
    traceMigrations({ primaryUrl: fleet.primaryUrl, migrations: [{ path: 'V9__broken.sql', sql: `select 1;\nalter tabel accounts drop column age;\n` }] }),
    /^Error: V9__broken\.sql:2:7: does not parse: syntax error at or near "tabel"/,
  );
  assert.deepEqual(await scratchDatabases(), []);
});

test('a role that may not create databases is told to configure a shadow database', async () => {
  await sql(fleet.primaryAdminUrl, `create role limited login password 'limited-pw'`);
  await sql(fleet.primaryAdminUrl, `grant connect on database app to limited`);
  const limitedUrl = fleet.primaryUrl.replace(/\/\/ship:[^@]+@/, '//limited:limited-pw@');
  await assert.rejects(traceMigrations({ primaryUrl: limitedUrl, migrations: MIGRATIONS.slice(0, 1) }), (error: Error) => {
    assert.match(
      error.message,
      /cannot create scratch database ship_trace_\w+ on primary .*permission denied to create database; grant the role CREATEDB or set database.shadowDatabase/,
    );
    assert.ok(!error.message.includes('limited-pw'));
    return true;
  });
});
