/**
 * Replica pre-flight: every replica must be reachable, really a replica, close enough behind the
 * primary, and on the primary's schema version. Anything unknown is a problem (fail closed).
 */
import type pg from 'pg';
import { describeSchemaVersion, readAppliedVersions, sameSchemaVersion, type AppliedVersions, type VersionSource } from './applied-versions.js';
import { connect, DatabaseCheckError, DEFAULT_CONNECT_TIMEOUT_MS, driverMessage, type ConnectOptions } from './connect.js';
import { describeLag, isReplica, measureLag, NOT_A_REPLICA, PAUSED_REPLAY } from './replica-lag.js';
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
  /** A deploy that applies migrations waits for the replicas to show the new schema version after them: a difference now is not refused. */
  versionWaitedFor?: boolean;
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

/**
 * A connection to the replica at `url`, checked to be one; otherwise what is wrong, worded as a
 * problem of `replica host:port/db` (never with its password). The caller ends the connection.
 */
export async function openReplica(url: string, options: Pick<ConnectOptions, 'connectTimeoutMs' | 'queryTimeoutMs'>): Promise<{ client: pg.Client } | { problem: string }> {
  let client: pg.Client;
  try {
    client = await connect(url, { ...options, role: 'replica' });
  } catch (error) {
    return { problem: `unreachable, so its lag and schema version are unknown: ${(error as Error).message.replace(`replica ${describeDatabase(url)}: `, '')}` };
  }
  try {
    if (await isReplica(client)) return { client };
    await client.end().catch(() => undefined);
    return { problem: NOT_A_REPLICA };
  } catch (error) {
    await client.end().catch(() => undefined);
    return { problem: `could not be checked: ${driverMessage(error, url)}` };
  }
}

async function checkOneReplica(url: string, options: ReplicaCheckOptions): Promise<ReplicaResult> {
  const name = describeDatabase(url);
  const result: ReplicaResult = { name, ok: false, lagBytes: null, lagSeconds: null, version: null, replayPaused: null };
  const opened = await openReplica(url, { connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS });
  if ('problem' in opened) return { ...result, problem: opened.problem };
  const replica = opened.client;
  try {
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
    const figures = describeLag(lag.bytes, result.lagSeconds);
    const paused = lag.paused && lag.bytes > 0 ? `; ${PAUSED_REPLAY}` : '';
    if (lag.seconds * 1000 > maxLagMs) problems.push(`lags ${figures}, more than maxReplicaLag ${maxLagMs / 1000} s${paused}`);
    else if (options.maxLagBytes !== undefined && lag.bytes > options.maxLagBytes) {
      problems.push(`lags ${figures}, more than maxReplicaLagBytes ${options.maxLagBytes}${paused}`);
    } else if (paused) problems.push(`is ${figures}${paused}`);
    if (!options.versionWaitedFor && !sameSchemaVersion(version, options.primaryVersion)) {
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
