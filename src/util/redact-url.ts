/**
 * Connection strings carry passwords; messages, logs and the command lines of child processes
 * (visible in `ps`) must name a database without them.
 * Handles URLs (`postgres://user:pass@host:port/db?sslmode=require`, multi-host lists, passwords
 * with unencoded `@`) and libpq key/value strings (`host=db1 password=secret dbname=app`).
 */

const MASK = '***';

interface UrlParts {
  scheme: string;
  user?: string;
  password?: string;
  hosts: string;
  database?: string;
  query?: string;
}

function splitUrl(connectionString: string): UrlParts | undefined {
  const schemeMatch = /^([a-z][a-z0-9+.-]*):\/\//i.exec(connectionString);
  if (!schemeMatch) return undefined;
  const scheme = schemeMatch[1]!;
  let rest = connectionString.slice(schemeMatch[0].length);
  // The last '@' ends the user info, so a password with an unencoded '@' stays whole.
  const at = rest.lastIndexOf('@');
  let user: string | undefined;
  let password: string | undefined;
  if (at >= 0) {
    const userInfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = userInfo.indexOf(':');
    user = colon >= 0 ? userInfo.slice(0, colon) : userInfo;
    password = colon >= 0 ? userInfo.slice(colon + 1) : undefined;
  }
  const queryStart = rest.indexOf('?');
  const query = queryStart >= 0 ? rest.slice(queryStart + 1) : undefined;
  const beforeQuery = queryStart >= 0 ? rest.slice(0, queryStart) : rest;
  const slash = beforeQuery.indexOf('/');
  const hosts = slash >= 0 ? beforeQuery.slice(0, slash) : beforeQuery;
  const database = slash >= 0 ? beforeQuery.slice(slash + 1) : undefined;
  return { scheme, user, password, hosts, database, query };
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** libpq key/value pairs; values may be single-quoted with backslash escapes. */
interface KeyValuePair {
  key: string;
  value: string;
  /** Where the whole `key=value` starts. */
  pairStart: number;
  /** Where the raw value starts and ends. */
  start: number;
  end: number;
}

function keyValuePairs(connectionString: string): KeyValuePair[] {
  const pairs: KeyValuePair[] = [];
  const pattern = /([A-Za-z_]+)\s*=\s*('(?:[^'\\]|\\.)*'|\S*)/g;
  for (let match = pattern.exec(connectionString); match; match = pattern.exec(connectionString)) {
    const raw = match[2]!;
    const value = raw.startsWith("'") ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
    const valueStart = match.index + match[0].length - raw.length;
    pairs.push({ key: match[1]!.toLowerCase(), value, pairStart: match.index, start: valueStart, end: valueStart + raw.length });
  }
  return pairs;
}

/**
 * The parameters of a libpq key/value string (`host=db1 password='s p' dbname=app`), keys in lower
 * case and values unquoted; undefined for a URL or a string with no `key=value` in it.
 */
export function keyValueParameters(connectionString: string): Array<{ key: string; value: string }> | undefined {
  if (splitUrl(connectionString)) return undefined;
  const pairs = keyValuePairs(connectionString);
  return pairs.length > 0 ? pairs.map(({ key, value }) => ({ key, value })) : undefined;
}

function queryParam(query: string | undefined, name: string): string | undefined {
  if (!query) return undefined;
  for (const part of query.split('&')) {
    const eq = part.indexOf('=');
    if (eq >= 0 && part.slice(0, eq) === name) return safeDecode(part.slice(eq + 1));
  }
  return undefined;
}

/** `host:port/dbname` for messages: never the user's password, nor the user name. */
export function describeDatabase(connectionString: string): string {
  const url = splitUrl(connectionString);
  if (url) {
    const hosts = url.hosts
      ? url.hosts
          .split(',')
          .map((host) => (/:\d+$/.test(host) ? host : `${host}:5432`))
          .join(',')
      : `${queryParam(url.query, 'host') ?? 'localhost'}:${queryParam(url.query, 'port') ?? '5432'}`;
    const database = url.database ? safeDecode(url.database) : (queryParam(url.query, 'dbname') ?? safeDecode(url.user ?? ''));
    return `${safeDecode(hosts)}/${database}`;
  }
  const pairs = new Map(keyValuePairs(connectionString).map((pair) => [pair.key, pair.value]));
  if (pairs.size === 0) return '(unparseable connection string)';
  return `${pairs.get('host') ?? pairs.get('hostaddr') ?? 'localhost'}:${pairs.get('port') ?? '5432'}/${pairs.get('dbname') ?? pairs.get('user') ?? ''}`;
}

/** The connection string with every password replaced by `***` (user info and `password=` parameters). */
export function redactUrl(connectionString: string): string {
  const url = splitUrl(connectionString);
  if (url) {
    const userInfo = url.user === undefined ? '' : `${url.user}${url.password === undefined ? '' : `:${MASK}`}@`;
    const path = url.database === undefined ? '' : `/${url.database}`;
    const query =
      url.query === undefined
        ? ''
        : `?${url.query
            .split('&')
            .map((part) => (/^password=/i.test(part) ? `password=${MASK}` : part))
            .join('&')}`;
    return `${url.scheme}://${userInfo}${url.hosts}${path}${query}`;
  }
  let redacted = connectionString;
  for (const pair of keyValuePairs(connectionString).reverse()) {
    if (pair.key === 'password') redacted = `${redacted.slice(0, pair.start)}${MASK}${redacted.slice(pair.end)}`;
  }
  return redacted;
}

/** Every password the connection string holds, raw and decoded, to scrub from foreign text. */
function passwordsOf(connectionString: string): string[] {
  const url = splitUrl(connectionString);
  const found: string[] = [];
  if (url) {
    if (url.password) found.push(url.password, safeDecode(url.password));
    const fromQuery = queryParam(url.query, 'password');
    if (fromQuery) found.push(fromQuery);
  } else {
    for (const pair of keyValuePairs(connectionString)) if (pair.key === 'password' && pair.value) found.push(pair.value);
  }
  return [...new Set(found.filter((password) => password.length > 0))].sort((a, b) => b.length - a.length);
}

/**
 * Removes the connection string's password (and the connection string itself) from text that came
 * from elsewhere, such as a driver's error message, before it reaches a message or a log.
 */
export function scrubSecrets(text: string, connectionString: string): string {
  let scrubbed = text.split(connectionString).join(redactUrl(connectionString));
  for (const password of passwordsOf(connectionString)) scrubbed = scrubbed.split(password).join(MASK);
  return scrubbed;
}

/** The password a connection string holds (user info or `password=`), decoded; undefined when none. */
export function passwordOf(connectionString: string): string | undefined {
  const url = splitUrl(connectionString);
  if (url) return url.password !== undefined ? safeDecode(url.password) : queryParam(url.query, 'password');
  return keyValuePairs(connectionString).find((pair) => pair.key === 'password')?.value;
}

/** The connection string without its password, for a child process that gets it through PGPASSWORD. */
export function withoutPassword(connectionString: string): string {
  const url = splitUrl(connectionString);
  if (url) {
    const userInfo = url.user === undefined ? '' : `${url.user}@`;
    const query = url.query
      ?.split('&')
      .filter((part) => !/^password=/i.test(part))
      .join('&');
    return `${url.scheme}://${userInfo}${url.hosts}${url.database === undefined ? '' : `/${url.database}`}${query ? `?${query}` : ''}`;
  }
  let stripped = connectionString;
  for (const pair of keyValuePairs(connectionString).reverse()) {
    if (pair.key === 'password') stripped = `${stripped.slice(0, pair.pairStart)}${stripped.slice(pair.end)}`;
  }
  return stripped.replace(/\s+/g, ' ').trim();
}

/** The same server and credentials, another database (for a scratch database next to the primary's). */
export function withDatabaseName(connectionString: string, database: string): string {
  const url = splitUrl(connectionString);
  if (url) {
    const userInfo = url.user === undefined ? '' : `${url.user}${url.password === undefined ? '' : `:${url.password}`}@`;
    const query = url.query
      ?.split('&')
      .filter((part) => !/^dbname=/i.test(part))
      .join('&');
    return `${url.scheme}://${userInfo}${url.hosts}/${encodeURIComponent(database)}${query ? `?${query}` : ''}`;
  }
  const quoted = `'${database.replace(/(['\\])/g, '\\$1')}'`;
  const dbname = keyValuePairs(connectionString).find((pair) => pair.key === 'dbname');
  if (!dbname) return `${connectionString} dbname=${quoted}`;
  return `${connectionString.slice(0, dbname.start)}${quoted}${connectionString.slice(dbname.end)}`;
}
