import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { readAppliedVersions, pendingVersions } from '../../src/preflight/database/applied-versions.js';
import { connect, DatabaseCheckError } from '../../src/preflight/database/connect.js';
import { checkDatabase } from '../../src/preflight/database/preflight.js';
import { checkReplicas } from '../../src/preflight/database/replicas.js';
import { startPostgres, type PostgresFleet } from '../fleet/postgres.js';

let fleet: PostgresFleet;

async function sql(url: string, text: string, values: unknown[] = []) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** A replica whose replay is paused for the duration of `body`, then caught up again. */
async function withReplayPaused(body: () => Promise<void>) {
  await fleet.pauseReplay();
  try {
    await body();
  } finally {
    await fleet.resumeReplay();
    await fleet.waitForReplicaCatchUp();
  }
}

function assertNoPassword(text: string) {
  assert.ok(!text.includes(fleet.password), `the password leaked into: ${text}`);
}

before(async () => {
  fleet = await startPostgres();
  // dbmate / Rails shape: one row per applied version.
  await sql(fleet.primaryUrl, 'create table schema_migrations (version varchar(128) primary key)');
  await sql(fleet.primaryUrl, `insert into schema_migrations values ('20240101000000'), ('20240102000000')`);
  await sql(fleet.primaryUrl, 'create table orders (id bigserial primary key, note text)');
  await fleet.waitForReplicaCatchUp();
});

after(async () => {
  await fleet?.stop();
});

describe('applied versions', () => {
  test('reads dbmate/Rails schema_migrations and computes the pending migrations', async () => {
    const client = await connect(fleet.primaryUrl, { role: 'primary' });
    try {
      const applied = await readAppliedVersions(client, {}, { databaseUrl: fleet.primaryUrl, role: 'primary' });
      assert.deepEqual(applied.versions, ['20240101000000', '20240102000000']);
      assert.equal(applied.latest, '20240102000000');
      assert.match(applied.source, /schema_migrations/);
      assert.deepEqual(pendingVersions(['20240103000000', '20240101000000', '20240102000000', '20240104000000'], applied), ['20240103000000', '20240104000000']);
    } finally {
      await client.end();
    }
  });

  test('reads golang-migrate (latest version + dirty) and Flyway (successful rows only)', async () => {
    await sql(fleet.primaryUrl, 'create schema gm; create table gm.schema_migrations (version bigint not null primary key, dirty boolean not null)');
    await sql(fleet.primaryUrl, 'insert into gm.schema_migrations values (3, false)');
    await sql(
      fleet.primaryUrl,
      `create table flyway_schema_history (installed_rank int primary key, version varchar(50), description varchar(200),
         type varchar(20), script varchar(1000), checksum int, installed_by varchar(100), installed_on timestamp default now(),
         execution_time int, success boolean not null)`,
    );
    await sql(
      fleet.primaryUrl,
      `insert into flyway_schema_history (installed_rank, version, script, success) values
         (1, '1', 'V1__init.sql', true), (2, '1.1', 'V1_1__more.sql', true), (3, null, 'R__views.sql', true), (4, '2', 'V2__broken.sql', false)`,
    );
    const client = await connect(fleet.primaryUrl, { role: 'primary' });
    try {
      const golang = await readAppliedVersions(client, { versionTable: 'gm.schema_migrations' }, { databaseUrl: fleet.primaryUrl, role: 'primary' });
      assert.equal(golang.semantics, 'up-to');
      assert.equal(golang.latest, '3');
      assert.deepEqual(pendingVersions(['001', '002', '003', '004'], golang), ['004']);

      const flyway = await readAppliedVersions(client, { versionTable: 'flyway_schema_history' }, { databaseUrl: fleet.primaryUrl, role: 'primary' });
      assert.deepEqual(flyway.versions, ['1', '1.1']);
      assert.deepEqual(pendingVersions(['1', '1_1', '2'], flyway), ['2']);

      const query = await readAppliedVersions(client, { versionQuery: `select '7' union all select '5'` }, { databaseUrl: fleet.primaryUrl, role: 'primary' });
      assert.deepEqual(query.versions, ['5', '7']);

      // A golang-migrate migration that failed halfway refuses the deploy.
      await sql(fleet.primaryUrl, 'update gm.schema_migrations set version = 4, dirty = true');
      const dirty = await checkDatabase({ primaryUrl: fleet.primaryUrl, onDiskVersions: ['001', '004'], versionSource: { versionTable: 'gm.schema_migrations' } });
      assert.equal(dirty.ok, false);
      assert.deepEqual(dirty.pending, []);
      assert.match(dirty.problems[0] ?? '', /gm\.schema_migrations \(golang-migrate\) is dirty at version 4 \(dirty\): a migration failed halfway/);
    } finally {
      await client.end();
      await sql(fleet.primaryUrl, 'drop schema gm cascade; drop table flyway_schema_history');
    }
  });

  test('a version table that does not exist is an error naming the table and the host, not the password', async () => {
    await assert.rejects(checkDatabase({ primaryUrl: fleet.primaryUrl, onDiskVersions: [], versionSource: { versionTable: 'app_versions' } }), (error: Error) => {
      assert.ok(error instanceof DatabaseCheckError);
      assert.match(error.message, /"app_versions" does not exist/);
      assert.ok(error.message.includes(`${fleet.address}:${fleet.primaryPort}/app`), error.message);
      assertNoPassword(error.message);
      return true;
    });
  });
});

describe('replicas', () => {
  test('a caught-up replica of an idle primary lags 0 bytes and 0 s', async () => {
    await fleet.waitForReplicaCatchUp();
    // Let the primary go idle long enough that "now() - last replayed transaction" would be > 0.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const result = await checkDatabase({ primaryUrl: fleet.primaryUrl, replicas: [fleet.replicaUrl], onDiskVersions: ['20240101000000', '20240102000000'], maxLagMs: 500 });
    assert.deepEqual(result.problems, []);
    assert.equal(result.ok, true);
    const [replica] = result.replicas;
    assert.equal(replica?.ok, true);
    assert.equal(replica?.lagBytes, 0);
    assert.equal(replica?.lagSeconds, 0);
    assert.equal(replica?.version, '20240102000000 (2 applied)');
    assert.equal(replica?.name, `${fleet.address}:${fleet.replicaPort}/app`);
    assert.deepEqual(result.pending, []);
  });

  test('a replica whose replay is paused while the primary writes is refused with its lag figures', async () => {
    await withReplayPaused(async () => {
      await sql(fleet.primaryUrl, `insert into orders (note) select repeat('x', 200) from generate_series(1, 2000)`);
      const result = await checkDatabase({
        primaryUrl: fleet.primaryUrl,
        replicas: [fleet.replicaUrl],
        onDiskVersions: [],
        maxLagMs: 300,
      });
      assert.equal(result.ok, false);
      const [replica] = result.replicas;
      assert.equal(replica?.ok, false);
      assert.ok((replica?.lagBytes ?? 0) > 100_000, `lag bytes ${replica?.lagBytes}`);
      assert.ok((replica?.lagSeconds ?? 0) > 0.3, `lag seconds ${replica?.lagSeconds}`);
      assert.equal(replica?.replayPaused, true);
      assert.equal(result.problems.length, 1);
      const problem = result.problems[0]!;
      assert.match(
        problem,
        new RegExp(
          `^replica ${fleet.address}:${fleet.replicaPort}/app: lags .*\\(${replica!.lagBytes} bytes\\) and ${replica!.lagSeconds} s behind the primary, more than maxReplicaLag 0.3 s`,
        ),
      );
      assert.match(problem, /replay is paused/);
      assertNoPassword(problem);
    });
    // Once replay resumes, the same replica passes again.
    const after = await checkReplicaOnly(300);
    assert.equal(after.ok, true, after.problem);
  });

  test('a replica that is behind but catches up while watched reports the time it took', async () => {
    await fleet.pauseReplay();
    try {
      await sql(fleet.primaryUrl, `insert into orders (note) select 'z' from generate_series(1, 200)`);
      const resumed = new Promise((resolve) => setTimeout(resolve, 300)).then(() => fleet.resumeReplay());
      const [result] = await Promise.all([checkReplicaOnly(2000), resumed]);
      assert.equal(result.ok, true, result.problem);
      assert.ok((result.lagBytes ?? 0) > 0, `lag bytes ${result.lagBytes}`);
      assert.ok(result.lagSeconds !== null && result.lagSeconds >= 0.25 && result.lagSeconds < 1, `lag seconds ${result.lagSeconds}`);
    } finally {
      await fleet.resumeReplay();
      await fleet.waitForReplicaCatchUp();
    }
  });

  test('a byte limit refuses a replica that is behind even when the time limit is generous', async () => {
    await withReplayPaused(async () => {
      await sql(fleet.primaryUrl, `insert into orders (note) select 'y' from generate_series(1, 500)`);
      const result = await checkReplicaOnly(60_000, 1000);
      assert.equal(result.ok, false);
      assert.match(result.problem ?? '', /more than maxReplicaLagBytes 1000/);
    });
  });

  test('a migration applied while replay is paused is a schema version mismatch naming both versions', async () => {
    try {
      await withReplayPaused(async () => {
        await sql(fleet.primaryUrl, `insert into schema_migrations values ('20240103000000')`);
        const result = await checkDatabase({
          primaryUrl: fleet.primaryUrl,
          replicas: [fleet.replicaUrl],
          onDiskVersions: ['20240101000000', '20240102000000', '20240103000000', '20240104000000'],
          maxLagMs: 60_000,
        });
        assert.equal(result.ok, false);
        assert.deepEqual(result.pending, ['20240104000000']);
        const problem = result.problems.find((line) => line.includes('schema version'));
        assert.ok(problem, result.problems.join('\n'));
        assert.match(problem, /reports schema version 20240102000000 \(2 applied\), but the primary is at 20240103000000 \(3 applied\)/);
        assert.equal(result.replicas[0]?.version, '20240102000000 (2 applied)');
      });
    } finally {
      await sql(fleet.primaryUrl, `delete from schema_migrations where version = '20240103000000'`);
      await fleet.waitForReplicaCatchUp();
    }
  });

  test('a replica that is down is refused (fail closed); an override with a reason passes and is recorded', async () => {
    await fleet.stopReplica();
    try {
      const refused = await checkDatabase({ primaryUrl: fleet.primaryUrl, replicas: [fleet.replicaUrl], onDiskVersions: [], connectTimeoutMs: 2000 });
      assert.equal(refused.ok, false);
      assert.equal(refused.override, undefined);
      assert.equal(refused.replicas[0]?.lagBytes, null);
      assert.match(
        refused.problems[0] ?? '',
        new RegExp(`^replica ${fleet.address}:${fleet.replicaPort}/app: unreachable, so its lag and schema version are unknown: cannot connect: .*ECONNREFUSED`),
      );
      assertNoPassword(refused.problems.join('\n'));

      const waived = await checkDatabase({
        primaryUrl: fleet.primaryUrl,
        replicas: [fleet.replicaUrl],
        onDiskVersions: [],
        connectTimeoutMs: 2000,
        allowUnsafe: { reason: 'replica db2 is being rebuilt, reads go to the primary (INC-42)' },
      });
      assert.equal(waived.ok, true);
      assert.deepEqual(waived.override, { reason: 'replica db2 is being rebuilt, reads go to the primary (INC-42)', problems: refused.problems });
      await assert.rejects(
        checkDatabase({ primaryUrl: fleet.primaryUrl, replicas: [fleet.replicaUrl], onDiskVersions: [], allowUnsafe: { reason: '  ' } }),
        /allowUnsafe.reason is empty/,
      );
    } finally {
      await fleet.startReplica();
      await fleet.waitForReplicaCatchUp();
    }
  });

  test('a replica URL that points at the primary is refused', async () => {
    const result = await checkDatabase({ primaryUrl: fleet.primaryUrl, replicas: [fleet.primaryUrl], onDiskVersions: [] });
    assert.equal(result.ok, false);
    assert.match(result.problems[0] ?? '', new RegExp(`^replica ${fleet.address}:${fleet.primaryPort}/app: is not a replica: pg_is_in_recovery\\(\\) is false`));
  });
});

describe('read paths', () => {
  test('every sampled connection of a read path must report the primary schema version', async () => {
    const ok = await checkDatabase({ primaryUrl: fleet.primaryUrl, readPaths: [fleet.replicaUrl], onDiskVersions: [] });
    assert.equal(ok.ok, true, ok.problems.join('\n'));
    assert.equal(ok.readPaths[0]?.samples.length, 5);
    assert.ok(ok.readPaths[0]?.samples.every((s) => s.server === `${fleet.address}:${fleet.replicaPort}`));

    try {
      await withReplayPaused(async () => {
        await sql(fleet.primaryUrl, `insert into schema_migrations values ('20240103000000')`);
        const stale = await checkDatabase({
          primaryUrl: fleet.primaryUrl,
          readPaths: [fleet.replicaUrl, fleet.primaryUrl],
          readPathSamples: 3,
          onDiskVersions: [],
        });
        assert.equal(stale.ok, false);
        assert.equal(stale.readPaths[1]?.ok, true);
        assert.deepEqual(stale.problems, [
          `read path ${fleet.address}:${fleet.replicaPort}/app: 3 of 3 connections reported schema version 20240102000000 (2 applied) ` +
            `(served by ${fleet.address}:${fleet.replicaPort}), but the primary is at 20240103000000 (3 applied)`,
        ]);
      });
    } finally {
      await sql(fleet.primaryUrl, `delete from schema_migrations where version = '20240103000000'`);
      await fleet.waitForReplicaCatchUp();
    }
  });

  test('a read path that cannot be reached is refused', async () => {
    const unreachable = fleet.replicaUrl.replace(`:${fleet.replicaPort}/`, ':1/');
    const result = await checkDatabase({ primaryUrl: fleet.primaryUrl, readPaths: [unreachable], readPathSamples: 2, onDiskVersions: [] });
    assert.equal(result.ok, false);
    assert.match(result.problems[0] ?? '', /2 of 2 connections failed, so the version it serves is unknown/);
    assertNoPassword(result.problems[0] ?? '');
  });
});

describe('connection budget', () => {
  test('refused with the numbers when the fleet would not fit the primary max_connections', async () => {
    const fits = await checkDatabase({
      primaryUrl: fleet.primaryUrl,
      onDiskVersions: [],
      connectionBudget: { instances: 3, poolSize: 5, batchSize: 1, appRole: 'ship' },
    });
    assert.equal(fits.ok, true, fits.problems.join('\n'));
    assert.equal(fits.connectionBudget?.peak, 20);

    const refused = await checkDatabase({
      primaryUrl: fleet.primaryUrl,
      onDiskVersions: [],
      connectionBudget: { instances: 6, poolSize: 5, processesPerInstance: 1, batchSize: 2, appRole: 'ship' },
    });
    assert.equal(refused.ok, false);
    // The harness primary runs with max_connections 40 and 3 reserved for superusers.
    assert.equal(refused.connectionBudget?.peak, 40);
    assert.ok((refused.connectionBudget?.available ?? 99) <= 37);
    assert.match(
      refused.problems[0] ?? '',
      /connection budget exceeded by \d+: the fleet may hold 40 connections .*6 instances × 1 processes × pool 5 = 30, \+ 10 while a batch of 2/,
    );
    assert.match(refused.problems[0] ?? '', /max_connections 40 − 3 reserved − \d+ open now by roles other than ship/);
  });

  test('connections held by other clients shrink the budget', async () => {
    const others = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const client = new pg.Client({ connectionString: fleet.primaryAdminUrl });
        await client.connect();
        return client;
      }),
    );
    try {
      const result = await checkDatabase({ primaryUrl: fleet.primaryUrl, onDiskVersions: [], connectionBudget: { instances: 1, poolSize: 1, batchSize: 1, appRole: 'ship' } });
      const withoutOthers = 40 - 3;
      assert.ok((result.connectionBudget?.available ?? 99) <= withoutOthers - 4, `available ${result.connectionBudget?.available}`);
    } finally {
      await Promise.all(others.map((client) => client.end()));
    }
  });
});

async function checkReplicaOnly(maxLagMs: number, maxLagBytes?: number) {
  const primary = await connect(fleet.primaryUrl, { role: 'primary' });
  try {
    const primaryVersion = await readAppliedVersions(primary, {}, { databaseUrl: fleet.primaryUrl, role: 'primary' });
    const [result] = await checkReplicas({ primary, primaryVersion, replicas: [fleet.replicaUrl], versionSource: {}, maxLagMs, maxLagBytes });
    return result!;
  } finally {
    await primary.end();
  }
}
