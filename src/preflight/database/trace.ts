/**
 * Trace mode: run the pending migrations for real, inside one transaction on a scratch database,
 * watch what each statement does to the tables that already existed, and roll everything back.
 * It sees what static lint cannot: DDL run by a DO block, a function or a trigger.
 *
 * The scratch database is a configured shadow database, or a copy of the primary's schema
 * (`pg_dump --schema-only` into a temporary database on the primary's server, dropped afterwards).
 * The primary's own database is only read by pg_dump.
 */
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type pg from 'pg';
import { connect, DatabaseCheckError, DEFAULT_CONNECT_TIMEOUT_MS, driverMessage } from './connect.js';
import { describeDatabase, passwordOf, scrubSecrets, withDatabaseName, withoutPassword } from '../../util/redact-url.js';
import { splitStatements, type Statement } from './statements.js';

/** A migration to trace; discovery's MigrationFile fits (its dbmate `sql` keeps file offsets). */
export interface TraceMigration {
  path: string;
  /** The SQL the runner executes, at its offsets in the file (lines are reported from it). */
  sql: string;
}

export interface TraceOptions {
  primaryUrl: string;
  /** Pending migrations, in the order they will be applied. */
  migrations: readonly TraceMigration[];
  /** A database to trace on instead of a copy of the primary's schema; it is never changed (everything is rolled back). */
  shadowDatabaseUrl?: string;
  /** Where pg_dump and psql live; default `pg_config --bindir`. */
  pgBinDir?: string;
  connectTimeoutMs?: number;
  /** Limit for each traced statement, and lock_timeout, on the scratch database (default 60 s). */
  statementTimeoutMs?: number;
}

export type TraceFindingKind = 'lock' | 'rewrite' | 'catalog';

export interface TraceFinding {
  file: string;
  /** 0-based position of the statement in its file. */
  statementIndex?: number;
  /** 1-based line of the statement in its file. */
  line?: number;
  /** 1-based line where the statement ends. */
  endLine?: number;
  /** The statement's parse-tree node type ('DoStmt', 'AlterTableStmt', ...). */
  statementKind?: string;
  kind: TraceFindingKind;
  /** Schema-qualified table name as it was before the migrations ran. */
  table: string;
  detail: string;
}

export interface TraceSkipped {
  file: string;
  statementIndex: number;
  line: number;
  reason: string;
}

export interface TraceResult {
  scratch: { kind: 'shadow' | 'schema-copy'; database: string };
  findings: TraceFinding[];
  /** Statements that cannot be traced inside a transaction (transaction control, CONCURRENTLY, VACUUM). */
  skipped: TraceSkipped[];
  /** The statement that failed on the scratch database; statements after it were not traced. */
  failure?: { file: string; statementIndex: number; line: number; message: string };
  statementsTraced: number;
}

const DEFAULT_STATEMENT_TIMEOUT_MS = 60_000;

/** Lock modes that block the running app, strongest first, with what they block. */
const BLOCKING_LOCKS = new Map<string, string>([
  ['AccessExclusiveLock', 'blocks every read and write'],
  ['ExclusiveLock', 'blocks every write and SELECT ... FOR UPDATE'],
  ['ShareRowExclusiveLock', 'blocks every write'],
  ['ShareLock', 'blocks every write'],
]);
const LOCK_STRENGTH = [...BLOCKING_LOCKS.keys()];

interface TableRow {
  oid: number;
  name: string;
  relfilenode: number;
}

interface ColumnRow {
  attrelid: number;
  attnum: number;
  attname: string;
  type: string;
  attnotnull: boolean;
  atthasdef: boolean;
  implicit_default: boolean;
  attisdropped: boolean;
}

interface Snapshot {
  tables: Map<number, TableRow>;
  columns: Map<string, ColumnRow>;
  locks: Set<string>;
}

const columnKey = (relation: number, attnum: number) => `${relation}:${attnum}`;

async function tablesOf(client: pg.Client, only?: number[]): Promise<Map<number, TableRow>> {
  const { rows } = await client.query<TableRow>(
    `select c.oid, format('%I.%I', n.nspname, c.relname) as name, c.relfilenode
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p', 'm')
        and n.nspname not in ('pg_catalog', 'information_schema')
        and n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
        and ($1::oid[] is null or c.oid = any($1::oid[]))`,
    [only ?? null],
  );
  return new Map(rows.map((row) => [row.oid, row]));
}

async function snapshot(client: pg.Client, baseline: number[]): Promise<Snapshot> {
  const tables = await tablesOf(client, baseline);
  const { rows: columns } = await client.query<ColumnRow>(
    `select attrelid, attnum, attname, format_type(atttypid, atttypmod) as type, attnotnull, atthasdef,
            (attidentity <> '' or attgenerated <> '') as implicit_default, attisdropped
       from pg_attribute where attrelid = any($1::oid[]) and attnum > 0`,
    [baseline],
  );
  const { rows: locks } = await client.query<{ relation: number; mode: string }>(
    `select relation, mode from pg_locks
      where pid = pg_backend_pid() and locktype = 'relation' and granted and relation = any($1::oid[])`,
    [baseline],
  );
  return {
    tables,
    columns: new Map(columns.map((column) => [columnKey(column.attrelid, column.attnum), column])),
    locks: new Set(locks.map((lock) => `${lock.relation}:${lock.mode}`)),
  };
}

/** What one statement did to the tables that existed before the trace began. */
function compare(
  before: Snapshot,
  after: Snapshot,
  baseline: Map<number, TableRow>,
  baselineColumns: Set<string>,
  at: Omit<TraceFinding, 'kind' | 'table' | 'detail'>,
): TraceFinding[] {
  const findings: TraceFinding[] = [];
  const nameOf = (oid: number) => baseline.get(oid)?.name ?? String(oid);
  const add = (kind: TraceFindingKind, oid: number, detail: string) => findings.push({ ...at, kind, table: nameOf(oid), detail });

  const newLocks = new Map<number, string>();
  for (const key of after.locks) {
    if (before.locks.has(key)) continue;
    const [relation, mode] = key.split(':') as [string, string];
    const oid = Number(relation);
    const current = newLocks.get(oid);
    if (BLOCKING_LOCKS.has(mode) && (current === undefined || LOCK_STRENGTH.indexOf(mode) < LOCK_STRENGTH.indexOf(current))) newLocks.set(oid, mode);
  }
  for (const [oid, mode] of newLocks) {
    add('lock', oid, `takes ${mode} on ${nameOf(oid)}: ${BLOCKING_LOCKS.get(mode)} on it until the migration's transaction ends`);
  }

  for (const [oid, table] of before.tables) {
    const now = after.tables.get(oid);
    if (!now) {
      add('catalog', oid, `drops table ${table.name}: the running code still reads and writes it`);
      continue;
    }
    if (now.name !== table.name) add('catalog', oid, `renames table ${table.name} to ${now.name}: the running code still uses the old name`);
    if (now.relfilenode !== table.relfilenode && table.relfilenode !== 0) {
      add('rewrite', oid, `rewrites ${table.name} (its relfilenode changed): every row is copied, or the table truncated, under an exclusive lock`);
    }
  }

  for (const [key, column] of after.columns) {
    if (!after.tables.has(column.attrelid)) continue;
    const old = before.columns.get(key);
    const table = after.tables.get(column.attrelid)!.name;
    const existed = baselineColumns.has(key) && old !== undefined && !old.attisdropped;
    if (existed && column.attisdropped) {
      add('catalog', column.attrelid, `drops column ${table}.${old.attname}: the running code still reads or writes it`);
      continue;
    }
    if (column.attisdropped) continue;
    if (existed && old.attname !== column.attname) {
      add('catalog', column.attrelid, `renames column ${table}.${old.attname} to ${column.attname}: the running code still uses the old name`);
    }
    if (existed && old.type !== column.type) {
      add('catalog', column.attrelid, `changes the type of ${table}.${column.attname} from ${old.type} to ${column.type}`);
    }
    const noDefault = !column.atthasdef && !column.implicit_default;
    if (existed && !old.attnotnull && column.attnotnull && noDefault) {
      add('catalog', column.attrelid, `sets NOT NULL on ${table}.${column.attname}, which has no default: inserts from the running code that leave it out fail`);
    }
    if (old === undefined && column.attnotnull && noDefault) {
      add('catalog', column.attrelid, `adds column ${table}.${column.attname} NOT NULL without a default: it fails on a table with rows, and inserts from the running code fail`);
    }
  }
  return findings;
}

let binDirPromise: Promise<string> | undefined;
function defaultBinDir(): Promise<string> {
  binDirPromise ??= execa('pg_config', ['--bindir']).then(
    (result) => result.stdout.trim(),
    (error: Error) => {
      binDirPromise = undefined;
      throw new DatabaseCheckError(`trace: cannot find pg_dump: \`pg_config --bindir\` failed (${error.message}); install the PostgreSQL client or set its directory`);
    },
  );
  return binDirPromise;
}

/** pg_dump --schema-only of the primary, restored with psql into `scratchUrl`. Passwords go through PGPASSWORD, not argv. */
async function copySchema(primaryUrl: string, scratchUrl: string, binDir: string): Promise<void> {
  const password = passwordOf(primaryUrl);
  const env = password === undefined ? {} : { PGPASSWORD: password };
  const dump = execa(join(binDir, 'pg_dump'), ['--schema-only', '--no-owner', '--no-privileges', `--dbname=${withoutPassword(primaryUrl)}`], {
    env,
    reject: false,
    timeout: 300_000,
  });
  const restore = dump.pipe(join(binDir, 'psql'), ['--no-psqlrc', '--quiet', '--single-transaction', '--set=ON_ERROR_STOP=1', `--dbname=${withoutPassword(scratchUrl)}`], {
    env,
    reject: false,
    timeout: 300_000,
  });
  const [dumped, restored] = await Promise.all([dump, restore]);
  if (dumped.exitCode !== 0) {
    throw new DatabaseCheckError(
      `trace: pg_dump --schema-only of primary ${describeDatabase(primaryUrl)} failed: ${scrubSecrets(String(dumped.stderr).trim() || (dumped.shortMessage ?? `exit code ${dumped.exitCode}`), primaryUrl)}`,
    );
  }
  if (restored.exitCode !== 0) {
    throw new DatabaseCheckError(
      `trace: restoring the primary's schema into scratch database ${describeDatabase(scratchUrl)} failed: ${scrubSecrets(String(restored.stderr).trim() || (restored.shortMessage ?? `exit code ${restored.exitCode}`), scratchUrl)}`,
    );
  }
}

interface ParsedMigration {
  path: string;
  statements: Statement[];
}

type TraceRun = Omit<TraceResult, 'scratch'>;

async function traceOn(scratch: pg.Client, migrations: ParsedMigration[], options: TraceOptions): Promise<TraceRun> {
  const timeout = options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  const result: TraceRun = { findings: [], skipped: [], statementsTraced: 0 };
  await scratch.query('begin');
  try {
    await scratch.query(`select set_config('statement_timeout', $1, true), set_config('lock_timeout', $1, true)`, [`${timeout}ms`]);
    const baseline = await tablesOf(scratch);
    const baselineOids = [...baseline.keys()];
    let before = await snapshot(scratch, baselineOids);
    const baselineColumns = new Set(before.columns.keys());

    for (const migration of migrations) {
      for (const statement of migration.statements) {
        const at = { file: migration.path, statementIndex: statement.index, line: statement.line };
        if (statement.kind === 'TransactionStmt') {
          result.skipped.push({ ...at, reason: 'transaction control: the trace runs every migration inside its own transaction' });
          continue;
        }
        await scratch.query('savepoint ship_trace_statement');
        try {
          await scratch.query(statement.text);
        } catch (error) {
          await scratch.query('rollback to savepoint ship_trace_statement');
          if ((error as { code?: string }).code === '25001') {
            result.skipped.push({ ...at, reason: `cannot run inside a transaction block, so it was not traced: ${(error as Error).message}` });
            continue;
          }
          result.failure = { ...at, message: driverMessage(error, options.shadowDatabaseUrl ?? options.primaryUrl) };
          return result;
        }
        await scratch.query('release savepoint ship_trace_statement');
        result.statementsTraced++;
        const after = await snapshot(scratch, baselineOids);
        result.findings.push(...compare(before, after, baseline, baselineColumns, { ...at, endLine: statement.endLine, statementKind: statement.kind }));
        before = after;
      }
    }
    return result;
  } finally {
    // Closing the connection rolls back too, so a failed ROLLBACK (connection gone) loses nothing.
    await scratch.query('rollback').catch(() => undefined);
  }
}

/**
 * Traces the migrations and rolls them back. Throws a DatabaseCheckError when the scratch database
 * cannot be made or reached; a migration that fails on it is reported in `failure`.
 */
export async function traceMigrations(options: TraceOptions): Promise<TraceResult> {
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  // The server ends a statement at statementTimeoutMs; the client gives up a little later, in case the server cannot say so.
  const queryTimeoutMs = (options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS) + 5000;
  // Parse everything first: SQL that does not parse fails before any database work.
  const migrations = await Promise.all(options.migrations.map(async (migration) => ({ path: migration.path, statements: await splitStatements(migration.path, migration.sql) })));

  if (options.shadowDatabaseUrl) {
    const scratch = await connect(options.shadowDatabaseUrl, { role: 'shadow database', connectTimeoutMs, queryTimeoutMs });
    try {
      const run = await traceOn(scratch, migrations, options);
      return { scratch: { kind: 'shadow', database: describeDatabase(options.shadowDatabaseUrl) }, ...run };
    } finally {
      await scratch.end().catch(() => undefined);
    }
  }

  const name = `ship_trace_${randomBytes(6).toString('hex')}`;
  const scratchUrl = withDatabaseName(options.primaryUrl, name);
  const binDir = options.pgBinDir ?? (await defaultBinDir());
  const server = await connect(options.primaryUrl, { role: 'primary', connectTimeoutMs });
  try {
    try {
      await server.query(`create database ${name} template template0`);
    } catch (error) {
      throw new DatabaseCheckError(
        `trace: cannot create scratch database ${name} on primary ${describeDatabase(options.primaryUrl)}: ${driverMessage(error, options.primaryUrl)}; ` +
          'grant the role CREATEDB or set database.shadowDatabase',
      );
    }
    try {
      await copySchema(options.primaryUrl, scratchUrl, binDir);
      const scratch = await connect(scratchUrl, { role: 'scratch database', connectTimeoutMs, queryTimeoutMs });
      try {
        const run = await traceOn(scratch, migrations, options);
        return { scratch: { kind: 'schema-copy', database: describeDatabase(scratchUrl) }, ...run };
      } finally {
        await scratch.end().catch(() => undefined);
      }
    } finally {
      const { rows } = await server.query<{ version: number }>(`select current_setting('server_version_num')::int as version`);
      // WITH (FORCE) (PostgreSQL 13+) also ends a psql that an interrupted restore left behind.
      const force = (rows[0]?.version ?? 0) >= 130000 ? ' with (force)' : '';
      try {
        await server.query(`drop database if exists ${name}${force}`);
      } catch (error) {
        // biome-ignore lint/correctness/noUnsafeFinally: a scratch copy of the schema left on the primary must be reported, even over the trace's own outcome
        throw new DatabaseCheckError(
          `trace: could not drop scratch database ${name} on primary ${describeDatabase(options.primaryUrl)}: ${driverMessage(error, options.primaryUrl)}; drop it by hand`,
        );
      }
    }
  } finally {
    await server.end().catch(() => undefined);
  }
}
