/**
 * The wait after the expand migrations, on a real primary and streaming replica: it resolves once
 * the replica shows the primary's schema version, and otherwise ends at its deadline naming who is
 * behind and by how much, whether the server is paused, stale behind a read path, or unreachable.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import pg from 'pg';
import { classifyError } from '../../src/errors/codes.js';
import { ReplicaWaitTimeout, waitForSchemaVersion, type SchemaWaitOptions, type SchemaWaitProgress } from '../../src/preflight/database/replica-wait.js';
import { startPostgres, type PostgresFleet } from '../fleet/postgres.js';

let fleet: PostgresFleet;
let version = 1;

async function sql(url: string, text: string, values: unknown[] = []): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(text, values);
  } finally {
    await client.end();
  }
}

/** What the expand migrations of a deploy leave behind on the primary: a change and its recorded version. */
async function applyMigration(): Promise<string> {
  version++;
  await sql(fleet.primaryUrl, `alter table accounts add column c${version} text`);
  await sql(fleet.primaryUrl, 'insert into schema_migrations values ($1)', [String(version)]);
  return String(version);
}

/** Replay paused for the duration of `body`, with a migration applied meanwhile; caught up again after. */
async function withStaleReplica(body: () => Promise<void>): Promise<void> {
  await fleet.pauseReplay();
  try {
    await applyMigration();
    await body();
  } finally {
    await fleet.resumeReplay();
    await fleet.waitForReplicaCatchUp();
  }
}

function options(overrides: Partial<SchemaWaitOptions>): SchemaWaitOptions {
  return {
    primaryUrl: fleet.primaryUrl,
    replicas: [fleet.replicaUrl],
    readPaths: [],
    versionSource: { versionTable: 'schema_migrations' },
    timeoutMs: 1500,
    connectTimeoutMs: 2000,
    pollIntervalMs: 100,
    ...overrides,
  };
}

async function timedOut(wait: Promise<unknown>): Promise<ReplicaWaitTimeout> {
  try {
    await wait;
  } catch (error) {
    assert.ok(error instanceof ReplicaWaitTimeout, String(error));
    assert.ok(!error.message.includes(fleet.password), `the password leaked into: ${error.message}`);
    return error;
  }
  assert.fail('the wait resolved');
}

const hostPort = (url: string) => `${new URL(url).hostname}:${new URL(url).port}/app`;

before(async () => {
  fleet = await startPostgres();
  await sql(fleet.primaryUrl, 'create table schema_migrations (version varchar(128) primary key); create table accounts (id bigint primary key)');
  await sql(fleet.primaryUrl, `insert into schema_migrations values ('1')`);
  await fleet.waitForReplicaCatchUp();
});

after(async () => {
  await fleet?.stop();
});

test('a replica that catches up ends the wait, with the time waited; progress said who was behind and that replay was paused', async () => {
  const seen: SchemaWaitProgress[] = [];
  await withStaleReplica(async () => {
    const result = await waitForSchemaVersion(
      options({
        timeoutMs: 30_000,
        onProgress: (progress) => {
          seen.push(progress);
          // The replica is seen behind once; then its replay goes on and it catches up.
          if (seen.length === 1) void fleet.resumeReplay();
        },
      }),
    );
    assert.equal(result.primaryVersion, `${version} (${version} applied)`);
    assert.ok(result.waitedMs > 0);
    assert.deepEqual(
      result.caughtUp.map((one) => [one.kind, one.name]),
      [['replica', hostPort(fleet.replicaUrl)]],
    );
    assert.match(result.detail, new RegExp(`^schema version ${version} \\(${version} applied\\) on replica ${hostPort(fleet.replicaUrl)} after `));
  });
  const [first] = seen;
  assert.ok(first, 'no progress was reported while the replica was behind');
  assert.equal(first.behind.length, 1);
  assert.deepEqual([first.behind[0]?.kind, first.behind[0]?.name, first.behind[0]?.replayPaused], ['replica', hostPort(fleet.replicaUrl), true]);
  assert.equal(first.behind[0]?.version, `${version - 1} (${version - 1} applied)`);
  assert.ok((first.behind[0]?.lagBytes ?? 0) > 0, JSON.stringify(first.behind[0]));
  assert.match(first.detail, new RegExp(`^replica ${hostPort(fleet.replicaUrl)}: at schema version ${version - 1} .*its WAL replay is paused`));
});

test('a replica and a read path already on the version end the wait at once, without progress', async () => {
  const seen: SchemaWaitProgress[] = [];
  const result = await waitForSchemaVersion(options({ readPaths: [fleet.replicaUrl], onProgress: (progress) => seen.push(progress) }));
  assert.equal(result.primaryVersion, `${version} (${version} applied)`);
  assert.deepEqual(
    result.caughtUp.map((one) => one.kind),
    ['replica', 'read path'],
  );
  assert.deepEqual(seen, []);
});

test('paused replay: the wait times out naming the replica, its version against the primary, its lag and the paused replay', async () => {
  await withStaleReplica(async () => {
    const error = await timedOut(waitForSchemaVersion(options({})));
    assert.equal(classifyError(error).code, 'SHIP-E045');
    assert.equal(error.behind.length, 1);
    const [replica] = error.behind;
    assert.equal(replica?.replayPaused, true);
    assert.ok((replica?.lagBytes ?? 0) > 0);
    assert.equal(error.primaryVersion, `${version} (${version} applied)`);
    assert.match(error.message, new RegExp(`did not show the primary's schema version ${version} \\(${version} applied\\)`));
    assert.match(
      error.message,
      new RegExp(
        `replica ${hostPort(fleet.replicaUrl)}: at schema version ${version - 1} \\(${version - 1} applied\\), [\\d.]+ k?B \\(\\d+ bytes\\) and [\\d.]+ s behind the primary; its WAL replay is paused`,
      ),
    );
    assert.match(error.message, /resume WAL replay where it is paused .*raise database\.migrate\.waitForReplicas/);
  });
});

test('a stale read path is named with what its connections reported', async () => {
  await withStaleReplica(async () => {
    const error = await timedOut(waitForSchemaVersion(options({ replicas: [], readPaths: [fleet.replicaUrl], readPathSamples: 2 })));
    assert.equal(error.behind.length, 1);
    assert.equal(error.behind[0]?.kind, 'read path');
    assert.match(error.message, new RegExp(`read path ${hostPort(fleet.replicaUrl)}: 2 of 2 connections reported schema version ${version - 1} \\(${version - 1} applied\\)`));
  });
});

test('an unreachable replica, and one that accepts connections but never answers, are named; the wait ends at its deadline', { timeout: 30_000 }, async () => {
  const closed = await freePort();
  const silent = await silentServer();
  try {
    const unreachable = `postgres://ship:${fleet.password}@127.0.0.1:${closed}/app`;
    const hanging = `postgres://ship:${fleet.password}@127.0.0.1:${silent.port}/app`;
    // The connect timeout is far longer than the wait: the wait must not sit on a hung connection.
    const error = await timedOut(waitForSchemaVersion(options({ replicas: [fleet.replicaUrl, unreachable, hanging], connectTimeoutMs: 120_000 })));
    const named = Object.fromEntries(error.behind.map((behind) => [behind.name, behind]));
    assert.deepEqual(Object.keys(named).sort(), [`127.0.0.1:${closed}/app`, `127.0.0.1:${silent.port}/app`].sort());
    assert.match(named[`127.0.0.1:${closed}/app`]?.detail ?? '', /^unreachable, so its lag and schema version are unknown: cannot connect/);
    assert.equal(named[`127.0.0.1:${silent.port}/app`]?.detail, 'has not answered yet');
    assert.match(error.message, /make the ones that did not answer reachable/);
  } finally {
    silent.close();
  }
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A TCP server that accepts connections and never says a word (a hung server, a black-holing proxy). */
async function silentServer(): Promise<{ port: number; close(): void }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close() {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}
