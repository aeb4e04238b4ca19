// @ts-check
/**
 * The demo app of the test fleet: a dependency-free HTTP server run from a release directory
 * (`<appDir>/releases/<version>/server.mjs`, started through the `current` symlink).
 *
 *   GET /            {"version":"v2","host":"web1"}   (version from VERSION next to this file)
 *   GET /slow?ms=N   the same after N milliseconds (at most 60 s), for in-flight requests
 *   GET /healthz     200 while serving, 503 once stopping (never touches the database)
 *   GET /ready       the same, unless the release holds a READY_STATUS file (an HTTP status): then
 *                    that status while serving. A test that points HAProxy's check at /ready and
 *                    ship's at /healthz gets a release only the load balancer's check sees broken.
 *
 * A release that reads from PostgreSQL: when APP_READ_URL is set and the release holds a QUERY
 * file (SQL text, next to VERSION), `/` and `/slow` run that query through a small pool on
 * APP_READ_URL (a read replica, say) and answer {"version","host","row"} with its first row, or
 * 500 {"version","host","error"} when it fails; each failure is also logged as one line
 * `<time> <host> <version> read failed: <error>`, so a test can tell which release failed. As
 * in real apps, `/healthz` stays a liveness check, which is why health checks do not catch a
 * release that reads a column its replica does not have yet. `pg` is loaded only then, from
 * APP_PG_MODULE (an absolute path to the module's entry file): the app stays dependency-free.
 *
 * On SIGTERM it stops accepting, answers requests already in flight with `Connection: close`,
 * closes idle keep-alive connections and exits once the last connection is gone. Keep-alive
 * connections otherwise stay open for 10 minutes, so a load balancer that keeps sending to an
 * app being restarted (a missed drain) hits closed connections and refused connects.
 *
 * Environment: APP_ADDRESS, APP_PORT, APP_NAME, APP_PID_FILE (written once listening); optional
 * APP_READ_URL and APP_PG_MODULE (both needed for the query).
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const address = process.env.APP_ADDRESS ?? '127.0.0.1';
const port = Number(process.env.APP_PORT ?? 8080);
const host = process.env.APP_NAME ?? 'app';
const pidFile = process.env.APP_PID_FILE;
// Node resolves the `current` symlink for the main module, so this is the release directory the
// process started from, and switching `current` later doesn't change what it reports.
const releaseDir = dirname(fileURLToPath(import.meta.url));
const version = readFileSync(join(releaseDir, 'VERSION'), 'utf8').trim();
// A release holding a FAIL_EVERY file (a number n) answers every nth `/` with a 500, while
// /healthz passes: the bad release only canary analysis can catch.
const failEvery = readOptionalNumber(join(releaseDir, 'FAIL_EVERY'));
const readyStatus = readOptionalNumber(join(releaseDir, 'READY_STATUS')) || 200;
let served = 0;
const body = JSON.stringify({ version, host });
const MAX_SLOW_MS = 60_000;
const EXIT_DEADLINE_MS = 30_000;
const POOL_SIZE = 3;
const pool = readPool();

let stopping = false;

const server = createServer((request, response) => {
  const url = new URL(request.url ?? '/', 'http://app');
  if (stopping) response.setHeader('Connection', 'close');
  if (url.pathname === '/healthz' || url.pathname === '/ready') {
    const status = stopping ? 503 : url.pathname === '/ready' ? readyStatus : 200;
    response.writeHead(status, { 'Content-Type': 'text/plain' });
    response.end(stopping ? 'stopping\n' : status === 200 ? 'ok\n' : 'not ready\n');
    return;
  }
  if (url.pathname === '/' && failEvery > 0 && ++served % failEvery === 0) {
    response.writeHead(500, { 'Content-Type': 'text/plain' });
    response.end('failing on purpose (FAIL_EVERY)\n');
    return;
  }
  const delay = url.pathname === '/slow' ? Math.min(Number(url.searchParams.get('ms')) || 0, MAX_SLOW_MS) : 0;
  if (url.pathname !== '/' && url.pathname !== '/slow') {
    response.writeHead(404, { 'Content-Type': 'text/plain' });
    response.end('not found\n');
    return;
  }
  const reply = (status, text) => {
    // A request that was already running when SIGTERM came still closes its connection.
    if (stopping) response.setHeader('Connection', 'close');
    response.writeHead(status, { 'Content-Type': 'application/json' });
    response.end(text);
  };
  const answer = () => {
    if (!pool) return reply(200, body);
    pool.client.query(pool.query).then(
      (result) => reply(200, JSON.stringify({ version, host, row: result.rows[0] ?? null })),
      (error) => {
        const message = error instanceof Error ? error.message : String(error);
        console.log(`${new Date().toISOString()} ${host} ${version} read failed: ${message}`);
        reply(500, JSON.stringify({ version, host, error: message }));
      },
    );
  };
  if (delay > 0) setTimeout(answer, delay);
  else answer();
});
server.keepAliveTimeout = 10 * 60_000;
server.headersTimeout = server.keepAliveTimeout + 1000;

server.on('error', (error) => {
  console.error(`${host} ${version}: cannot listen on ${address}:${port}: ${error.message}`);
  process.exit(1);
});

server.listen(port, address, () => {
  if (pidFile) {
    writeFileSync(`${pidFile}.tmp`, `${process.pid}\n`);
    renameSync(`${pidFile}.tmp`, pidFile);
  }
  console.log(`${new Date().toISOString()} ${host} ${version} pid ${process.pid} listening on ${address}:${port}`);
});

process.on('SIGTERM', () => {
  if (stopping) return;
  stopping = true;
  console.log(`${new Date().toISOString()} ${host} ${version} pid ${process.pid} stopping`);
  server.close(async () => {
    removePidFile();
    // Say goodbye to the database instead of leaving it an unexpected EOF per connection.
    if (pool) await Promise.race([pool.client.end().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 1000))]);
    console.log(`${new Date().toISOString()} ${host} ${version} pid ${process.pid} stopped`);
    process.exit(0);
  });
  server.closeIdleConnections();
  setTimeout(() => {
    console.error(`${host} ${version}: connections still open after ${EXIT_DEADLINE_MS}ms; exiting anyway`);
    removePidFile();
    process.exit(1);
  }, EXIT_DEADLINE_MS).unref();
});

function removePidFile() {
  if (!pidFile) return;
  try {
    if (readFileSync(pidFile, 'utf8').trim() === String(process.pid)) rmSync(pidFile);
  } catch {
    // Already gone or replaced: nothing of ours to remove.
  }
}

/**
 * The read pool when this release reads from the database (APP_READ_URL set and a QUERY file in
 * the release), else undefined. Connections open on first use, so the app starts and answers
 * `/healthz` whatever the database's state.
 */
function readPool() {
  const url = process.env.APP_READ_URL;
  const queryFile = join(releaseDir, 'QUERY');
  if (!url || !existsSync(queryFile)) return undefined;
  const modulePath = process.env.APP_PG_MODULE;
  if (!modulePath) throw new Error('APP_READ_URL is set but APP_PG_MODULE (absolute path of the pg module) is not');
  const pg = createRequire(import.meta.url)(modulePath);
  const client = new pg.Pool({ connectionString: url, max: POOL_SIZE, connectionTimeoutMillis: 2000, idleTimeoutMillis: 0 });
  // An idle connection that breaks (the replica restarted) must not crash the app; the next query reconnects.
  client.on('error', (error) => console.error(`${host} ${version}: idle database connection failed: ${error.message}`));
  return { client, query: readFileSync(queryFile, 'utf8') };
}

function readOptionalNumber(file) {
  try {
    return Number(readFileSync(file, 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}
