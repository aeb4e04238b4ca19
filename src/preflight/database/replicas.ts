/**
 * Replica pre-flight: every replica must be reachable, really a replica, close enough behind the
 * primary, and on the primary's schema version. Anything unknown is a problem (fail closed).
 */
import type pg from 'pg';
import { describeSchemaVersion, readAppliedVersions, sameSchemaVersion, type AppliedVersions, type VersionSource } from './applied-versions.js';
import { connect, DatabaseCheckError, DEFAULT_CONNECT_TIMEOUT_MS, driverMessage } from './connect.js';
import { describeDatabase } from '../../util/redact-url.js';

export interface ReplicaCheckOptions {
  /** An open connection to the primary (WAL positions are read there). */
  primary: pg.Client;
  /** The primary's applied versions, read with the same VersionSource. */
  primaryVersion: AppliedVersions;
  replicas: readonly string[];
  versionSource: VersionSource;
  /** Refuse a replica further behind than this (default 10 s). */
  maxLagMs?: number;
  /** Refuse a replica further behind than this many bytes of WAL (no limit when omitted). */
  maxLagBytes?: number;
  connectTimeoutMs?: number;
  /**
   * How long to watch a replica that is behind catch up to the primary's position before calling
   * its lag at least that long (default: the smaller of 1 s and maxLagMs).
   */
  catchUpWindowMs?: number;
}

export interface ReplicaResult {
  /** host:port/dbname; never the password. */
  name: string;
  ok: boolean;
  lagBytes: number | null;
  lagSeconds: number | null;
  /** The replica's schema version as describeSchemaVersion prints it. */
  version: string | null;
  replayPaused: boolean | null;
  problem?: string;
}

export const DEFAULT_MAX_REPLICA_LAG_MS = 10_000;
const POLL_INTERVAL_MS = 25;

interface ReplicaPosition {
  replayLsn: string | null;
  paused: boolean;
  secondsSinceLastReplay: number | null;
}

async function replicaPosition(replica: pg.Client): Promise<ReplicaPosition> {
  const { rows } = await replica.query<{ replay: string | null; paused: boolean; since: string | null }>(
    `select pg_last_wal_replay_lsn()::text as replay,
            pg_is_wal_replay_paused() as paused,
            extract(epoch from now() - pg_last_xact_replay_timestamp())::text as since`,
  );
  const row = rows[0]!;
  return { replayLsn: row.replay, paused: row.paused, secondsSinceLastReplay: row.since === null ? null : Number(row.since) };
}

/** Bytes of WAL from `lsn` up to `target`, computed by the server (pg_lsn arithmetic). */
async function walBytesBetween(client: pg.Client, lsn: string, target: string): Promise<number> {
  const { rows } = await client.query<{ diff: string }>('select pg_wal_lsn_diff($2::pg_lsn, $1::pg_lsn)::text as diff', [lsn, target]);
  return Number(rows[0]!.diff);
}

interface Lag {
  bytes: number;
  seconds: number;
  paused: boolean;
}

/**
 * Bytes: the primary's current WAL position minus the replica's replay position (read replica first,
 * so a concurrent write can only make the figure larger). Seconds: zero when nothing is missing;
 * otherwise the time the replica takes to replay up to that position, watched for up to the
 * catch-up window. A replica that does not catch up within it is behind by at least the window and
 * by at most the age of the last transaction it replayed; the larger is reported.
 */
async function measureLag(primary: pg.Client, replica: pg.Client, catchUpWindowMs: number): Promise<Lag> {
  const started = Date.now();
  const before = await replicaPosition(replica);
  if (before.replayLsn === null) throw new Error('has not replayed any WAL yet (pg_last_wal_replay_lsn() is null)');
  const { rows } = await primary.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn');
  const primaryLsn = rows[0]!.lsn;
  const bytes = Math.max(0, await walBytesBetween(primary, before.replayLsn, primaryLsn));
  if (bytes === 0) return { bytes, seconds: 0, paused: before.paused };

  let latest = before;
  for (;;) {
    const remaining = await walBytesBetween(replica, latest.replayLsn ?? before.replayLsn, primaryLsn);
    const elapsed = Date.now() - started;
    if (remaining <= 0) return { bytes, seconds: elapsed / 1000, paused: latest.paused };
    if (elapsed >= catchUpWindowMs) {
      const sinceReplay = latest.secondsSinceLastReplay ?? 0;
      return { bytes, seconds: Math.max(elapsed / 1000, sinceReplay), paused: latest.paused };
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_INTERVAL_MS, catchUpWindowMs - elapsed)));
    latest = await replicaPosition(replica);
  }
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} kB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

async function checkOneReplica(url: string, options: ReplicaCheckOptions): Promise<ReplicaResult> {
  const name = describeDatabase(url);
  const result: ReplicaResult = { name, ok: false, lagBytes: null, lagSeconds: null, version: null, replayPaused: null };
  let replica: pg.Client;
  try {
    replica = await connect(url, { role: 'replica', connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS });
  } catch (error) {
    return { ...result, problem: `unreachable, so its lag and schema version are unknown: ${(error as Error).message.replace(`replica ${name}: `, '')}` };
  }
  try {
    const { rows } = await replica.query<{ in_recovery: boolean }>('select pg_is_in_recovery() as in_recovery');
    if (!rows[0]?.in_recovery) {
      return {
        ...result,
        problem: 'is not a replica: pg_is_in_recovery() is false, so this URL points at a primary (or a promoted replica); list only streaming replicas in database.replicas',
      };
    }
    const maxLagMs = options.maxLagMs ?? DEFAULT_MAX_REPLICA_LAG_MS;
    const lag = await measureLag(options.primary, replica, options.catchUpWindowMs ?? Math.min(1000, maxLagMs));
    const version = await readAppliedVersions(replica, options.versionSource, { databaseUrl: url, role: 'replica' });
    Object.assign(result, {
      lagBytes: lag.bytes,
      lagSeconds: Math.round(lag.seconds * 1000) / 1000,
      version: describeSchemaVersion(version),
      replayPaused: lag.paused,
    });

    const problems: string[] = [];
    const figures = `${formatBytes(lag.bytes)} (${lag.bytes} bytes) and ${result.lagSeconds} s behind the primary`;
    const paused =
      lag.paused && lag.bytes > 0 ? '; its WAL replay is paused (pg_wal_replay_pause()), so it falls further behind with every write: resume it with pg_wal_replay_resume()' : '';
    if (lag.seconds * 1000 > maxLagMs) problems.push(`lags ${figures}, more than maxReplicaLag ${maxLagMs / 1000} s${paused}`);
    else if (options.maxLagBytes !== undefined && lag.bytes > options.maxLagBytes) {
      problems.push(`lags ${figures}, more than maxReplicaLagBytes ${options.maxLagBytes}${paused}`);
    } else if (paused) problems.push(`is ${figures}${paused}`);
    if (!sameSchemaVersion(version, options.primaryVersion)) {
      problems.push(`reports schema version ${describeSchemaVersion(version)}, but the primary is at ${describeSchemaVersion(options.primaryVersion)} (${version.source})`);
    }
    if (problems.length > 0) return { ...result, problem: problems.join('; ') };
    return { ...result, ok: true };
  } catch (error) {
    const message = error instanceof DatabaseCheckError ? error.message : driverMessage(error, url);
    return { ...result, problem: `could not be checked: ${message}` };
  } finally {
    await replica.end().catch(() => undefined);
  }
}

/** Checks every replica in parallel; never throws for one replica's trouble, it reports it in the result. */
export function checkReplicas(options: ReplicaCheckOptions): Promise<ReplicaResult[]> {
  return Promise.all(options.replicas.map((url) => checkOneReplica(url, options)));
}

/** One line per problem, naming the replica by host:port/dbname. */
export function replicaProblems(results: readonly ReplicaResult[]): string[] {
  return results.filter((result) => !result.ok).map((result) => `replica ${result.name}: ${result.problem ?? 'not ok'}`);
}
