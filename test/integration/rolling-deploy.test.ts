/**
 * The headline: ship rolls a new version over four real hosts (sshd + app each) behind a real
 * HAProxy while a load generator sends several hundred requests a second through it, over
 * keep-alive and fresh connections; not one request may fail. The control run in the same file
 * restarts an app without draining and must show failures, so the zero means something.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { startLoad } from '../fleet/loadgen.js';
import { sleep } from '../../src/util/deadline.js';
import { runShip } from '../support/cli.js';

let fleet: Fleet;

before(async () => {
  fleet = await startFleet({ hosts: 4 });
});
after(async () => {
  await fleet?.stop();
});

async function versionOf(url: string): Promise<string> {
  const response = await fetch(url);
  return ((await response.json()) as { version: string }).version;
}

test('ship deploy under load: every host on the new version, exit 0, zero failed requests', async () => {
  const config = await fleet.writeConfig();
  const artifact = await fleet.artifact('v2');
  const load = await startLoad({ url: fleet.frontendUrl, rps: 400, durationMs: 120_000 });
  await sleep(500);
  const run = await runShip(['deploy', '--config', config, '--version', 'v2', '--artifact', artifact, '--json']);
  await sleep(500);
  const tally = await load.stop();

  assert.equal(run.code, 0, `ship deploy failed:\n${run.stderr}\n${run.stdout.slice(-3000)}`);
  for (const host of fleet.hosts) assert.equal(await versionOf(host.appUrl), 'v2', `${host.name} does not serve v2`);
  assert.equal(tally.failed, 0, `failed requests during the rollout: ${JSON.stringify({ byStatus: tally.byStatus, errors: tally.errors, first: tally.firstFailures })}`);
  assert.ok(tally.keepAlive.ok > 100 && tally.fresh.ok > 100, `too little load to mean anything: ${JSON.stringify(tally)}`);
  assert.ok((tally.versions.v1 ?? 0) > 0 && (tally.versions.v2 ?? 0) > 0, 'the load must have seen both versions');

  const finished = run.events.find((e) => e.type === 'run.finished');
  assert.ok(finished && finished.type === 'run.finished' && finished.status === 'succeeded');
  assert.deepEqual(
    finished.summary.hosts.map((h) => h.outcome),
    ['deployed', 'deployed', 'deployed', 'deployed'],
  );
  // Never more than one instance out at a time (batch size 1).
  let out = 0;
  let maxOut = 0;
  for (const event of run.events) {
    if (event.type !== 'instance.state') continue;
    if (event.from === 'in-service') out++;
    if (event.to === 'in-service') out--;
    maxOut = Math.max(maxOut, out);
  }
  assert.equal(maxOut, 1);
});

test('control: restarting an app without draining it does fail requests', async () => {
  const load = await startLoad({ url: fleet.frontendUrl, rps: 400, durationMs: 60_000 });
  await sleep(500);
  for (const host of fleet.hosts.slice(0, 2)) {
    await host.app.restart();
    await sleep(300);
  }
  await sleep(300);
  const tally = await load.stop();
  assert.ok(tally.failed > 0, `a restart without draining must show failed requests, saw none: ${JSON.stringify(tally)}`);
});
