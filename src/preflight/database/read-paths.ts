/**
 * Read paths: the connection strings the app really reads through (pgbouncer, pgpool, a DNS name
 * over several replicas). One connection can land on a healthy server while the next lands on a
 * stale one, so each path is sampled with several fresh connections and every one of them must
 * report the primary's schema version.
 */
import { describeSchemaVersion, readAppliedVersions, sameSchemaVersion, type AppliedVersions, type VersionSource } from './applied-versions.js';
import { DatabaseCheckError, DEFAULT_CONNECT_TIMEOUT_MS, driverMessage, withConnection } from './connect.js';
import { describeDatabase } from '../../util/redact-url.js';

export interface ReadPathCheckOptions extends ReadPathSampling {
  readPaths: readonly string[];
}

/** How one read path is sampled and what it must report. */
export interface ReadPathSampling {
  primaryVersion: AppliedVersions;
  versionSource: VersionSource;
  /** Fresh connections per path (default 5). */
  samples?: number;
  connectTimeoutMs?: number;
  /** For each query on a sample connection (default 30 s). */
  queryTimeoutMs?: number;
  /** A deploy that applies migrations waits for the read paths to show the new schema version after them: a difference now is not refused. */
  versionWaitedFor?: boolean;
}

export interface ReadPathSample {
  version: string | null;
  /** The server that answered, as it sees itself (inet_server_addr:inet_server_port); null over a unix socket. */
  server: string | null;
  error?: string;
}

export interface ReadPathResult {
  name: string;
  ok: boolean;
  samples: ReadPathSample[];
  problem?: string;
}

export const DEFAULT_READ_PATH_SAMPLES = 5;

async function sample(url: string, options: ReadPathSampling): Promise<{ sample: ReadPathSample; applied?: AppliedVersions }> {
  try {
    const connection = { role: 'read path', connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, queryTimeoutMs: options.queryTimeoutMs };
    return await withConnection(url, connection, async (client) => {
      const { rows } = await client.query<{ server: string | null }>(`select host(inet_server_addr()) || ':' || inet_server_port()::text as server`);
      const applied = await readAppliedVersions(client, options.versionSource, { databaseUrl: url, role: 'read path' });
      return { sample: { version: describeSchemaVersion(applied), server: rows[0]?.server ?? null }, applied };
    });
  } catch (error) {
    const message = error instanceof DatabaseCheckError ? error.message : driverMessage(error, url);
    return { sample: { version: null, server: null, error: message } };
  }
}

/** Samples one read path with fresh connections, one after another: ok when every one reports the primary's schema version. */
export async function checkReadPath(url: string, options: ReadPathSampling): Promise<ReadPathResult> {
  const name = describeDatabase(url);
  const count = options.samples ?? DEFAULT_READ_PATH_SAMPLES;
  const samples: ReadPathSample[] = [];
  const stale = new Map<string, Set<string>>();
  const failures: string[] = [];
  for (let i = 0; i < count; i++) {
    const { sample: seen, applied } = await sample(url, options);
    samples.push(seen);
    if (!applied) failures.push(seen.error ?? 'unknown error');
    else if (!options.versionWaitedFor && !sameSchemaVersion(applied, options.primaryVersion)) {
      const servers = stale.get(seen.version!) ?? new Set<string>();
      servers.add(seen.server ?? 'a unix socket');
      stale.set(seen.version!, servers);
    }
  }
  const problems: string[] = [];
  for (const [version, servers] of stale) {
    const hits = samples.filter((s) => s.version === version).length;
    problems.push(
      `${hits} of ${count} connections reported schema version ${version} (served by ${[...servers].join(', ')}), but the primary is at ${describeSchemaVersion(options.primaryVersion)}`,
    );
  }
  if (failures.length > 0) {
    problems.push(`${failures.length} of ${count} connections failed, so the version it serves is unknown: ${[...new Set(failures)].join('; ')}`);
  }
  return problems.length > 0 ? { name, ok: false, samples, problem: problems.join('; ') } : { name, ok: true, samples };
}

/** Checks every read path (paths in parallel, samples of one path one after another). */
export function checkReadPaths(options: ReadPathCheckOptions): Promise<ReadPathResult[]> {
  return Promise.all(options.readPaths.map((url) => checkReadPath(url, options)));
}

export function readPathProblems(results: readonly ReadPathResult[]): string[] {
  return results.filter((result) => !result.ok).map((result) => `read path ${result.name}: ${result.problem ?? 'not ok'}`);
}
