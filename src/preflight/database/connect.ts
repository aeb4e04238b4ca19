import pg from 'pg';
import { pgConnectionConfig } from '../../util/pg-connection.js';
import { describeDatabase, scrubSecrets } from '../../util/redact-url.js';
import { ERROR_CODES, type CodedError } from '../../errors/codes.js';

/**
 * A database check that could not be done; the message names the database, never its password.
 * The driver's error is not attached as `cause`: its fields are not vetted for secrets.
 */
export class DatabaseCheckError extends Error implements CodedError {
  constructor(message: string) {
    super(message);
    this.name = 'DatabaseCheckError';
  }

  get shipCode() {
    return ERROR_CODES.databaseCheckFailed;
  }
}

export interface ConnectOptions {
  /** What the database is to the rollout, for messages: 'primary', 'replica', 'read path', 'scratch database'. */
  role: string;
  connectTimeoutMs?: number;
  /** Server-side statement_timeout for every query on this connection; none when omitted. */
  statementTimeoutMs?: number;
  /**
   * Client-side limit for every query, which also covers a server that stops answering mid-query
   * (a network black hole); default 30 s.
   */
  queryTimeoutMs?: number;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
export const DEFAULT_QUERY_TIMEOUT_MS = 30_000;
const APPLICATION_NAME = 'ship-preflight';

/** The driver's message with the connection string's password removed. */
export function driverMessage(error: unknown, connectionString: string): string {
  const message = error instanceof Error ? error.message || error.name : String(error);
  return scrubSecrets(message, connectionString);
}

/** Opens one connection; a failure is a DatabaseCheckError naming `role host:port/dbname`. */
export async function connect(connectionString: string, options: ConnectOptions): Promise<pg.Client> {
  const client = new pg.Client({
    // A URL or a libpq key/value string, which pg alone would take for a host name.
    ...pgConnectionConfig(connectionString),
    connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    application_name: APPLICATION_NAME,
    query_timeout: options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS,
    ...(options.statementTimeoutMs === undefined ? {} : { statement_timeout: options.statementTimeoutMs }),
  });
  // A server that goes away between queries emits 'error' on the client; the next query rejects
  // with it anyway, so the event must not crash the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw new DatabaseCheckError(`${options.role} ${describeDatabase(connectionString)}: cannot connect: ${driverMessage(error, connectionString)}`);
  }
  return client;
}

export async function withConnection<T>(connectionString: string, options: ConnectOptions, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connect(connectionString, options);
  try {
    return await use(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
