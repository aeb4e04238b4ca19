/**
 * The schema pre-flight of `ship deploy`, end to end: a real fleet (sshd + app per host behind
 * HAProxy) and a real PostgreSQL primary with a streaming replica, driven through the real CLI.
 * A refused deploy must leave every instance in the load balancer on the version it ran; an
 * accepted one must roll.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect as connectTcp } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { ADMIN, OP_STATE, parseServersState } from '../../src/lb/haproxy-runtime.js';
import { fleetConfig, startFleet, type Fleet } from '../fleet/fleet.js';
import { startPostgres, type PostgresFleet } from '../fleet/postgres.js';
import { runShip, type ShipRun } from '../support/cli.js';

let fleet: Fleet;
let db: PostgresFleet;
let work: string;
let migrationsDir: string;
let configPath: string;
let deployed = 'v1';

async function sql(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ship-db-preflight-'));
  migrationsDir = join(work, 'migrations');
  [fleet, db] = await Promise.all([startFleet({ hosts: 2 }), startPostgres()]);
  await sql(
    db.primaryUrl,
    `create table schema_migrations (version varchar(128) primary key);
    create table accounts (id bigint primary key, name text not null, age int);
    insert into accounts select g, 'user ' || g, 30 from generate_series(1, 50) g;
    insert into schema_migrations values ('1');`,
  );
  await db.waitForReplicaCatchUp();
  await mkdir(migrationsDir);
  await writeFile(join(migrationsDir, 'V1__accounts.sql'), 'create table accounts (id bigint primary key, name text not null, age int);\n');
  configPath = join(work, 'ship.config.ts');
  const config = {
    ...fleetConfig(fleet),
    database: {
      primary: db.primaryUrl,
      replicas: [db.replicaUrl],
      versionTable: 'schema_migrations',
      maxReplicaLag: '1s',
      connectTimeout: '2s',
      migrations: { dir: migrationsDir },
    },
  };
  await writeFile(configPath, `export default ${JSON.stringify(config, null, 2)};\n`);
});

after(async () => {
  await Promise.allSettled([fleet?.stop(), db?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

/** A pending migration on disk for the duration of `body`. */
async function withPending(files: Record<string, string>, body: () => Promise<void>): Promise<void> {
  const paths = Object.keys(files).map((name) => join(migrationsDir, name));
  await Promise.all(Object.entries(files).map(([name, text]) => writeFile(join(migrationsDir, name), text)));
  try {
    await body();
  } finally {
    await Promise.all(paths.map((path) => rm(path, { force: true })));
  }
}

async function deploy(version: string, ...extra: string[]): Promise<ShipRun> {
  const artifact = await fleet.artifact(version);
  const run = await runShip(['deploy', '--config', configPath, '--version', version, '--artifact', artifact, '--json', ...extra]);
  assert.ok(!(run.stdout + run.stderr).includes(db.password), 'the database password leaked into the output');
  if (run.code === 0) deployed = version;
  return run;
}

function refusal(run: ShipRun): string {
  const finished = run.events.find((event) => event.type === 'run.finished');
  assert.ok(finished && finished.type === 'run.finished', `no run.finished event:\n${run.stderr}\n${run.stdout.slice(-2000)}`);
  assert.equal(finished.status, 'refused', JSON.stringify(finished));
  return finished.summary.error ?? '';
}

async function versionOf(url: string): Promise<string> {
  const response = await fetch(url);
  return ((await response.json()) as { version: string }).version;
}

function runtimeApi(command: string): Promise<string> {
  const [host, port] = fleet.runtimeApi.split(':') as [string, string];
  return new Promise((resolve, reject) => {
    const socket = connectTcp({ host, port: Number(port) }, () => socket.end(`${command}\n`));
    let answer = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (answer += chunk));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });
}

/** Nothing left the load balancer and nothing changed: every instance serves `deployed`, in service and up. */
async function assertUntouched(run: ShipRun): Promise<void> {
  assert.equal(run.code, 3, `expected a pre-flight refusal (exit 3):\n${run.stderr}\n${run.stdout.slice(-2000)}`);
  assert.deepEqual(
    run.events.filter((event) => event.type === 'instance.state' || event.type === 'stage.started'),
    [],
  );
  const servers = parseServersState(await runtimeApi('show servers state app'));
  assert.equal(servers.length, fleet.hosts.length);
  for (const server of servers) {
    assert.equal(server.adminState & (ADMIN.maint | ADMIN.drain), 0, `${server.name} is not in service: admin state ${server.adminState}`);
    assert.equal(server.opState, OP_STATE.running, `${server.name} is not up`);
  }
  for (const host of fleet.hosts) assert.equal(await versionOf(host.appUrl), deployed, `${host.name} changed version`);
}

test('a backward-incompatible pending migration is refused with its file, line and rule; nothing leaves the load balancer', async () => {
  await withPending({ 'V2__drop_age.sql': "set lock_timeout = '2s';\nalter table accounts drop column age;\n" }, async () => {
    const run = await deploy('v2');
    await assertUntouched(run);
    const error = refusal(run);
    assert.match(error, new RegExp(`${join(migrationsDir, 'V2__drop_age.sql').replace(/[.]/g, '\\.')}:2:1 drop-column: Dropping column "age" of "accounts"`));
    const check = run.events.find((event) => event.type === 'preflight.check' && event.name === 'migrations');
    assert.ok(check && check.type === 'preflight.check' && check.status === 'failed');
  });
});

test('a compatible pending migration passes lint and trace, and the release rolls', async () => {
  await withPending({ 'V2__add_note.sql': "set lock_timeout = '2s';\nalter table accounts add column note text;\n" }, async () => {
    const run = await deploy('v2', '--trace');
    assert.equal(run.code, 0, `${run.stderr}\n${run.stdout.slice(-3000)}`);
    const checks = Object.fromEntries(run.events.flatMap((event) => (event.type === 'preflight.check' ? [[event.name, event]] : [])));
    assert.match(checks.database?.detail ?? '', /schema 1; 1 pending migration\(s\); .* lag 0B\/0s/);
    assert.match(checks.migrations?.detail ?? '', /^1 pending migration\(s\) linted/);
    assert.match(checks['migration trace']?.detail ?? '', /statement\(s\) traced on .*ship_trace_.*: nothing unsafe \(1 lock\(s\) from statements the lint rules accepted\)/);
    for (const host of fleet.hosts) assert.equal(await versionOf(host.appUrl), 'v2');
  });
});

test('a lagging replica refuses the deploy with its lag figures', async () => {
  await db.pauseReplay();
  try {
    await sql(db.primaryUrl, `insert into accounts select g, 'more ' || g, 40 from generate_series(1000, 6000) g`);
    const run = await deploy('v3');
    await assertUntouched(run);
    assert.match(
      refusal(run),
      new RegExp(`replica ${db.address}:${db.replicaPort}/app: lags .*\\(\\d{5,} bytes\\) and [\\d.]+ s behind the primary, more than maxReplicaLag 1 s.*replay is paused`),
    );
  } finally {
    await db.resumeReplay();
    await db.waitForReplicaCatchUp();
    await sql(db.primaryUrl, 'delete from accounts where id >= 1000');
    await db.waitForReplicaCatchUp();
  }
});

test('a replica on another schema version than the primary refuses the deploy, naming both versions', async () => {
  await withPending({ 'V2__add_note.sql': 'alter table accounts add column note2 text;\n', 'V3__more.sql': 'create table notes (id bigint);\n' }, async () => {
    await db.pauseReplay();
    try {
      await sql(db.primaryUrl, `insert into schema_migrations values ('2')`);
      const run = await deploy('v3');
      await assertUntouched(run);
      assert.match(refusal(run), /reports schema version 1 \(1 applied\), but the primary is at 2 \(2 applied\)/);
    } finally {
      await db.resumeReplay();
      await sql(db.primaryUrl, `delete from schema_migrations where version = '2'`);
      await db.waitForReplicaCatchUp();
    }
  });
});

test('a replica that is down refuses the deploy; --allow-unsafe-database with a reason lets it through and records the reason', async () => {
  await db.stopReplica();
  try {
    const refused = await deploy('v3');
    await assertUntouched(refused);
    assert.match(refusal(refused), new RegExp(`replica ${db.address}:${db.replicaPort}/app: unreachable`));

    const reason = 'replica rebuilt tonight, reads go to the primary (INC-42)';
    const waived = await deploy('v3', '--allow-unsafe-database', reason);
    assert.equal(waived.code, 0, `${waived.stderr}\n${waived.stdout.slice(-3000)}`);
    const warning = waived.events.find((event) => event.type === 'warning' && event.message.includes(reason));
    assert.ok(warning && warning.type === 'warning', 'the waiver is announced as a warning event');
    assert.match(warning.message, /unreachable/);
    const check = waived.events.find((event) => event.type === 'preflight.check' && event.name === 'database');
    assert.ok(check && check.type === 'preflight.check' && check.detail.includes(`UNSAFE, waived (${reason})`));
    for (const host of fleet.hosts) assert.equal(await versionOf(host.appUrl), 'v3');

    const empty = await runShip(['deploy', '--config', configPath, '--version', 'v4', '--artifact', await fleet.artifact('v4'), '--allow-unsafe-database', ' ']);
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /--allow-unsafe-database needs a reason/);
  } finally {
    await db.startReplica();
    await db.waitForReplicaCatchUp();
  }
});

test('--trace refuses DDL inside a DO block that static lint cannot see', async () => {
  const doBlock = "set lock_timeout = '2s';\ndo $$\nbegin\n  execute 'alter table accounts drop column age';\nend\n$$;\n";
  await withPending({ 'V2__sneaky.sql': doBlock }, async () => {
    const lint = await runShip(['lint-migrations', join(migrationsDir, 'V2__sneaky.sql')]);
    assert.equal(lint.code, 0, `static lint sees nothing wrong in the DO block:\n${lint.stdout}`);

    const run = await deploy('v4', '--trace');
    await assertUntouched(run);
    const error = refusal(run);
    assert.match(error, /migration trace: trace on .*ship_trace_[0-9a-f]+: \d+ change\(s\) to existing tables/);
    assert.match(error, /V2__sneaky\.sql:2 catalog: drops column public\.accounts\.age/);
    assert.match(error, /V2__sneaky\.sql:2 lock: takes AccessExclusiveLock on public\.accounts/);
  });
});
