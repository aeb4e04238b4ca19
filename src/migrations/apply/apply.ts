/**
 * `database.migrate.run: 'ship'`: ship applies the pending migration files on the primary itself,
 * in order, and records each in the layout's version table as the tool would. Every file is
 * parsed before the first one runs, so a file that does not parse stops the run with nothing
 * applied. lock_timeout bounds how long any other session can queue behind a migration's lock
 * request; a statement that runs into it is retried with backoff rather than failing the deploy.
 */
import type pg from 'pg';
import { describeDatabase, scrubSecrets } from '../../util/redact-url.js';
import type { MigrationFile } from '../migration-file.js';
import type { VersionTableAdapter } from '../layouts/version-table.js';
import { DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import { BlockerWatch, type BlockingSession } from './blockers.js';
import { connectPrimary } from './connection.js';
import { MigrationAbortedError, MigrationFailedError } from './errors.js';
import { FileApplier, setSessionTimeouts } from './file-applier.js';
import { planMigration, type MigrationPlan } from './plan.js';
import { VersionTableError } from '../layouts/version-table-error.js';

export interface ApplyOptions {
  /** The primary's connection string (a URL or libpq key/value string); messages show host:port/db only. */
  readonly databaseUrl: string;
  /** The pending files, in the order to apply them (discovery.ts sorts them so). */
  readonly migrations: readonly MigrationFile[];
  readonly versionTable: VersionTableAdapter;
  /** SET lock_timeout for every statement ship runs, in ms; 0 turns it off. */
  readonly lockTimeoutMs: number;
  /** SET statement_timeout, in ms; 0 turns it off. */
  readonly statementTimeoutMs: number;
  /** How many times a unit that hit lock_timeout is tried again. */
  readonly retries: number;
  readonly backoff?: BackoffOptions;
  readonly onProgress?: (progress: MigrationProgress) => void;
  /** Honoured between files and between retries: a file in progress is committed or rolled back, never half-recorded. */
  readonly signal?: AbortSignal;
  readonly connectTimeoutMs?: number;
}

export type MigrationProgress =
  | {
      readonly type: 'started';
      readonly migration: MigrationFile;
      /** Why the file runs statement by statement rather than in one transaction; undefined when it runs in one. */
      readonly outsideTransaction: string | undefined;
    }
  | {
      readonly type: 'retrying';
      readonly migration: MigrationFile;
      readonly line: number | undefined;
      /** The attempt that just ran into lock_timeout, from 1. */
      readonly attempt: number;
      readonly retries: number;
      readonly waitMs: number;
      readonly blockers: readonly BlockingSession[];
    }
  | { readonly type: 'applied'; readonly migration: MigrationFile; readonly executionMs: number; readonly attempts: number }
  | { readonly type: 'failed'; readonly migration: MigrationFile; readonly error: Error };

export interface AppliedMigration {
  readonly migration: MigrationFile;
  readonly executionMs: number;
  readonly attempts: number;
}

export interface ApplyResult {
  readonly applied: readonly AppliedMigration[];
}

const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
/** The watcher's own queries are catalog reads; one that hangs must not hold the run. */
const WATCH_QUERY_TIMEOUT_MS = 5000;

export async function applyMigrations(options: ApplyOptions): Promise<ApplyResult> {
  const applied: AppliedMigration[] = [];
  if (options.migrations.length === 0) return { applied };
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const applier = await connectPrimary(options.databaseUrl, { applicationName: 'ship-migrate', connectTimeoutMs });
  let watcher: pg.Client | undefined;
  try {
    watcher = await connectPrimary(options.databaseUrl, { applicationName: 'ship-migrate-watch', connectTimeoutMs, queryTimeoutMs: WATCH_QUERY_TIMEOUT_MS });
    const database = describeDatabase(options.databaseUrl);
    const server = await serverFacts(applier, database);
    const plans: MigrationPlan[] = [];
    for (const migration of options.migrations)
      plans.push(await planMigration(migration, { serverVersionNum: server.versionNum, marksStart: options.versionTable.markStarted !== undefined }));
    const files = new FileApplier({
      client: applier,
      watch: new BlockerWatch(watcher, server.pid, watchIntervalMs(options.lockTimeoutMs)),
      versionTable: options.versionTable,
      databaseUrl: options.databaseUrl,
      database,
      lockTimeoutMs: options.lockTimeoutMs,
      statementTimeoutMs: options.statementTimeoutMs,
      retries: options.retries,
      backoff: options.backoff ?? DEFAULT_BACKOFF,
      ...(options.signal ? { signal: options.signal } : {}),
      onRetry: (plan, notice) => options.onProgress?.({ type: 'retrying', migration: plan.migration, ...notice }),
      appliedSoFar: () => applied.map((done) => done.migration.path),
    });
    await ensureVersionTable(applier, options, database);
    for (const plan of plans) {
      if (options.signal?.aborted) {
        throw new MigrationAbortedError(
          `interrupted before ${plan.migration.path}: ${applied.length} file(s) applied and recorded, ${plans.length - applied.length} still pending`,
          applied.map((done) => done.migration.path),
        );
      }
      options.onProgress?.({ type: 'started', migration: plan.migration, outsideTransaction: plan.outsideTransaction });
      try {
        const outcome = await files.apply(plan);
        applied.push({ migration: plan.migration, ...outcome });
        options.onProgress?.({ type: 'applied', migration: plan.migration, ...outcome });
      } catch (error) {
        options.onProgress?.({ type: 'failed', migration: plan.migration, error: error as Error });
        throw error;
      }
    }
    return { applied };
  } finally {
    await applier.end().catch(() => undefined);
    await watcher?.end().catch(() => undefined);
  }
}

async function serverFacts(client: pg.Client, database: string): Promise<{ pid: number; versionNum: number }> {
  try {
    const { rows } = await client.query<{ pid: number; version_num: number }>(`select pg_backend_pid() as pid, current_setting('server_version_num')::int as version_num`);
    return { pid: rows[0]!.pid, versionNum: rows[0]!.version_num };
  } catch (error) {
    throw new MigrationFailedError(`primary ${database}: cannot read its server version: ${(error as Error).message}; nothing was applied`);
  }
}

/** Runs under the same lock_timeout as the migrations: creating the table takes locks too. */
async function ensureVersionTable(client: pg.Client, options: ApplyOptions, database: string): Promise<void> {
  const { versionTable } = options;
  try {
    await setSessionTimeouts(client, options);
    await versionTable.ensure(client);
  } catch (error) {
    if (error instanceof VersionTableError) throw new VersionTableError(`primary ${database}: ${error.message}`);
    const code = (error as { code?: string }).code;
    throw new VersionTableError(
      `primary ${database}: cannot create or read the version table ${versionTable.table} (${versionTable.tool}): ${scrubSecrets((error as Error).message, options.databaseUrl)}${code ? ` (SQLSTATE ${code})` : ''}; nothing was applied`,
    );
  }
}

/** Often enough to catch a wait that lock_timeout ends, not so often that a long statement floods the server. */
function watchIntervalMs(lockTimeoutMs: number): number {
  if (lockTimeoutMs <= 0) return 250;
  return Math.min(250, Math.max(25, Math.floor(lockTimeoutMs / 4)));
}
