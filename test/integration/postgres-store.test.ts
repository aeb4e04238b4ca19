import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { ShipEvent } from '../../src/events.js';
import { PostgresStateStore, StateDatabaseError } from '../../src/journal/postgres-store.js';
import { connect } from '../../src/preflight/database/connect.js';
import { withDatabaseName } from '../../src/util/redact-url.js';
import { startPostgres, type PostgresFleet } from '../fleet/postgres.js';
import { runShip } from '../support/cli.js';
import { describeRun } from '../support/fleet-assertions.js';
import { stateStoreBehaviour } from '../support/state-store-suite.js';

let fleet: PostgresFleet;
const dirs: string[] = [];

async function sql<R extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** A fresh, empty database owned by the app role, for tests that watch ship create its tables. */
async function freshDatabase(): Promise<string> {
  const name = `ship_state_${randomBytes(4).toString('hex')}`;
  await sql(fleet.primaryAdminUrl, `create database ${name} owner ship`);
  return withDatabaseName(fleet.primaryUrl, name);
}

before(async () => {
  const x = 10 + Math.floor(Math.random() * 240);
  const y = 10 + Math.floor(Math.random() * 240);
  fleet = await startPostgres({ replica: false, address: `127.${x}.${y}.1`, maxConnections: 100 });
});

after(async () => {
  await fleet?.stop();
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('postgres store: shared behaviour', () => {
  stateStoreBehaviour({
    open: () => new PostgresStateStore(fleet.primaryUrl),
    // Aged on the server, whose clock judges lock ages.
    ageHeartbeat: async (app, ageMs) => {
      await sql(fleet.primaryAdminUrl, 'update ship_locks set heartbeat_at = now() - make_interval(secs => $2::float8 / 1000) where app = $1', [app, ageMs]);
    },
  });
});

describe('postgres store: its own tables, its clock, its secrets', () => {
  test('creates its tables on first use; ships starting at once migrate exactly once', async () => {
    const url = await freshDatabase();
    const stores = Array.from({ length: 6 }, () => new PostgresStateStore(url));
    try {
      const results = await Promise.all(stores.map((store) => store.lastRun('shop')));
      assert.deepEqual(results, Array(6).fill(undefined));
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
    const versions = await sql<{ version: number }>(url, 'select version from ship_schema_version order by version');
    assert.deepEqual(
      versions.map((row) => row.version),
      [1, 2, 3],
    );
    const tables = await sql<{ table_name: string }>(url, "select table_name from information_schema.tables where table_schema = 'public' order by 1");
    assert.deepEqual(
      tables.map((row) => row.table_name),
      ['ship_lock_breaks', 'ship_locks', 'ship_runs', 'ship_schema_version', 'ship_stages', 'ship_transitions'],
    );
    // A later ship finds the work done.
    const again = new PostgresStateStore(url);
    await again.currentLock('shop');
    await again.close();
    assert.equal((await sql(url, 'select * from ship_schema_version')).length, 3);
  });

  test('refuses a database migrated by a newer ship', async () => {
    const url = await freshDatabase();
    const first = new PostgresStateStore(url);
    await first.currentLock('shop');
    await first.close();
    await sql(url, 'insert into ship_schema_version (version) values (99)');
    const store = new PostgresStateStore(url);
    try {
      await assert.rejects(store.lastRun('shop'), /schema version 99, newer than this ship knows \(3\); upgrade ship/);
    } finally {
      await store.close();
    }
  });

  test("lock ages come from the database's clock: a holder's wrong clock neither ages nor freshens its lock", async () => {
    const store = new PostgresStateStore(fleet.primaryUrl);
    try {
      const longAgo = '2001-01-01T00:00:00.000Z';
      const app = `clock-${randomBytes(3).toString('hex')}`;
      await store.acquireLock(
        { runId: 'run-skewed', pid: 1, app, command: 'deploy', actor: { osUser: 'a', hostname: 'h' }, acquiredAt: longAgo, heartbeatAt: longAgo },
        { staleAfterMs: 30_000 },
      );
      const [{ now }] = (await sql<{ now: Date }>(fleet.primaryUrl, 'select now()')) as [{ now: Date }];
      const lock = await store.currentLock(app);
      assert.equal(lock?.stale, false);
      assert.ok(Math.abs(Date.parse(lock!.acquiredAt) - now.getTime()) < 5_000, `acquiredAt ${lock?.acquiredAt} vs database now ${now.toISOString()}`);
      // Age the heartbeat on the server itself: only then is the lock stale.
      await sql(fleet.primaryAdminUrl, "update ship_locks set heartbeat_at = now() - interval '31 seconds' where app = $1", [app]);
      const aged = await store.currentLock(app);
      assert.equal(aged?.stale, true);
      assert.ok(aged!.heartbeatAgeMs >= 31_000 && aged!.heartbeatAgeMs < 40_000, String(aged?.heartbeatAgeMs));
    } finally {
      await store.close();
    }
  });

  test('errors name the database as host:port/dbname and never carry its password', async () => {
    const wrongPassword = fleet.primaryUrl.replace(encodeURIComponent(fleet.password), 'not-the-password-9f8e');
    const refused = new PostgresStateStore(wrongPassword);
    const error = await refused.lastRun('shop').then(
      () => assert.fail('connected with a wrong password'),
      (e: unknown) => e,
    );
    await refused.close();
    assert.ok(error instanceof StateDatabaseError);
    assert.ok(error.message.includes(`${fleet.address}:${fleet.primaryPort}/app`), error.message);
    assert.match(error.message, /check the user and password in state\.url/);
    assert.ok(!error.message.includes('not-the-password-9f8e'), error.message);

    // Nothing listens on port 1 of our loopback block.
    const down = new PostgresStateStore(`postgresql://ship:${encodeURIComponent(fleet.password)}@${fleet.address}:1/app`);
    const unreachable = await down.currentLock('shop').then(
      () => assert.fail('reached a database on port 1'),
      (e: unknown) => e as Error,
    );
    await down.close();
    assert.match(unreachable.message, new RegExp(`${fleet.address.replace(/\./g, '\\.')}:1/app: cannot connect.*reachable`));
    assert.ok(!unreachable.message.includes(fleet.password), unreachable.message);
    assert.ok(!JSON.stringify(unreachable).includes(fleet.password));
  });

  test('a transition is committed before recordTransition resolves: another connection sees it at once', async () => {
    const store = new PostgresStateStore(fleet.primaryUrl);
    try {
      const app = `durable-${randomBytes(3).toString('hex')}`;
      await store.beginRun({
        runId: `run-${app}`,
        app,
        command: 'deploy',
        hosts: ['web1'],
        resume: {},
        actor: { osUser: 'a', hostname: 'h' },
        startedAt: new Date().toISOString(),
      });
      for (const to of ['draining', 'out'] as const) {
        await store.recordTransition({ runId: `run-${app}`, host: 'web1', from: 'in-service', to, at: new Date().toISOString() });
        const rows = await sql<{ to_state: string }>(fleet.primaryUrl, 'select to_state from ship_transitions where run_id = $1 order by seq', [`run-${app}`]);
        assert.equal(rows[rows.length - 1]?.to_state, to);
      }
    } finally {
      await store.close();
    }
  });
});

describe('postgres store: connection strings and failures, through the store and the CLI', () => {
  const keyValue = (password: string, port = fleet.primaryPort) =>
    `host=${fleet.address} port=${port} user=ship password='${password.replace(/(['\\])/g, '\\$1')}' dbname=app sslmode=disable`;

  test('a libpq key/value string works like a URL, for the store and the database pre-flight, and a wrong password in one stays secret', async () => {
    const store = new PostgresStateStore(keyValue(fleet.password));
    try {
      const app = `kv-${randomBytes(3).toString('hex')}`;
      const now = new Date().toISOString();
      await store.acquireLock(
        { runId: 'run-kv', pid: process.pid, app, command: 'deploy', actor: { osUser: 'a', hostname: 'h' }, acquiredAt: now, heartbeatAt: now },
        { staleAfterMs: 30_000 },
      );
      assert.equal((await store.currentLock(app))?.runId, 'run-kv');
      await store.releaseLock(app, 'run-kv');
    } finally {
      await store.close();
    }
    const client = await connect(keyValue(fleet.password), { role: 'primary' });
    try {
      assert.equal((await client.query<{ one: number }>('select 1 as one')).rows[0]?.one, 1);
    } finally {
      await client.end();
    }

    const wrong = "not-the-'password'-7c1d";
    const refused = new PostgresStateStore(keyValue(wrong));
    const error = await refused.currentLock('shop').then(
      () => assert.fail('connected with a wrong password'),
      (e: unknown) => e,
    );
    await refused.close();
    assert.ok(error instanceof StateDatabaseError, String(error));
    assert.ok(error.message.includes(`state store postgres ${fleet.address}:${fleet.primaryPort}/app: cannot connect: `), error.message);
    assert.match(error.message, /password authentication failed.*check the user and password in state\.url/);
    for (const text of [error.message, JSON.stringify(error), String(error.stack)]) assert.ok(!text.includes('not-the-'), text);
  });

  /** A config for app `shop` with nothing to reach: status and a refused deploy only need the state store. */
  async function configWithState(url: string): Promise<{ config: string; artifact: string }> {
    const dir = await mkdtemp(join(tmpdir(), 'ship-pg-cli-'));
    dirs.push(dir);
    const config = join(dir, 'ship.config.ts');
    const contents = {
      app: 'shop',
      hosts: [{ name: 'web1', address: '127.0.0.1' }],
      loadBalancer: { type: 'none' },
      health: { tcp: { port: 80 } },
      state: { store: 'postgres', url },
    };
    await writeFile(config, `export default ${JSON.stringify(contents, null, 2)};\n`);
    const artifact = join(dir, 'app.tgz');
    await writeFile(artifact, 'not really a tarball');
    return { config, artifact };
  }

  test('ship status and ship deploy: a wrong password or a refused connection is a state store failure (SHIP-E036), not a held lock, naming the database without its password', async () => {
    const wrongPassword = fleet.primaryUrl.replace(encodeURIComponent(fleet.password), 'wrong-pw-0b5e');
    const cases = [
      { url: wrongPassword, why: /password authentication failed.*check the user and password in state\.url/, where: `${fleet.address}:${fleet.primaryPort}/app` },
      { url: keyValue('wrong-pw-0b5e'), why: /password authentication failed/, where: `${fleet.address}:${fleet.primaryPort}/app` },
      {
        url: `postgresql://ship:${encodeURIComponent(fleet.password)}@${fleet.address}:1/app`,
        why: /ECONNREFUSED.*is the database up and reachable from here\?/,
        where: `${fleet.address}:1/app`,
      },
    ];
    for (const { url, why, where } of cases) {
      const { config, artifact } = await configWithState(url);
      const status = await runShip(['status', '--config', config]);
      assert.equal(status.code, 1, describeRun(status));
      assert.ok(status.stderr.includes(`state store postgres ${where}: `), status.stderr);
      assert.match(status.stderr, why);
      assert.match(status.stderr, /SHIP-E036 State store unreachable or unusable/);

      const deploy = await runShip(['deploy', '--config', config, '--version', 'v2', '--artifact', artifact, '--json']);
      assert.equal(deploy.code, 3, describeRun(deploy));
      const done = deploy.events.find((event): event is Extract<ShipEvent, { type: 'run.finished' }> => event.type === 'run.finished');
      assert.equal(done?.status, 'refused');
      assert.equal(done?.summary.code, 'SHIP-E036', describeRun(deploy));
      assert.match(done?.summary.error ?? '', why);
      for (const run of [status, deploy]) {
        for (const secret of ['wrong-pw-0b5e', fleet.password]) assert.ok(!`${run.stdout}${run.stderr}`.includes(secret), `a password leaked:\n${describeRun(run)}`);
      }
    }
  });

  test('ship status prints no driver warning: queries on one connection never overlap', async () => {
    for (const url of [fleet.primaryUrl, keyValue(fleet.password)]) {
      const { config } = await configWithState(url);
      const status = await runShip(['status', '--config', config]);
      assert.equal(status.code, 0, describeRun(status));
      assert.match(status.stdout, /lock: free/);
      assert.doesNotMatch(status.stderr, /Warning/, status.stderr);
    }
  });
});
