/**
 * The headline load test (test/integration/rolling-deploy.test.ts) with a failure in it: four real
 * hosts (sshd + app) behind HAProxy, several hundred requests a second over keep-alive and fresh
 * connections, and a release that is broken on web2 only (its restart starts an app whose
 * /healthz answers 500). ship must roll back web2 while it is out of the load balancer, put it
 * back on the old release and stop; not one request may fail on the way.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { quote } from '../../src/shell/sh.js';
import { sleep } from '../../src/util/deadline.js';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { startLoad } from '../fleet/loadgen.js';
import { runShip } from '../support/cli.js';
import { assertAllOn, assertInvariants, describeRun, finishedEvent, journalStates, lastJournalRun } from '../support/fleet-assertions.js';

let fleet: Fleet;

before(async () => {
  fleet = await startFleet({ hosts: 4 });
});
after(async () => {
  await fleet?.stop();
});

/** An app that serves like the real one but whose health check always fails. */
const BROKEN_SERVER = `import { createServer } from 'node:http';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
const version = readFileSync(new URL('VERSION', import.meta.url), 'utf8').trim();
const server = createServer((request, response) => {
  if (request.url === '/healthz') {
    response.writeHead(500, { 'Content-Type': 'text/plain' });
    return response.end('cannot reach the cache\\n');
  }
  response.writeHead(200, { 'Content-Type': 'application/json' });
  response.end(JSON.stringify({ version, host: process.env.APP_NAME }));
});
server.listen(Number(process.env.APP_PORT), process.env.APP_ADDRESS, () => {
  writeFileSync(process.env.APP_PID_FILE + '.tmp', process.pid + '\\n');
  renameSync(process.env.APP_PID_FILE + '.tmp', process.env.APP_PID_FILE);
});
process.on('SIGTERM', () => { server.close(() => process.exit(0)); server.closeIdleConnections(); });
`;

test('under load, a release broken on one host is rolled back there: exit 1, that host back on v1 and in service, zero failed requests', async (t) => {
  const broken = fleet.hosts[1]!;
  const brokenServer = join(broken.appDir, 'broken-server.mjs');
  await writeFile(brokenServer, BROKEN_SERVER);
  const restartOf = (appDir: string) => `sh ${quote(`${appDir}/restart.sh`)} ${quote(appDir)}`;
  // On web2 only, the v2 release gets the broken server before the restart; the rollback (back to v1) restarts the good one.
  const current = `${broken.appDir}/current`;
  const config = await fleet.writeConfig({
    rollout: { healthyTimeout: '3s', drainTimeout: '2s' },
    hosts: fleet.hosts.map((h) => ({
      name: h.name,
      address: h.address,
      vars: {
        appDir: h.appDir,
        restart:
          h === broken
            ? `case "$(readlink ${quote(current)})" in */v2) cp ${quote(brokenServer)} ${quote(`${current}/server.mjs`)};; esac; ${restartOf(h.appDir)}`
            : restartOf(h.appDir),
      },
    })),
  });
  const artifact = await fleet.artifact('v2');
  const load = await startLoad({ url: fleet.frontendUrl, rps: 400, durationMs: 120_000 });
  await sleep(500);
  const run = await runShip(['deploy', '--config', config, '--version', 'v2', '--artifact', artifact, '--json']);
  await sleep(500);
  const tally = await load.stop();
  t.diagnostic(
    `requests: ${tally.sent} sent, ${tally.ok} ok, ${tally.failed} failed (keep-alive ${tally.keepAlive.failed}/${tally.keepAlive.sent}, fresh ${tally.fresh.failed}/${tally.fresh.sent}); versions ${JSON.stringify(tally.versions)}`,
  );

  await assertInvariants(fleet, run, { code: 1, configPath: config });
  assert.equal(
    tally.failed,
    0,
    `failed requests during the rollout and rollback: ${JSON.stringify({ byStatus: tally.byStatus, errors: tally.errors, first: tally.firstFailures })}`,
  );
  assert.ok(tally.keepAlive.ok > 100 && tally.fresh.ok > 100, `too little load to mean anything: ${JSON.stringify(tally)}`);
  assert.ok((tally.versions.v1 ?? 0) > 0 && (tally.versions.v2 ?? 0) > 0, 'the load must have seen both versions');

  const { status, summary } = finishedEvent(run);
  assert.equal(status, 'failed');
  assert.deepEqual(
    summary.hosts.map((h) => [h.host, h.outcome]),
    [
      ['web1', 'deployed'],
      ['web2', 'rolled-back'],
      ['web3', 'not-started'],
      ['web4', 'not-started'],
    ],
  );
  assert.equal(summary.hosts[1]!.code, 'SHIP-E015', describeRun(run));
  assert.match(summary.hosts[1]!.error ?? '', /status 500/);
  assert.deepEqual(summary.outOfRotation, []);
  await assertAllOn(fleet, 'v2', [fleet.hosts[0]!]);
  await assertAllOn(fleet, 'v1', fleet.hosts.slice(1));
  assert.deepEqual(
    [...journalStates(await lastJournalRun(config))],
    [
      ['web1', 'in-service'],
      ['web2', 'in-service'],
    ],
  );
});
