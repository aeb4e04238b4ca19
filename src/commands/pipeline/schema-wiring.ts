/**
 * Builds a deploy's schema stages from the config: which runner applies the migrations (ship
 * itself, or the team's command here or on one host), and the replica gate. Only a deploy of the
 * deploy playbook applies migrations; a patch, a rollback or a restore never does.
 */
import { basename } from 'node:path';
import { applyMigrations } from '../../migrations/apply/apply.js';
import { runMigrationCommand } from '../../migrations/command/run-command.js';
import type { MigrationFile } from '../../migrations/discovery.js';
import type { DatabasePreflight } from '../../preflight/database-checks.js';
import { versionTableFor } from '../../migrations/layouts/registry.js';
import { pendingVersions, readAppliedVersionsAt, type VersionSource } from '../../preflight/database/applied-versions.js';
import { waitForSchemaVersion } from '../../preflight/database/replica-wait.js';
import { hostAccess } from './host-access.js';
import type { RunJournal } from './run-journal.js';
import type { RunOptions } from './run-options.js';
import { SchemaStages, type MigrationRunner, type PendingMigration, type ReplicaGate } from './schema-stages.js';
import type { RunUnit } from './units.js';

/** A migration tool may run long (a backfill); this only keeps a hung one from holding the lock forever. */
const COMMAND_TIMEOUT_MS = 60 * 60_000;

type Database = NonNullable<RunOptions['loaded']['config']['database']>;
type Migrate = NonNullable<Database['migrate']>;

export function schemaStagesFor(options: RunOptions, units: readonly RunUnit[], journal: RunJournal, preflight: DatabasePreflight): SchemaStages {
  const database = options.loaded.config.database!;
  const pending = preflight.pending();
  const versionSource = preflight.versionSource();
  const migrate = database.migrate!;
  const signal = AbortSignal.any([options.signals.graceful, journal.lost]);
  const byFile = new Map(pending.map((file) => [basename(file.path), file]));
  const runner = migrate.run === 'ship' ? shipRunner(database, migrate, byFile, signal) : commandRunner(options, units, database, migrate, versionSource, signal);
  const gate = database.replicas.length > 0 || database.readPaths.length > 0 ? replicaGate(database, migrate, versionSource, signal) : undefined;
  return new SchemaStages({
    bus: options.bus,
    record: journal.recordStage,
    runner,
    ...(gate ? { replicaGate: gate } : {}),
    pending: pending.map((file): PendingMigration => ({ file: basename(file.path), version: file.version, phase: file.phase })),
    signal,
  });
}

function shipRunner(database: Database, migrate: Migrate, byFile: ReadonlyMap<string, MigrationFile>, signal: AbortSignal): MigrationRunner {
  return {
    kind: 'ship',
    async applyFile(migration, onRetry) {
      const file = byFile.get(migration.file)!;
      await applyMigrations({
        databaseUrl: database.primary,
        migrations: [file],
        versionTable: versionTableFor(file.layout, { ...(database.versionTable ? { versionTable: database.versionTable } : {}) }),
        lockTimeoutMs: migrate.lockTimeout,
        statementTimeoutMs: migrate.statementTimeout,
        retries: migrate.retries,
        connectTimeoutMs: database.connectTimeout,
        signal,
        onProgress: (progress) => {
          if (progress.type !== 'retrying') return;
          const blockers = progress.blockers.map((b) => `pid ${b.pid} (${b.state})`).join(', ');
          onRetry(progress.attempt + 1, progress.waitMs, `line ${progress.line ?? '?'} waited longer than lockTimeout${blockers ? `, held by ${blockers}` : ''}`);
        },
      });
    },
  };
}

function commandRunner(options: RunOptions, units: readonly RunUnit[], database: Database, migrate: Migrate, versionSource: VersionSource, signal: AbortSignal): MigrationRunner {
  const run = migrate.run as Exclude<Migrate['run'], 'ship'>;
  const appliedNow = () => readAppliedVersionsAt(database.primary, versionSource, { role: 'primary', connectTimeoutMs: database.connectTimeout });
  return {
    kind: 'command',
    async runCommand() {
      const before = await appliedNow().catch(() => undefined);
      const host = run.on === 'local' ? undefined : hostAccess(units, run.on);
      try {
        await runMigrationCommand({
          command: run.command,
          on: host ? host.transport : 'local',
          env: { DATABASE_URL: database.primary },
          onOutput: ({ stream, line }) => options.bus.emit({ type: 'output', host: `migrate@${run.on}`, stream, line }),
          signal,
          timeoutMs: COMMAND_TIMEOUT_MS,
        });
      } finally {
        await host?.close();
      }
      const after = await appliedNow();
      return before ? pendingVersions(after.versions, before) : after.versions;
    },
  };
}

function replicaGate(database: Database, migrate: Migrate, versionSource: VersionSource, signal: AbortSignal): ReplicaGate {
  return async (onProgress) => {
    const result = await waitForSchemaVersion({
      primaryUrl: database.primary,
      replicas: database.replicas,
      readPaths: database.readPaths,
      versionSource,
      timeoutMs: migrate.waitForReplicas,
      connectTimeoutMs: database.connectTimeout,
      readPathSamples: database.readPathSamples,
      signal,
      onProgress: (progress) => onProgress(progress.detail),
    });
    return result.detail;
  };
}
