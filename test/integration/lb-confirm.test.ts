/**
 * Issue 17, item 1, with the real CLI on three real hosts behind HAProxy 2.6 checking
 * `inter 500ms rise 2 fall 2` on its own path (/ready), while ship checks /healthz: a host is put
 * back once one HAProxy check that started after its restart passed (not `rise` of them), and a
 * release only HAProxy's check sees broken never answers a single request. The control at the end
 * puts that release back the way HAProxy's stock `enable server` does, and it does get traffic,
 * so the zero means something.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { RuntimeApiClient, parseRuntimeApi } from '../../src/lb/haproxy-runtime.js';
import { sleep } from '../../src/util/deadline.js';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { startLoad } from '../fleet/loadgen.js';
import { runShip } from '../support/cli.js';

let fleet: Fleet;
let client: RuntimeApiClient;

before(async () => {
  fleet = await startFleet({ hosts: 3, check: { inter: '500ms', fall: 2, rise: 2, path: '/ready', log: true } });
  client = new RuntimeApiClient(parseRuntimeApi(fleet.runtimeApi));
});
after(async () => {
  await fleet?.stop();
});

async function versionOf(url: string): Promise<string> {
  const response = await fetch(url);
  return ((await response.json()) as { version: string }).version;
}

async function statusOf(name: string): Promise<string> {
  return (await client.serverStats('app')).find((row) => row.name === name)?.status ?? 'missing';
}

/**
 * HAProxy's own log (option log-health-checks) of one server since it last went into
 * maintenance: the checks that moved its health, and how it came back UP.
 */
async function sinceMaintenance(name: string): Promise<string[]> {
  // HAProxy writes each of these twice to its output: as a log line and as a '[WARNING]' on stderr.
  const log = (await readFile(fleet.haproxy.logPath, 'utf8')).split('\n').filter((line) => line.includes(`app/${name} `) && !line.startsWith('[WARNING]'));
  const start = log.map((line) => /going DOWN for maintenance|enters maintenance/.test(line)).lastIndexOf(true);
  assert.ok(start >= 0, `${name} never went into maintenance:\n${log.join('\n')}`);
  return log.slice(start + 1);
}

test('ship deploy under load: each host is back after one HAProxy check that started after its restart, not rise of them; zero failed requests', async () => {
  const config = await fleet.writeConfig();
  const load = await startLoad({ url: fleet.frontendUrl, rps: 300, durationMs: 120_000 });
  await sleep(500);
  const run = await runShip(['deploy', '--config', config, '--version', 'v2', '--artifact', await fleet.artifact('v2'), '--json']);
  await sleep(500);
  const tally = await load.stop();

  assert.equal(run.code, 0, `ship deploy failed:\n${run.stderr}\n${run.stdout.slice(-3000)}`);
  for (const host of fleet.hosts) assert.equal(await versionOf(host.appUrl), 'v2', `${host.name} does not serve v2`);
  assert.equal(tally.failed, 0, `failed requests during the rollout: ${JSON.stringify({ byStatus: tally.byStatus, errors: tally.errors, first: tally.firstFailures })}`);
  assert.ok((tally.versions.v1 ?? 0) > 0 && (tally.versions.v2 ?? 0) > 0, 'the load must have seen both versions');

  for (const host of fleet.hosts) {
    // HAProxy's word, not ship's: one passing check ('DOWN 1/2'), then UP because ship said so.
    // (Leaving maintenance logs 'UP/DRAIN' for the instant before `health down` in the same command line.)
    const lines = await sinceMaintenance(host.name);
    const up = lines.findIndex((line) => / is UP, /.test(line));
    assert.ok(up >= 0, `${host.name} never came UP after maintenance:\n${lines.join('\n')}`);
    const checks = lines.slice(0, up).filter((line) => /Health check for server app\/\S+ succeeded/.test(line));
    assert.equal(checks.length, 1, `${host.name}: HAProxy checks passed before it was UP:\n${lines.slice(0, up + 1).join('\n')}`);
    assert.match(checks[0]!, /status: 1\/2 DOWN/);
    assert.match(lines[up]!, /changed from CLI/);
    assert.ok(
      lines.slice(0, up).every((line) => !/failed/.test(line)),
      `${host.name}: a failed check before it was UP:\n${lines.slice(0, up + 1).join('\n')}`,
    );
  }
  const healthy = run.events.filter((e) => e.type === 'lb.healthy');
  assert.equal(healthy.length, 3);
  for (const event of healthy) {
    assert.ok(event.type === 'lb.healthy');
    assert.match(event.detail ?? '', /^HAProxy's first check after the restart passed \(L7OK 200\) \d+ ms after it left maintenance, without waiting for rise 2$/);
  }
  const finished = run.events.find((e) => e.type === 'run.finished');
  assert.ok(finished?.type === 'run.finished' && finished.status === 'succeeded');
  for (const summary of finished.summary.hosts) {
    assert.ok((summary.lbWaitMs ?? 0) >= summary.timeToHealthyMs && summary.timeToHealthyMs > 0, `${summary.host}: ${JSON.stringify(summary)}`);
    assert.ok((summary.lbWaitMs ?? 0) < summary.outOfRotationMs, `${summary.host}: ${JSON.stringify(summary)}`);
  }
});

test('a release only HAProxy check sees broken (/ready 500, /healthz 200) never answers a request: the host stays out, in maintenance', async () => {
  const config = await fleet.writeConfig({ rollout: { healthyTimeout: '3s' } });
  const artifact = await fleet.artifact('v3', { readyStatus: 500 });
  const load = await startLoad({ url: fleet.frontendUrl, rps: 300, durationMs: 120_000 });
  await sleep(500);
  const run = await runShip(['deploy', '--config', config, '--version', 'v3', '--artifact', artifact, '--json']);
  await sleep(500);
  const tally = await load.stop();

  assert.notEqual(run.code, 0, `ship deploy of a release HAProxy refuses succeeded:\n${run.stdout.slice(-3000)}`);
  const broken = fleet.hosts[0]!;
  assert.equal(await versionOf(broken.appUrl), 'v3', 'the first host runs the broken release (ship only saw /healthz pass)');
  assert.equal(tally.versions.v3 ?? 0, 0, `the broken release answered requests through HAProxy: ${JSON.stringify(tally.versions)}`);
  assert.equal(tally.failed, 0, `failed requests: ${JSON.stringify({ byStatus: tally.byStatus, errors: tally.errors, first: tally.firstFailures })}`);
  assert.ok((tally.versions.v2 ?? 0) > 0, 'the rest of the fleet kept serving');
  assert.equal(await statusOf(broken.name), 'MAINT', `${broken.name} must stay out of the load balancer`);

  const finished = run.events.find((e) => e.type === 'run.finished');
  assert.ok(finished?.type === 'run.finished' && finished.status === 'failed');
  const summary = finished.summary.hosts.find((h) => h.host === broken.name);
  assert.equal(summary?.outcome, 'failed-out');
  assert.match(summary?.error ?? '', /not confirmed healthy by the load balancer: .*load balancer health did not finish within 3000ms \(last seen: DOWN, last check L7STS 500\)/);
  assert.deepEqual(finished.summary.outOfRotation, [broken.name]);
  const lines = await sinceMaintenance(broken.name);
  assert.ok(!lines.some((line) => / is UP, /.test(line)), `HAProxy called ${broken.name} UP:\n${lines.join('\n')}`);
});

test('control: the same release put back the way HAProxy stock `enable server` does (no fresh check) does answer requests', async () => {
  const broken = fleet.hosts[0]!;
  assert.equal(await versionOf(broken.appUrl), 'v3');
  const load = await startLoad({ url: fleet.frontendUrl, rps: 300, durationMs: 60_000 });
  await sleep(300);
  // Without a check to come, HAProxy keeps the verdict from before maintenance: UP.
  await client.runSilent(`disable health app/${broken.name}`);
  await client.runSilent(`set server app/${broken.name} state ready`);
  await sleep(1000);
  await client.runSilent(`set server app/${broken.name} state maint`);
  await client.runSilent(`enable health app/${broken.name}`);
  const tally = await load.stop();
  assert.ok((tally.versions.v3 ?? 0) > 0, `put back without a fresh check, the broken release got no request: ${JSON.stringify(tally.versions)}`);
});
