/**
 * The database pre-flight of a deploy, in one call: which migrations are pending on the primary,
 * whether every replica and read path is close behind and on the primary's schema version, and
 * whether the primary can take the connections the fleet may open during the rollout.
 * Problems refuse the deploy unless an override with a reason is given; the override and the
 * problems it waived are returned so the caller can record them.
 */
import type { MigrationFile } from '../../migrations/migration-file.js';
import { changedAppliedFiles, describeSchemaVersion, pendingVersions, readAppliedVersions, type AppliedVersions, type VersionSource } from './applied-versions.js';
import { connect, DEFAULT_CONNECT_TIMEOUT_MS } from './connect.js';
import { planConnectionBudget, readConnectionCapacity, type ConnectionBudget, type FleetDemand } from './connection-budget.js';
import { checkReadPaths, readPathProblems, type ReadPathResult } from './read-paths.js';
import { describeDatabase } from '../../util/redact-url.js';
import { checkReplicas, replicaProblems, type ReplicaResult } from './replicas.js';

export interface DatabasePreflightOptions {
  primaryUrl: string;
  /** Versions of the migration files on disk (from migration discovery). */
  onDiskVersions: readonly string[];
  /** The files on disk with the checksums their tool records, for a version table that keeps them (sqlx): an applied one that changed is a problem. */
  onDiskChecksums?: ReadonlyArray<Pick<MigrationFile, 'path' | 'version' | 'checksum'>>;
  versionSource?: VersionSource;
  replicas?: readonly string[];
  readPaths?: readonly string[];
  maxLagMs?: number;
  maxLagBytes?: number;
  readPathSamples?: number;
  connectTimeoutMs?: number;
  /** Checked when given: the fleet's demand, and the role the app connects as (its current connections are part of the demand). */
  connectionBudget?: FleetDemand & { appRole?: string };
  /** The run waits for replicas and read paths to show the primary's schema version after its migrations (database.migrate). */
  versionWaitedFor?: boolean;
  /** Go on despite the problems found; the reason is required and is returned for the journal. */
  allowUnsafe?: { reason: string };
}

export interface DatabasePreflightResult {
  /** No problems, or problems waived by allowUnsafe. */
  ok: boolean;
  primary: string;
  /** server_version_num of the primary (e.g. 150018), for the lint rules that depend on it. */
  serverVersionNum: number;
  applied: AppliedVersions;
  /** On-disk versions the primary has not applied, in version order. */
  pending: string[];
  replicas: ReplicaResult[];
  readPaths: ReadPathResult[];
  connectionBudget?: ConnectionBudget;
  /** One line per problem, each naming the database by host:port/dbname. */
  problems: string[];
  /** Present when problems were waived: what was waived and why. */
  override?: { reason: string; problems: string[] };
}

/**
 * Runs the checks. Throws a DatabaseCheckError when the primary cannot be asked at all (unreachable,
 * no version table): without the primary's state nothing can be compared, and that is not waivable.
 */
export async function checkDatabase(options: DatabasePreflightOptions): Promise<DatabasePreflightResult> {
  if (options.allowUnsafe && options.allowUnsafe.reason.trim() === '') {
    throw new Error('database.allowUnsafe.reason is empty: say why the database checks may be waived, it is recorded in the journal');
  }
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const versionSource = options.versionSource ?? {};
  const primaryName = describeDatabase(options.primaryUrl);
  const primary = await connect(options.primaryUrl, { role: 'primary', connectTimeoutMs, statementTimeoutMs: 30_000 });
  try {
    const { rows } = await primary.query<{ version: number }>(`select current_setting('server_version_num')::int as version`);
    const applied = await readAppliedVersions(primary, versionSource, { databaseUrl: options.primaryUrl, role: 'primary' });
    const problems: string[] = [];
    if (applied.dirty) {
      const what = applied.repair ?? `is dirty at version ${describeSchemaVersion(applied)}: a migration failed halfway; repair it (e.g. \`migrate force\`)`;
      problems.push(`primary ${primaryName}: ${applied.source} ${what} before deploying`);
    }
    problems.push(...changedAppliedFiles(applied, options.onDiskChecksums ?? []).map((problem) => `primary ${primaryName}: ${problem}`));
    const [replicas, readPaths] = await Promise.all([
      checkReplicas({
        primary,
        primaryVersion: applied,
        replicas: options.replicas ?? [],
        versionSource,
        maxLagMs: options.maxLagMs,
        maxLagBytes: options.maxLagBytes,
        connectTimeoutMs,
        ...(options.versionWaitedFor ? { versionWaitedFor: true } : {}),
      }),
      checkReadPaths({
        readPaths: options.readPaths ?? [],
        primaryVersion: applied,
        versionSource,
        samples: options.readPathSamples,
        connectTimeoutMs,
        ...(options.versionWaitedFor ? { versionWaitedFor: true } : {}),
      }),
    ]);
    problems.push(...replicaProblems(replicas), ...readPathProblems(readPaths));

    let connectionBudget: ConnectionBudget | undefined;
    if (options.connectionBudget) {
      const { appRole, ...demand } = options.connectionBudget;
      const capacity = await readConnectionCapacity(primary, { appRole });
      connectionBudget = planConnectionBudget(capacity, demand, `primary ${primaryName}`);
      if (!connectionBudget.fits) problems.push(connectionBudget.message);
    }

    const waived = problems.length > 0 && options.allowUnsafe !== undefined;
    return {
      ok: problems.length === 0 || waived,
      primary: primaryName,
      serverVersionNum: rows[0]!.version,
      applied,
      pending: pendingVersions(options.onDiskVersions, applied),
      replicas,
      readPaths,
      ...(connectionBudget ? { connectionBudget } : {}),
      problems,
      ...(waived ? { override: { reason: options.allowUnsafe!.reason.trim(), problems } } : {}),
    };
  } finally {
    await primary.end().catch(() => undefined);
  }
}
