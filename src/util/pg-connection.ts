/**
 * What the pg driver is given for a connection string (`state.url`, `database.primary`...). pg's own
 * parser (pg-connection-string) takes URLs only: a libpq key/value string such as
 * `host=db1 port=5432 dbname=app user=ship password=...`, which PostgreSQL's own tools accept and
 * ship documents, was read as a host name and failed with ENOTFOUND. A key/value string is turned
 * into the driver's config object here: its parameters go through the same parser (as the query of
 * an empty URL), so sslmode, sslrootcert and the rest mean what they mean in a URL; the database
 * name is set afterwards, because the parser only reads it from a URL's path.
 *
 * The result holds the password: it is for the driver only, never for a message (redact-url.ts).
 */
import { parseIntoClientConfig } from 'pg-connection-string';
import { keyValueParameters } from './redact-url.js';

export type PgConnectionConfig = ReturnType<typeof parseIntoClientConfig>;

export function pgConnectionConfig(connectionString: string): PgConnectionConfig {
  const parameters = keyValueParameters(connectionString);
  if (!parameters) return { connectionString };
  const query = new URLSearchParams();
  let database: string | undefined;
  let hostaddr: string | undefined;
  for (const { key, value } of parameters) {
    if (key === 'dbname') database = value;
    // libpq connects to hostaddr (a numeric address) when both are given; pg knows only host.
    else if (key === 'hostaddr') hostaddr = value;
    else query.set(key, value);
  }
  if (hostaddr !== undefined) query.set('host', hostaddr);
  const config = parseIntoClientConfig(`postgresql://?${query.toString()}`);
  if (database !== undefined) config.database = database;
  return config;
}
