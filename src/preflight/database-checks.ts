import type { LoadedConfig } from '../config/load.js';
import { resolvePath } from '../config/load.js';
import type { EventBus } from '../events.js';
import { lintMigrations } from '../lint/engine.js';
import { compileMigrationPattern } from '../migrations/file-name.js';
import { discoverMigrations } from '../migrations/discovery.js';
import { checkDatabase } from './database/preflight.js';
import type { PreflightCheck } from './preflight.js';

export interface DatabaseCheckInput {
  loaded: LoadedConfig;
  bus: EventBus;
  /** Instances in the fleet and the largest batch, for the connection budget. */
  instances: number;
  batchSize: number;
}

/**
 * The schema pre-flight: replicas caught up and on the primary's schema version, the
 * connection budget, then a lint of the pending migrations (those on disk the primary has not
 * applied) against the running code. Nothing runs when the config has no `database`.
 */
export function databaseChecks(input: DatabaseCheckInput): PreflightCheck[] {
  const database = input.loaded.config.database;
  if (!database) return [];
  const migrations = database.migrations;
  let discovery: Awaited<ReturnType<typeof discoverMigrations>> | undefined;
  let pending: string[] = [];
  let serverVersionNum = 0;
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
          versionSource: {
            ...(database.versionTable ? { versionTable: database.versionTable } : {}),
            ...(database.versionQuery ? { versionQuery: database.versionQuery } : {}),
          },
          replicas: database.replicas,
          readPaths: database.readPaths,
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
          ...(database.allowUnsafe ? { allowUnsafe: database.allowUnsafe } : {}),
        });
        pending = result.pending;
        serverVersionNum = result.serverVersionNum;
        if (result.override) {
          input.bus.emit({ type: 'warning', message: `database checks waived (${result.override.reason}): ${result.override.problems.join('; ')}` });
        }
        if (!result.ok) throw new Error(result.problems.join('\n'));
        const replicaText = result.replicas.map((r) => `${r.name} lag ${r.lagBytes}B/${r.lagSeconds}s`).join(', ');
        return `schema ${result.applied.latest ?? "empty"}; ${pending.length} pending migration(s)${replicaText ? `; ${replicaText}` : ''}`;
      },
    },
  ];
  if (migrations) {
    checks.push({
      name: 'migrations',
      async run() {
        const files = discovery?.migrations.filter((m) => pending.includes(m.version)) ?? [];
        if (files.length === 0) return 'nothing pending';
        const applied = discovery?.migrations.filter((m) => !pending.includes(m.version)) ?? [];
        const report = await lintMigrations(files, {
          pgVersion: migrations.pgVersion ?? (Math.floor(serverVersionNum / 10_000) || 15),
          transactionPerFile: migrations.transactionPerFile,
          history: applied,
        });
        const errors = report.findings.filter((f) => f.severity === 'error');
        if (errors.length > 0) {
          throw new Error(
            `${errors.length} pending migration finding(s) would break the code still running or lock the site:\n` +
              errors.map((f) => `${f.file}:${f.line}:${f.column} ${f.ruleId}: ${f.message}`).join('\n') +
              '\n(see `ship lint-migrations` for the safe alternatives; suppress a reviewed one with -- ship:allow <rule> <reason>)',
          );
        }
        return `${files.length} pending migration(s) linted, ${report.warningCount} warning(s)`;
      },
    });
  }
  return checks;
}
