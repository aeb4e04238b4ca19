import type { LoadedConfig } from '../config/load.js';
import { resolvePath } from '../config/load.js';
import type { EventBus } from '../events.js';
import { allRules } from '../../schema-checks/index.js';
import { judgedNodeTypes, lintMigrations } from '../lint/engine.js';
import { assertLintable } from '../lint/sql-input.js';
import type { LintReport } from '../lint/types.js';
import { compileMigrationPattern } from '../migrations/file-name.js';
import { discoverMigrations, type Discovery, type MigrationFile } from '../migrations/discovery.js';
import { checkDatabase } from './database/preflight.js';
import { traceMigrations, type TraceFinding, type TraceResult } from './database/trace.js';
import type { PreflightCheck } from './preflight.js';
import { basename } from 'node:path';
import { versionTableFor } from '../migrations/layouts/registry.js';
import { checkMigrationPrivileges } from '../migrations/privileges.js';
import { withConnection } from './database/connect.js';
import type { VersionSource } from './database/applied-versions.js';
import type { LayoutId } from '../migrations/migration-file.js';

/** What the command line adds to the config's `database` section for one run. */
export interface DatabaseRunOptions {
  /** `--trace`: also apply the pending migrations on a scratch copy of the schema and watch them. */
  trace?: boolean;
  /** `--allow-unsafe-database <reason>`: wins over `database.allowUnsafe`. */
  allowUnsafe?: { reason: string };
}

export interface DatabaseCheckInput {
  loaded: LoadedConfig;
  bus: EventBus;
  /** Instances in the fleet and the largest batch, for the connection budget. */
  instances: number;
  batchSize: number;
  run?: DatabaseRunOptions;
  /**
   * ship applies the pending migrations itself and runs SET lock_timeout before their statements
   * (database.migrate): the lint then does not ask the files to set one.
   */
  lockTimeoutPreset?: boolean;
  /** This run applies the pending migrations (`database.migrate`, a deploy): they are judged as what it will do. */
  migrating?: boolean;
}

/**
 * The schema pre-flight: replicas caught up and on the primary's schema version, the
 * connection budget, then a lint of the pending migrations (those on disk the primary has not
 * applied) against the code that will be running when each applies (the old code for expand
 * migrations, the new for contract ones), and with `--trace` a trial run of them on a scratch copy of
 * the schema. Nothing runs when the config has no `database`.
 *
 * An override (`--allow-unsafe-database` or `database.allowUnsafe`) waives the replica, read-path
 * and connection-budget problems only, and is announced as a warning. Lint and trace findings are
 * waived per statement in the SQL (`-- ship:allow <rule> <reason>`), where a reviewer sees them.
 */
/**
 * Where the applied versions are read: the config's table or query, else the table of the tool
 * found on disk first. When ship applies the files it creates the table with the first one, so a
 * database without it yet has applied none.
 */
export function versionSourceFor(database: DatabaseConfig, layout: LayoutId | undefined, migrating: boolean): VersionSource {
  return {
    ...(database.versionTable ? { versionTable: database.versionTable } : {}),
    ...(database.versionQuery ? { versionQuery: database.versionQuery } : {}),
    ...(layout ? { layout } : {}),
    ...(migrating && database.migrate?.run === 'ship' ? { missingMeansNone: true } : {}),
  };
}

type DatabaseConfig = NonNullable<LoadedConfig['config']['database']>;

export interface DatabasePreflight {
  readonly checks: PreflightCheck[];
  /** The migrations on disk the primary has not applied, in the order they apply; known once the checks ran. */
  pending(): readonly MigrationFile[];
  /** Where the applied versions are read, as the checks read them. */
  versionSource(): VersionSource;
}

export function databaseChecks(input: DatabaseCheckInput): DatabasePreflight {
  const database = input.loaded.config.database;
  if (!database) return { checks: [], pending: () => [], versionSource: () => ({}) };
  const migrations = database.migrations;
  const allowUnsafe = input.run?.allowUnsafe ?? database.allowUnsafe;
  let discovery: Discovery | undefined;
  let pendingFiles: MigrationFile[] = [];
  let serverVersionNum = 0;
  let lint: LintReport | undefined;

  const checks: PreflightCheck[] = [
    {
      name: 'database',
      async run() {
        if (migrations) {
          const pattern = migrations.pattern ? compileMigrationPattern(migrations.pattern) : undefined;
          discovery = await discoverMigrations(resolvePath(input.loaded.dir, migrations.dir), pattern ? { pattern } : {});
        }
        const result = await checkDatabase({
          primaryUrl: database.primary,
          onDiskVersions: discovery?.migrations.map((m) => m.version) ?? [],
          onDiskChecksums: discovery?.migrations ?? [],
          versionSource: versionSourceFor(database, discovery?.layout, input.migrating ?? false),
          ...(input.migrating ? { versionWaitedFor: true } : {}),
          replicas: database.replicas,
          readPaths: database.readPaths,
          readPathSamples: database.readPathSamples,
          connectTimeoutMs: database.connectTimeout,
          maxLagMs: database.maxReplicaLag,
          ...(database.maxReplicaLagBytes !== undefined ? { maxLagBytes: database.maxReplicaLagBytes } : {}),
          ...(database.poolSize
            ? {
                connectionBudget: {
                  instances: input.instances,
                  poolSize: database.poolSize,
                  processesPerInstance: database.processesPerInstance,
                  batchSize: input.batchSize,
                  ...(database.appRole ? { appRole: database.appRole } : {}),
                },
              }
            : {}),
          ...(allowUnsafe ? { allowUnsafe } : {}),
        });
        const pending = new Set(result.pending);
        pendingFiles = discovery?.migrations.filter((m) => pending.has(m.version)) ?? [];
        serverVersionNum = result.serverVersionNum;
        if (!result.ok) throw new Error(result.problems.join('\n'));
        const replicaText = result.replicas.map((r) => `${r.name} lag ${r.lagBytes ?? '?'}B/${r.lagSeconds ?? '?'}s`).join(', ');
        const summary = `schema ${result.applied.latest ?? 'empty'}; ${pendingFiles.length} pending migration(s)${replicaText ? `; ${replicaText}` : ''}`;
        if (!result.override) return summary;
        const waived = `UNSAFE, waived (${result.override.reason}): ${result.override.problems.join('; ')}`;
        input.bus.emit({ type: 'warning', message: `database checks ${waived}` });
        return `${summary}; ${waived}`;
      },
    },
  ];
  const preflight: DatabasePreflight = { checks, pending: () => pendingFiles, versionSource: () => versionSourceFor(database, discovery?.layout, input.migrating ?? false) };
  if (!migrations) return preflight;

  checks.push({
    name: 'migrations',
    async run() {
      if (pendingFiles.length === 0) return 'nothing pending';
      refuseContractForCommand(input, pendingFiles);
      const pending = new Set(pendingFiles);
      lint = await lintMigrations(pendingFiles, {
        rules: allRules,
        pgVersion: migrations.pgVersion ?? (Math.floor(serverVersionNum / 10_000) || 15),
        transactionPerFile: migrations.transactionPerFile,
        lockTimeoutPreset: input.lockTimeoutPreset ?? false,
        hygiene: migrations.hygiene,
        requireStatementTimeout: migrations.requireStatementTimeout,
        history: discovery?.migrations.filter((m) => !pending.has(m)) ?? [],
      });
      for (const skipped of lint.skippedContext) {
        input.bus.emit({
          type: 'warning',
          message: `migration lint: earlier migration ${skipped.file} was not read for context (it ${skipped.reason}); the pending ones were linted without it`,
        });
      }
      const errors = lint.findings.filter((f) => f.severity === 'error');
      if (errors.length > 0) {
        throw new Error(
          `${errors.length} pending migration finding(s) would break the code still running or lock the site:\n` +
            errors.map((f) => `${f.file}:${f.line}:${f.column} ${f.ruleId}: ${f.message}`).join('\n') +
            '\n(see `ship lint-migrations` for the safe alternatives; suppress a reviewed one with -- ship:allow <rule> <reason>)',
        );
      }
      return `${pendingFiles.length} pending migration(s) linted, ${lint.warningCount} warning(s)${lint.suppressed.length ? `, ${lint.suppressed.length} suppressed` : ''}`;
    },
  });

  if (input.migrating && database.migrate?.run === 'ship') {
    checks.push({
      name: 'migration role',
      async run() {
        const layout = discovery?.migrations[0]?.layout;
        if (!layout) return 'no migration files';
        const adapter = versionTableFor(layout, database.versionTable ? { versionTable: database.versionTable } : {});
        const problems = await withConnection(database.primary, { role: 'primary', connectTimeoutMs: database.connectTimeout }, (client) =>
          checkMigrationPrivileges(client, adapter),
        );
        if (problems.length > 0) throw new Error(`ship cannot record the migrations it applies:\n${problems.join('\n')}`);
        return `can write ${adapter.table} (${adapter.tool}) and take its lock`;
      },
    });
  }

  if (input.run?.trace) {
    checks.push({
      name: 'migration trace',
      async run() {
        if (pendingFiles.length === 0) return 'nothing pending';
        // `ship check` runs this even when the lint refused: a file that cannot be linted is not traced either.
        assertLintable(pendingFiles);
        const trace = await traceMigrations({
          primaryUrl: database.primary,
          migrations: pendingFiles,
          ...(database.shadowDatabase ? { shadowDatabaseUrl: database.shadowDatabase } : {}),
          connectTimeoutMs: database.connectTimeout,
        });
        return judgeTrace(trace, lint);
      },
    });
  }
  return preflight;
}

/**
 * The team's own tool applies everything pending in one go, before the rollout: a contract
 * migration among them would break the code still running. Only ship can hold it back.
 */
function refuseContractForCommand(input: DatabaseCheckInput, pending: readonly MigrationFile[]): void {
  const run = input.loaded.config.database?.migrate?.run;
  if (!input.migrating || run === undefined || run === 'ship') return;
  const contract = pending.filter((file) => file.phase === 'contract');
  if (contract.length === 0) return;
  throw new Error(
    `${contract.map((file) => basename(file.path)).join(', ')} ${contract.length === 1 ? 'is a contract migration' : 'are contract migrations'} (-- ship:phase contract), ` +
      `but database.migrate.run runs \`${run.command}\`, which applies every pending file before the rollout, while the old code still runs: ` +
      "ship it with a later release, once no running code needs what it removes, or let ship apply the files (run: 'ship') so it runs after the last instance",
  );
}

/**
 * Refuses on what the trace saw on existing tables: rewrites and catalog changes the running code
 * cannot live with, from any statement; blocking locks from statements static lint cannot see
 * into (DO blocks, function calls). A lock from a statement the lint rules judged (an ALTER TABLE
 * after SET lock_timeout) was already accepted by them, so it is reported, not refused. A finding
 * on a statement whose lint finding was suppressed with a reason counts as reviewed.
 */
function judgeTrace(trace: TraceResult, lint: LintReport | undefined): string {
  if (trace.failure) {
    const { file, line, message } = trace.failure;
    throw new Error(`${file}:${line}: fails on a copy of the primary's schema (${trace.scratch.database}), so it would fail in the deploy too: ${message}`);
  }
  const reviewed = (finding: TraceFinding) =>
    lint !== undefined &&
    finding.line !== undefined &&
    lint.suppressed.some((s) => s.file === finding.file && s.line >= finding.line! && s.line <= (finding.endLine ?? finding.line!));
  const judged = judgedNodeTypes(allRules);
  const lintedLock = (finding: TraceFinding) => finding.kind === 'lock' && finding.statementKind !== undefined && judged.has(finding.statementKind);
  const refused = trace.findings.filter((finding) => !reviewed(finding) && !lintedLock(finding));
  const locks = trace.findings.filter((finding) => !reviewed(finding) && lintedLock(finding)).length;
  const waived = trace.findings.length - refused.length - locks;
  if (refused.length > 0) {
    throw new Error(
      `trace on ${trace.scratch.database}: ${refused.length} change(s) to existing tables would lock the site or break the code still running:\n` +
        refused.map((f) => `${f.file}:${f.line ?? '?'} ${f.kind}: ${f.detail}`).join('\n') +
        '\n(the trace ran the pending migrations in a transaction on a scratch copy of the schema and rolled them back)',
    );
  }
  const skipped = trace.skipped.length ? `, ${trace.skipped.length} not traceable in a transaction` : '';
  return `${trace.statementsTraced} statement(s) traced on ${trace.scratch.database}: nothing unsafe${locks ? ` (${locks} lock(s) from statements the lint rules accepted)` : ''}${waived ? `, ${waived} reviewed change(s)` : ''}${skipped}`;
}
