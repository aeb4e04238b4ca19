/**
 * The seed story, end to end: a read replica one schema version behind new code. Three real hosts
 * (sshd + app each) behind HAProxy, a real PostgreSQL primary with a streaming replica, and an
 * app that reads through the replica on every `GET /` (v1 reads `age`, v2 reads `email`) while
 * its `/healthz` never touches the database, as in real apps. The schema is kept by Flyway's
 * version table, with V1__accounts.sql applied.
 *
 * The control runs first: the column added by hand on the primary while the replica's replay is
 * paused, then v2 rolled without `database`: health checks pass, the rollout "succeeds", and the
 * hosts on v2 answer 500 under load. Only then do the tests with `database.migrate` mean
 * something: ship applies the expand migration, waits for the replica, rolls, then applies the
 * contract migration, with zero failed requests; it stops before any host leaves when the
 * replica does not replay the migration in time, and a migration that fails changes nothing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { crc32 } from 'node:zlib';
import pg from 'pg';
import { sleep } from '../../src/util/deadline.js';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { startLoad, type LoadTally } from '../fleet/loadgen.js';
import { startPostgres, type PostgresFleet } from '../fleet/postgres.js';
import { finished, startShip, type ShipRun } from '../support/cli.js';
import { lbView } from '../support/fleet-assertions.js';

const QUERIES = {
  v1: 'select id, name, age from accounts order by id limit 1',
  v2: 'select id, name, email from accounts order by id limit 1',
} as const;
type Release = keyof typeof QUERIES;

const RPS = 150;
const V1_SQL = 'create table accounts (id bigint primary key, name text not null, age int);\n';
const RESET_ACCOUNTS = `drop table if exists accounts;
  ${V1_SQL}
  insert into accounts select g, 'user ' || g, 20 + g % 50 from generate_series(1, 50) g;`;

let fleet: Fleet;
let db: PostgresFleet;
let work: string;
let migrationsDir: string;
/** The fleet's config without `database`: ship knows of no database, as teams run today. */
let plainConfig: string;

async function sql<R extends pg.QueryResultRow = pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** Flyway's checksum of a SQL file: CRC32 over its lines without their terminators, as a signed int. */
function flywayChecksum(text: string): number {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  let crc = 0;
  for (const line of lines) crc = crc32(line, crc);
  return crc | 0;
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ship-deploy-migrations-'));
  migrationsDir = join(work, 'migrations');
  db = await startPostgres();
  // The only WAL is the tests' own: no autovacuum commit that a held-back replica would also hold back.
  await sql(db.primaryAdminUrl, 'alter system set autovacuum = off');
  await sql(db.primaryAdminUrl, 'select pg_reload_conf()');
  // As Flyway's first run creates it on PostgreSQL, with V1__accounts.sql applied.
  await sql(
    db.primaryUrl,
    `${RESET_ACCOUNTS}
    create table "public"."flyway_schema_history" (
      "installed_rank" int not null,
      "version" varchar(50),
      "description" varchar(200) not null,
      "type" varchar(20) not null,
      "script" varchar(1000) not null,
      "checksum" integer,
      "installed_by" varchar(100) not null,
      "installed_on" timestamp not null default now(),
      "execution_time" integer not null,
      "success" boolean not null
    );
    alter table "public"."flyway_schema_history" add constraint "flyway_schema_history_pk" primary key ("installed_rank");
    create index "flyway_schema_history_s_idx" on "public"."flyway_schema_history" ("success");
    insert into flyway_schema_history (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success)
      values (1, '1', 'accounts', 'SQL', 'V1__accounts.sql', ${flywayChecksum(V1_SQL)}, current_user, 9, true);`,
  );
  await mkdir(migrationsDir);
  await writeFile(join(migrationsDir, 'V1__accounts.sql'), V1_SQL);
  await db.waitForReplicaCatchUp();
  fleet = await startFleet({ hosts: 3, readUrl: db.replicaUrl, query: QUERIES.v1 });
  plainConfig = await fleet.writeConfig({}, 'plain.config.ts');
  for (const host of fleet.hosts) assert.deepEqual(await answerOf(host.appUrl), { status: 200, version: 'v1', error: undefined }, `${host.name} does not read through the replica`);
});

after(async () => {
  await Promise.allSettled([fleet?.stop(), db?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

/** The config with `database.migrate`, ship applying the files itself. */
function migrateConfig(waitForReplicas: string): Promise<string> {
  return fleet.writeConfig(
    {
      database: {
        primary: db.primaryUrl,
        replicas: [db.replicaUrl],
        connectTimeout: '2s',
        migrations: { dir: migrationsDir },
        migrate: { run: 'ship', lockTimeout: '2s', waitForReplicas },
      },
    },
    `migrate-${waitForReplicas}.config.ts`,
  );
}

/** Pending migrations on disk for the duration of `body`. */
async function withPending(files: Record<string, string>, body: () => Promise<void>): Promise<void> {
  await Promise.all(Object.entries(files).map(([name, text]) => writeFile(join(migrationsDir, name), text)));
  try {
    await body();
  } finally {
    await Promise.all(Object.keys(files).map((name) => rm(join(migrationsDir, name), { force: true })));
  }
}

async function deployArgs(version: Release, config: string): Promise<string[]> {
  const artifact = await fleet.artifact(version, { query: QUERIES[version] });
  return ['deploy', '--config', config, '--version', version, '--artifact', artifact, '--json'];
}

function checked(run: ShipRun): ShipRun {
  assert.ok(!(run.stdout + run.stderr).includes(db.password), 'the database password leaked into the output');
  return run;
}

async function deploy(version: Release, config: string): Promise<ShipRun> {
  return checked(await finished(startShip(await deployArgs(version, config))));
}

/** Runs `body` while steady load goes through HAProxy; returns what it returned and the load's tally. */
async function underLoad<T>(body: () => Promise<T>): Promise<{ result: T; tally: LoadTally }> {
  const load = await startLoad({ url: fleet.frontendUrl, rps: RPS, durationMs: 120_000 });
  try {
    await sleep(500);
    const result = await body();
    await sleep(500);
    return { result, tally: await load.stop() };
  } catch (error) {
    await load.stop().catch(() => undefined);
    throw error;
  }
}

function describeTally(tally: LoadTally): string {
  return JSON.stringify({
    sent: tally.sent,
    failed: tally.failed,
    byStatus: tally.byStatus,
    errors: tally.errors,
    versions: tally.versions,
    first: tally.firstFailures.slice(0, 5),
  });
}

function output(run: ShipRun): string {
  return `exit ${run.code}\n${run.stderr}\n${run.stdout.slice(-4000)}`;
}

async function answerOf(url: string): Promise<{ status: number; version: string; error: string | undefined }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const body = (await response.json()) as { version: string; error?: string };
  return { status: response.status, version: body.version, error: body.error };
}

/** Where each host's app.log ends now, so failures logged later can be told apart. */
async function logMark(): Promise<Map<string, number>> {
  return new Map(await Promise.all(fleet.hosts.map(async (h) => [h.name, (await stat(join(h.appDir, 'app.log'))).size] as const)));
}

/** The read failures the apps logged since `mark` (`<time> <host> <version> read failed: <error>`), by release. */
async function readFailuresSince(mark: Map<string, number>): Promise<{ byVersion: Record<string, number>; errors: Set<string> }> {
  const byVersion: Record<string, number> = {};
  const errors = new Set<string>();
  for (const host of fleet.hosts) {
    const log = (await readFile(join(host.appDir, 'app.log'))).subarray(mark.get(host.name) ?? 0).toString('utf8');
    for (const match of log.matchAll(/^\S+ (\S+) (\S+) read failed: (.*)$/gm)) {
      assert.equal(match[1], host.name);
      byVersion[match[2]!] = (byVersion[match[2]!] ?? 0) + 1;
      errors.add(match[3]!);
    }
  }
  return { byVersion, errors };
}

/** No instance left the load balancer: none moved, HAProxy has every one in service and up, each still serving v1. */
async function assertNoHostChanged(run: ShipRun): Promise<void> {
  assert.deepEqual(
    run.events.filter((event) => event.type === 'instance.state'),
    [],
    'an instance changed state',
  );
  const view = await lbView(fleet);
  assert.equal(view.size, fleet.hosts.length);
  for (const [name, member] of view) assert.ok(member.inService && member.up && !member.adminOut, `${name} is not in service: ${member.detail}`);
  for (const host of fleet.hosts) assert.deepEqual(await answerOf(host.appUrl), { status: 200, version: 'v1', error: undefined }, `${host.name} changed`);
}

async function history(): Promise<Array<{ version: string; script: string; success: boolean }>> {
  return sql(db.primaryUrl, 'select version, script, success from flyway_schema_history order by installed_rank');
}

async function columnsOf(url: string): Promise<string[]> {
  const rows = await sql<{ column_name: string }>(url, `select column_name from information_schema.columns where table_name = 'accounts' order by ordinal_position`);
  return rows.map((row) => row.column_name);
}

/**
 * Holds the replica one schema version behind: it keeps receiving WAL but applies no commit
 * (recovery_min_apply_delay), so whatever the primary commits next (the expand migration) stays
 * invisible there. Unlike pg_wal_replay_pause(), WAL without a commit (the standby snapshot the
 * primary's bgwriter logs about 15 s after any write) still replays, so ship's pre-flight finds the
 * replica caught up rather than paused and behind, and the run reaches the migration.
 */
async function holdReplica(): Promise<void> {
  await sql(db.replicaAdminUrl, `alter system set recovery_min_apply_delay = '1h'`);
  await sql(db.replicaAdminUrl, 'select pg_reload_conf()');
  for (;;) {
    const [row] = await sql<{ delay: string }>(db.replicaAdminUrl, `select current_setting('recovery_min_apply_delay') as delay`);
    if (row?.delay === '1h') return;
    await sleep(20);
  }
}

async function releaseReplica(): Promise<void> {
  await sql(db.replicaAdminUrl, 'alter system reset recovery_min_apply_delay');
  await sql(db.replicaAdminUrl, 'select pg_reload_conf()');
}

/**
 * Back to where every test starts: the replica replaying and caught up, accounts as V1 made it,
 * only V1 in the version table, every host serving v1 and reading through the replica.
 */
async function restoreStart(): Promise<void> {
  await db.resumeReplay();
  await releaseReplica();
  await db.waitForReplicaCatchUp(30_000);
  await sql(db.primaryUrl, `${RESET_ACCOUNTS}\ndelete from flyway_schema_history where installed_rank > 1;`);
  await db.waitForReplicaCatchUp(30_000);
  const answers = await Promise.all(fleet.hosts.map((h) => answerOf(h.appUrl)));
  if (answers.some((a) => a.version !== 'v1')) {
    const run = await deploy('v1', plainConfig);
    assert.equal(run.code, 0, `redeploying v1 to restore the start failed: ${output(run)}`);
  }
  for (const host of fleet.hosts) assert.deepEqual(await answerOf(host.appUrl), { status: 200, version: 'v1', error: undefined }, `${host.name} is not back on v1`);
}

type LooseEvent = { type: string; [field: string]: unknown };

function looseEvents(run: ShipRun): LooseEvent[] {
  return run.events as unknown as LooseEvent[];
}

function migrationEvents(run: ShipRun, type: string, file: string): LooseEvent[] {
  return looseEvents(run).filter((event) => event.type === type && basename(String(event.file)) === file);
}

test('control: v2 rolled while the replica is a schema version behind fails requests, with 500s from the hosts on v2', async () => {
  await db.pauseReplay();
  try {
    // As teams do today: the column added by hand on the primary, outside ship.
    await sql(db.primaryUrl, 'alter table accounts add column email text');
    assert.equal((await sql(db.primaryUrl, QUERIES.v2)).length, 1, 'v2 reads fine on the primary');
    const mark = await logMark();
    const { result: run, tally } = await underLoad(() => deploy('v2', plainConfig));

    // Health checks do not see it: the rollout itself "succeeds".
    assert.equal(run.code, 0, `the rollout itself should succeed: ${output(run)}`);
    assert.ok(tally.failed > 0, `rolled ahead of the replica, requests must fail: ${describeTally(tally)}`);
    assert.equal(tally.byStatus['500'], tally.failed, `every failure is a 500 from the app: ${describeTally(tally)}`);
    assert.equal(tally.versions.v2 ?? 0, 0, `no request served by v2 can succeed: ${describeTally(tally)}`);
    assert.ok((tally.versions.v1 ?? 0) > 0, `v1 served while it ran: ${describeTally(tally)}`);
    const failures = await readFailuresSince(mark);
    assert.deepEqual(failures.byVersion, { v2: tally.failed }, 'each failed request was a read by v2 that failed');
    assert.deepEqual([...failures.errors], ['column "email" does not exist']);
    for (const host of fleet.hosts) {
      const answer = await answerOf(host.appUrl);
      assert.equal(answer.status, 500, `${host.name} should fail to read: ${JSON.stringify(answer)}`);
      assert.equal(answer.version, 'v2');
      assert.match(answer.error ?? '', /column "email" does not exist/);
    }
  } finally {
    await restoreStart();
  }
});

test('ship deploy with an expand and a contract migration: expand applied, replica waited for, rolled, contract applied last; zero failed requests', async () => {
  const pending = {
    'V2__email.sql': 'alter table accounts add column email text;\n',
    'V3__drop_age.sql': '-- ship:phase contract\nalter table accounts drop column age;\n',
  };
  try {
    await withPending(pending, async () => {
      const config = await migrateConfig('30s');
      const { result: run, tally } = await underLoad(() => deploy('v2', config));

      assert.equal(run.code, 0, output(run));
      assert.equal(tally.failed, 0, `failed requests: ${describeTally(tally)}`);
      assert.ok((tally.versions.v1 ?? 0) > 0 && (tally.versions.v2 ?? 0) > 0, `the load must have seen both releases: ${describeTally(tally)}`);
      for (const host of fleet.hosts) assert.deepEqual(await answerOf(host.appUrl), { status: 200, version: 'v2', error: undefined }, `${host.name} does not serve v2`);

      assert.deepEqual(await history(), [
        { version: '1', script: 'V1__accounts.sql', success: true },
        { version: '2', script: 'V2__email.sql', success: true },
        { version: '3', script: 'V3__drop_age.sql', success: true },
      ]);
      await db.waitForReplicaCatchUp();
      assert.deepEqual(await columnsOf(db.replicaUrl), ['id', 'name', 'email']);

      const events = looseEvents(run);
      assert.deepEqual(
        events.filter((event) => event.type === 'migration.failed'),
        [],
      );
      const [expand] = migrationEvents(run, 'migration.applied', 'V2__email.sql');
      const [contract] = migrationEvents(run, 'migration.applied', 'V3__drop_age.sql');
      assert.equal(expand?.phase, 'expand', JSON.stringify(expand));
      assert.equal(contract?.phase, 'contract', JSON.stringify(contract));
      const firstLeaves = events.findIndex((event) => event.type === 'instance.state' && event.from === 'in-service');
      let lastBack = -1;
      events.forEach((event, index) => {
        if ((event.type === 'instance.state' && event.to === 'in-service') || event.type === 'instance.finished' || event.type === 'lb.healthy') lastBack = index;
      });
      assert.ok(firstLeaves >= 0 && lastBack > firstLeaves, 'the hosts were rolled');
      assert.ok(events.indexOf(expand!) < firstLeaves, 'the expand migration is applied before the first host leaves the load balancer');
      assert.ok(events.indexOf(contract!) > lastBack, 'the contract migration is applied after the last host is back in service');
    });
  } finally {
    await restoreStart();
  }
});

test('the replica replays the expand migration late: ship waits for it before the first host leaves, and the rollout drops nothing', async () => {
  try {
    await withPending({ 'V2__email.sql': 'alter table accounts add column email text;\n' }, async () => {
      const config = await migrateConfig('30s');
      const args = await deployArgs('v2', config);
      await holdReplica();
      const { result, tally } = await underLoad(async () => {
        const child = startShip(args);
        const seen: LooseEvent[] = [];
        let buffered = '';
        let applied: () => void = () => {};
        const appliedSeen = new Promise<void>((resolve) => (applied = resolve));
        child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
          buffered += chunk;
          const lines = buffered.split('\n');
          buffered = lines.pop() ?? '';
          for (const line of lines.filter((l) => l.startsWith('{'))) {
            const event = JSON.parse(line) as LooseEvent;
            seen.push(event);
            if (event.type === 'migration.applied') applied();
          }
        });
        try {
          const ended = child.then(() => 'ended' as const);
          if ((await Promise.race([appliedSeen.then(() => 'applied' as const), ended])) === 'ended') return { run: checked(await finished(child)), heldWhile: [] };
          // The migration is on the primary; the replica has not replayed it, and ship must hold the rollout.
          assert.deepEqual(await columnsOf(db.replicaUrl), ['id', 'name', 'age'], 'the replica is held a version behind');
          await sleep(1500);
          const heldWhile = seen.filter((event) => event.type === 'instance.state');
          await releaseReplica();
          return { run: checked(await finished(child)), heldWhile };
        } finally {
          // A failed assertion above must not leave ship rolling while the next test restores the start.
          if (child.exitCode === null) {
            child.kill('SIGTERM');
            await child.catch(() => undefined);
          }
        }
      });
      const { run, heldWhile } = result;

      assert.equal(run.code, 0, output(run));
      assert.ok(migrationEvents(run, 'migration.applied', 'V2__email.sql').length === 1, 'V2 was applied');
      assert.deepEqual(heldWhile, [], 'no instance moved while the replica was a version behind');
      assert.equal(tally.failed, 0, `failed requests: ${describeTally(tally)}`);
      assert.ok((tally.versions.v2 ?? 0) > 0, `the load must have reached v2: ${describeTally(tally)}`);
      for (const host of fleet.hosts) assert.deepEqual(await answerOf(host.appUrl), { status: 200, version: 'v2', error: undefined }, `${host.name} does not serve v2`);
    });
  } finally {
    await restoreStart();
  }
});

test('a replica that does not replay the expand migration in time stops the run before any host leaves: exit 3, naming the replica and its lag', async () => {
  try {
    await withPending({ 'V2__email.sql': 'alter table accounts add column email text;\n' }, async () => {
      const config = await migrateConfig('3s');
      await holdReplica();
      const run = await deploy('v2', config);

      assert.equal(run.code, 3, output(run));
      const replica = `${db.address}:${db.replicaPort}/app`;
      const text = `${run.stdout}\n${run.stderr}`;
      assert.ok(
        text.split('\n').some((line) => line.includes(replica) && /lag\D*\d/i.test(line)),
        `the output names replica ${replica} and its lag: ${output(run)}`,
      );
      // The held replica has replayed the ALTER's ACCESS EXCLUSIVE lock but not its commit, so reads of
      // accounts through it wait: let it catch up before asking the hosts what they serve.
      await releaseReplica();
      await db.waitForReplicaCatchUp(30_000);
      await assertNoHostChanged(run);
      // Applied on the primary; only the rollout was stopped.
      assert.deepEqual((await history()).at(-1), { version: '2', script: 'V2__email.sql', success: true });
      assert.deepEqual(await columnsOf(db.primaryUrl), ['id', 'name', 'age', 'email']);
    });
  } finally {
    await restoreStart();
  }
});

test('a migration that fails leaves no host changed and nothing recorded, and is reported with its file, line and the server error', async () => {
  const broken =
    '-- adds two columns; the second names a type that does not exist\nalter table accounts add column email text;\nalter table accounts add column nickname no_such_type;\n';
  try {
    await withPending({ 'V2__broken.sql': broken }, async () => {
      const run = await deploy('v2', await migrateConfig('30s'));

      assert.notEqual(run.code, 0, output(run));
      const text = `${run.stdout}\n${run.stderr}`;
      assert.match(text, /V2__broken\.sql:3\b/, output(run));
      assert.match(text, /type \\?"no_such_type\\?" does not exist/, output(run));
      await assertNoHostChanged(run);
      assert.deepEqual(await history(), [{ version: '1', script: 'V1__accounts.sql', success: true }]);
      // One transaction per file: the statement before the failing one is rolled back too.
      assert.deepEqual(await columnsOf(db.primaryUrl), ['id', 'name', 'age']);
    });
  } finally {
    await restoreStart();
  }
});

test('a contract migration that fails after the rollout stays pending and is named; once fixed, ship resume applies it without moving a host', async () => {
  try {
    await withPending(
      { 'V2__email.sql': 'alter table accounts add column email text;\n', 'V3__drop_nickname.sql': '-- ship:phase contract\nalter table accounts drop column nickname;\n' },
      async () => {
        const config = await migrateConfig('30s');
        const run = await deploy('v2', config);
        assert.equal(run.code, 1, output(run));
        const finishedEvent = run.events.find((event) => event.type === 'run.finished') as { summary: { migrations?: { applied: string[]; pending: string[] }; error?: string } };
        assert.deepEqual(finishedEvent.summary.migrations, { applied: ['V2__email.sql'], pending: ['V3__drop_nickname.sql'] });
        assert.match(finishedEvent.summary.error ?? '', /V3__drop_nickname\.sql:2.*column "nickname" of relation "accounts" does not exist/);
        for (const host of fleet.hosts) assert.equal((await answerOf(host.appUrl)).version, 'v2', `${host.name} is on v2`);

        await writeFile(join(migrationsDir, 'V3__drop_nickname.sql'), '-- ship:phase contract\nalter table accounts drop column age;\n');
        const resumed = checked(await finished(startShip(['resume', '--config', config, '--json'])));
        assert.equal(resumed.code, 0, output(resumed));
        assert.deepEqual(
          resumed.events.filter((event) => event.type === 'instance.state'),
          [],
          'resume moved an instance',
        );
        assert.ok(resumed.events.some((event) => event.type === 'migration.applied' && (event as { file?: string }).file === 'V3__drop_nickname.sql'));
        assert.deepEqual(
          (await history()).map((row) => row.script),
          ['V1__accounts.sql', 'V2__email.sql', 'V3__drop_nickname.sql'],
        );
        assert.deepEqual(await columnsOf(db.primaryUrl), ['id', 'name', 'email']);
      },
    );
  } finally {
    await restoreStart();
  }
});

test('ship plan lists the pending migrations of each phase, read from the primary, and changes nothing', async () => {
  await withPending(
    { 'V2__email.sql': 'alter table accounts add column email text;\n', 'V3__drop_age.sql': '-- ship:phase contract\nalter table accounts drop column age;\n' },
    async () => {
      const run = checked(await finished(startShip([...(await deployArgs('v2', await migrateConfig('30s'))).map((arg) => (arg === 'deploy' ? 'plan' : arg))])));
      assert.equal(run.code, 0, output(run));
      const planned = run.events.find((event) => event.type === 'migrations.planned');
      assert.deepEqual(planned && { ...planned, time: undefined, runId: undefined }, {
        type: 'migrations.planned',
        run: 'ship',
        expand: ['V2__email.sql'],
        contract: ['V3__drop_age.sql'],
        time: undefined,
        runId: undefined,
      });
      assert.deepEqual(
        (await history()).map((row) => row.script),
        ['V1__accounts.sql'],
      );
    },
  );
});

test('ship killed during the replica wait: ship resume picks up there, never applies the recorded migration again, and rolls', async () => {
  try {
    await withPending({ 'V2__email.sql': 'alter table accounts add column email text;\n' }, async () => {
      const config = await migrateConfig('60s');
      await holdReplica();
      const child = startShip(await deployArgs('v2', config));
      let buffered = '';
      const waiting = new Promise<void>((resolve) => {
        child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
          buffered += chunk;
          if (buffered.includes('"type":"replicas.waiting"')) resolve();
        });
      });
      try {
        await Promise.race([waiting, child.then(() => assert.fail(`ship ended before the replica wait: ${buffered.slice(-2000)}`))]);
      } finally {
        child.kill('SIGKILL');
        await child.catch(() => undefined);
      }
      assert.deepEqual((await history()).at(-1), { version: '2', script: 'V2__email.sql', success: true });
      await releaseReplica();

      const resumed = checked(await finished(startShip(['resume', '--config', config, '--json'])));
      assert.equal(resumed.code, 0, output(resumed));
      assert.deepEqual(
        resumed.events.filter((event) => event.type === 'migration.started'),
        [],
        'the recorded migration was applied again',
      );
      assert.ok(resumed.events.some((event) => event.type === 'replicas.ready'));
      assert.deepEqual(
        (await history()).map((row) => row.script),
        ['V1__accounts.sql', 'V2__email.sql'],
      );
      for (const host of fleet.hosts) assert.equal((await answerOf(host.appUrl)).version, 'v2', `${host.name} is on v2`);
    });
  } finally {
    await restoreStart();
  }
});

test("run: { command }: the team's tool runs once before the rollout, with DATABASE_URL in its environment and its output scrubbed; what it applied is named", async () => {
  const tool = join(work, 'migrate-tool.sh');
  await writeFile(
    tool,
    [
      'set -eu',
      'echo "connecting to $DATABASE_URL"',
      `psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -q -c "alter table accounts add column email text" -c "insert into flyway_schema_history (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success) values (2, '2', 'email', 'SQL', 'V2__email.sql', 0, current_user, 1, true)"`,
      '',
    ].join('\n'),
  );
  try {
    // Your own tool does not get ship's lock_timeout: the file sets its own, as the lint asks.
    await withPending({ 'V2__email.sql': "set lock_timeout = '2s';\nalter table accounts add column email text;\n" }, async () => {
      const config = await fleet.writeConfig(
        {
          database: {
            primary: db.primaryUrl,
            replicas: [db.replicaUrl],
            connectTimeout: '2s',
            migrations: { dir: migrationsDir },
            migrate: { run: { command: `sh ${tool}` }, waitForReplicas: '30s' },
          },
        },
        'migrate-command.config.ts',
      );
      const run = await deploy('v2', config);
      assert.equal(run.code, 0, output(run));
      // Streamed as the tool printed it, with the connection string (a secret) scrubbed whole.
      assert.ok(
        run.events.some((event) => event.type === 'output' && event.host === 'migrate@local' && event.line === 'connecting to ***'),
        'the tool output is streamed, scrubbed',
      );
      const applied = run.events.filter((event) => event.type === 'migration.applied') as Array<{ file?: string }>;
      assert.deepEqual(
        applied.map((event) => event.file),
        ['V2__email.sql'],
      );
      const firstOut = run.events.findIndex((event) => event.type === 'instance.state');
      assert.ok(run.events.findIndex((event) => event.type === 'migration.applied') < firstOut, 'applied before the first host left');
      for (const host of fleet.hosts) assert.equal((await answerOf(host.appUrl)).version, 'v2', `${host.name} is on v2`);
    });
  } finally {
    await rm(tool, { force: true });
    await restoreStart();
  }
});
