import pg from 'pg';
import { pgConnectionConfig } from '../../util/pg-connection.js';
import { describeDatabase, scrubSecrets } from '../../util/redact-url.js';
import { MigrationFailedError } from './errors.js';

export interface PrimaryConnectionOptions {
  /** Shown in pg_stat_activity, so a DBA can tell ship's sessions apart. */
  readonly applicationName: string;
  readonly connectTimeoutMs: number;
  /** Client-side limit for each query; none for the applier, whose statements take as long as they take. */
  readonly queryTimeoutMs?: number;
}

/** One connection to the primary; a failure names host:port/db, never the password. */
export async function connectPrimary(databaseUrl: string, options: PrimaryConnectionOptions): Promise<pg.Client> {
  const client = new pg.Client({
    ...pgConnectionConfig(databaseUrl),
    application_name: options.applicationName,
    connectionTimeoutMillis: options.connectTimeoutMs,
    // A primary that vanishes mid-statement must not hold the run forever.
    keepAlive: true,
    ...(options.queryTimeoutMs === undefined ? {} : { query_timeout: options.queryTimeoutMs }),
  });
  // A server that goes away between queries emits 'error'; the next query rejects with it anyway.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw new MigrationFailedError(`primary ${describeDatabase(databaseUrl)}: cannot connect to apply migrations: ${scrubSecrets((error as Error).message, databaseUrl)}`);
  }
  return client;
}
