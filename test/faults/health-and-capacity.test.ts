/**
 * Faults on the way to and after "healthy", each through the real CLI (`ship deploy --json`) on
 * four hosts (sshd + app) behind HAProxy: the SSH connection cut in the middle of a step, health
 * that flaps before reaching its threshold (then settles, or never does), the load balancer
 * marking an instance DOWN right after ship put it back, another instance failing mid-rollout
 * (the capacity floor stops the run), and capacity that comes back within `capacityWait`.
 *
 * Every run is held to the invariants of test/support/fleet-assertions.ts: its documented exit
 * code, never more than one instance out at once, and nothing out of HAProxy that the summary and
 * the journal do not list as out.
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { randomInt } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ShipEvent } from '../../src/events.js';
import { quote } from '../../src/shell/sh.js';
import { sleep } from '../../src/util/deadline.js';
import { restartApp, stopApp } from '../fleet/app/app.js';
import { startFleet, type ConfigOverrides, type Fleet, type FleetHost } from '../fleet/fleet.js';
import { finished, startShip, type ShipRun } from '../support/cli.js';
import { restartOf } from '../support/host-commands.js';
import {
  assertAllOn,
  assertInvariants,
  describeRun,
  finishedEvent,
  lastJournalRun,
  journalStates,
  lbView,
  resetFleet,
  touchedHosts,
  versionOf,
  watchEvents,
} from '../support/fleet-assertions.js';

const BASELINE = 'v1';
const FAST_ROLLOUT = { healthyTimeout: '3s', drainTimeout: '2s' };

let fleet: Fleet;

before(async () => {
  fleet = await startFleet({ hosts: 4, version: BASELINE });
});
after(async () => {
  await fleet?.stop();
});
beforeEach(async () => {
  await resetFleet(fleet, BASELINE);
});

/** The fleet's hosts with their usual variables, and `restart` replaced where given. */
function hostsWithRestart(restart: Record<string, string>): ConfigOverrides['hosts'] {
  return fleet.hosts.map((h) => ({ name: h.name, address: h.address, vars: { appDir: h.appDir, restart: restart[h.name] ?? restartOf(h) } }));
}

function writeConfig(name: string, overrides: ConfigOverrides = {}): Promise<string> {
  return fleet.writeConfig({ ...overrides, rollout: { ...FAST_ROLLOUT, ...overrides.rollout } }, name);
}

/** Not async: awaiting the child (a thenable) would wait for it to exit. */
function startDeploy(config: string, version: string, artifact: string, extra: string[] = []) {
  return startShip(['deploy', '--config', config, '--version', version, '--artifact', artifact, '--json', ...extra]);
}

/** The `instance.state` event time of `host` reaching `to`, in epoch ms. */
function stateAt(run: ShipRun, host: string, to: string): number {
  const event = run.events.find((e) => e.type === 'instance.state' && e.host === host && e.to === to);
  assert.ok(event, `${host} never reached ${to}:\n${describeRun(run)}`);
  return Date.parse(event.time);
}

/**
 * Cuts every SSH connection to the host the way a network failure does: the kernel aborts the
 * host side's TCP sockets (`ss -K`) and the peer gets a reset. Returns how many were cut.
 */
async function cutSshConnections(host: FleetHost): Promise<number> {
  const filter = ['src', host.address, 'sport', '=', String(host.sshd.port)];
  const before = await execa('ss', ['-Htn', 'state', 'established', ...filter]);
  await execa('ss', ['-K', '-tn', 'state', 'established', ...filter]);
  return before.stdout.split('\n').filter((line) => line.trim() !== '').length;
}

async function waitFor(what: string, condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

test('the SSH connection cut mid-step: the step fails, ship kills the orphaned command over a new connection, rolls back and puts the instance back; exit 1', async () => {
  const version = 'v2-cut';
  const canary = fleet.hosts[0]!;
  const marker = `sleep 5.${randomInt(100_000, 999_999)}`;
  const config = await writeConfig('ssh-cut.config.ts', {
    hosts: hostsWithRestart({ [canary.name]: `case "$(readlink ${quote(`${canary.appDir}/current`)})" in */${version}) ${marker};; esac; ${restartOf(canary)}` }),
  });
  const child = startDeploy(config, version, await fleet.artifact(version));
  let cut: Promise<number> | undefined;
  watchEvents(child, (event) => {
    if (event.type === 'step.started' && event.host === canary.name && event.phase === 'activate' && event.step === 'restart') {
      cut ??= (async () => {
        await waitFor(`'${marker}' on ${canary.name}`, async () => (await execa('pgrep', ['-f', marker], { reject: false })).exitCode === 0);
        return cutSshConnections(canary);
      })();
    }
  });
  const run = await finished(child);
  const cutCount = await cut;
  assert.ok(cutCount !== undefined && cutCount > 0, `the connection was never cut:\n${describeRun(run)}`);

  await assertInvariants(fleet, run, { code: 1, configPath: config });
  const { summary } = finishedEvent(run);
  const host = summary.hosts.find((h) => h.host === canary.name);
  assert.equal(host?.outcome, 'rolled-back', describeRun(run));
  assert.match(host?.error ?? '', /the connection closed while a command was running; killed its process group \d+ on the host over a new connection/);
  assert.match(host?.error ?? '', new RegExp(`${canary.name}: activate step 'restart'`));
  assert.ok(
    run.events.some((e) => e.type === 'step.finished' && e.host === canary.name && e.phase === 'rollback' && e.step === 'restart' && e.ok),
    'the rollback ran over a new connection',
  );
  assert.deepEqual(summary.outOfRotation, []);
  assert.deepEqual(touchedHosts(run.events), [canary.name], 'the canary failed: no other host left');
  assert.equal(journalStates(await lastJournalRun(config)).get(canary.name), 'in-service');
  assert.equal((await execa('pgrep', ['-f', marker], { reject: false })).exitCode, 1, 'the cut step must not run on behind ship’s back');
  await assertAllOn(fleet, BASELINE);
});

/**
 * A release whose /healthz alternates 500 and 200 for its first `flapMs` (forever with Infinity),
 * then answers 200. /flaps reports how many 500s it sent and when the last one went out.
 */
async function flappingArtifact(version: string, flapMs: number): Promise<string> {
  const staging = await mkdtemp(join(tmpdir(), 'ship-flapping-'));
  try {
    await writeFile(join(staging, 'VERSION'), `${version}\n`);
    await writeFile(join(staging, 'FLAP_MS'), `${Number.isFinite(flapMs) ? flapMs : 1e12}\n`);
    await writeFile(
      join(staging, 'server.mjs'),
      `import { createServer } from 'node:http';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
const here = new URL('.', import.meta.url).pathname;
const version = readFileSync(here + 'VERSION', 'utf8').trim();
const flapMs = Number(readFileSync(here + 'FLAP_MS', 'utf8'));
const started = Date.now();
let probes = 0, failures = 0, lastFailureAt = 0;
const server = createServer((request, response) => {
  if (request.url === '/healthz') {
    probes++;
    const ok = Date.now() - started >= flapMs || probes % 2 === 0;
    if (!ok) { failures++; lastFailureAt = Date.now(); }
    response.writeHead(ok ? 200 : 500, { 'Content-Type': 'text/plain', Connection: 'close' });
    return response.end(ok ? 'ok\\n' : 'flapping\\n');
  }
  const body = request.url === '/flaps' ? { failures, lastFailureAt } : { version, host: process.env.APP_NAME };
  response.writeHead(200, { 'Content-Type': 'application/json' });
  response.end(JSON.stringify(body));
});
server.listen(Number(process.env.APP_PORT), process.env.APP_ADDRESS, () => {
  writeFileSync(process.env.APP_PID_FILE + '.tmp', process.pid + '\\n');
  renameSync(process.env.APP_PID_FILE + '.tmp', process.env.APP_PID_FILE);
});
process.on('SIGTERM', () => { server.close(() => process.exit(0)); server.closeIdleConnections(); setTimeout(() => process.exit(0), 2000).unref(); });
`,
    );
    const dir = join(fleet.dir, 'artifacts');
    await mkdir(dir, { recursive: true });
    const artifact = join(dir, `app-${version}.tgz`);
    await execa('tar', ['-czf', artifact, '-C', staging, 'server.mjs', 'VERSION', 'FLAP_MS']);
    return artifact;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

const FLAPPING_HEALTH = { http: { port: 8080, path: '/healthz', successThreshold: 3, interval: '20ms', timeout: '1s' } };

test('health that flaps before reaching the threshold: the instance goes back only after 3 passes in a row, once the flapping stopped; exit 0', async () => {
  const version = 'v3-flaps';
  const canary = fleet.hosts[0]!;
  const config = await writeConfig('flaps.config.ts', { health: FLAPPING_HEALTH });
  const run = await finished(startDeploy(config, version, await flappingArtifact(version, 800), ['--hosts', canary.name]));

  await assertInvariants(fleet, run, { code: 0, configPath: config });
  const flaps = (await (await fetch(new URL('/flaps', canary.appUrl))).json()) as { failures: number; lastFailureAt: number };
  assert.ok(flaps.failures >= 3, `the new release should have flapped a while, it sent ${flaps.failures} failure(s)`);
  const passed = run.events.find((e) => e.type === 'health.passed' && e.host === canary.name);
  assert.ok(passed && passed.type === 'health.passed', describeRun(run));
  // Each failure resets the streak, so it took at least every failure plus the three passes after the last one.
  assert.ok(passed.attempts >= flaps.failures + 3, `health passed after ${passed.attempts} probes, with ${flaps.failures} failures among them`);
  assert.ok(stateAt(run, canary.name, 'registering') >= flaps.lastFailureAt, 'the instance was put back while its health still flapped');
  assert.equal(await versionOf(canary), version);
  assert.equal((await lbView(fleet)).get(canary.name)?.inService, true);
});

test('health that never settles: no three passes in a row within healthyTimeout, so it is rolled back (SHIP-E015) and back in service; exit 1', async () => {
  const version = 'v4-flaps-forever';
  const config = await writeConfig('flaps-forever.config.ts', { health: FLAPPING_HEALTH, rollout: { healthyTimeout: '1s' } });
  const run = await finished(startDeploy(config, version, await flappingArtifact(version, Infinity)));

  await assertInvariants(fleet, run, { code: 1, configPath: config });
  const { summary } = finishedEvent(run);
  assert.deepEqual(
    summary.hosts.map((h) => [h.host, h.outcome]),
    [
      ['web1', 'rolled-back'],
      ['web2', 'not-started'],
      ['web3', 'not-started'],
      ['web4', 'not-started'],
    ],
  );
  assert.equal(summary.hosts[0]!.code, 'SHIP-E015');
  assert.match(summary.hosts[0]!.error ?? '', /did not finish within 1000ms \(last seen: .*\([01]\/3 consecutive passes\)/);
  assert.deepEqual(summary.outOfRotation, []);
  await assertAllOn(fleet, BASELINE);
});

/**
 * Deploys with a slow restart on web2, so the run is still busy while `fault` (called when web2
 * starts activating, or at the event `when` picks) hurts another instance behind ship's back.
 */
async function deployWithFault(name: string, when: (event: ShipEvent) => boolean, fault: () => Promise<void>, rollout: Record<string, unknown> = {}) {
  const second = fleet.hosts[1]!;
  const config = await writeConfig(name, { rollout, hosts: hostsWithRestart({ [second.name]: `sleep 0.8; ${restartOf(second)}` }) });
  const child = startDeploy(config, 'v5', await fleet.artifact('v5'));
  let injected: Promise<void> | undefined;
  watchEvents(child, (event) => {
    if (when(event)) injected ??= fault();
  });
  const run = await finished(child);
  assert.ok(injected, `the fault was never injected:\n${describeRun(run)}`);
  await injected;
  return { run, config };
}

test('the load balancer marks an instance DOWN right after it was put back: the next capacity check stops the run (SHIP-E018); exit 1', async () => {
  const [first, , third, fourth] = fleet.hosts as [FleetHost, FleetHost, FleetHost, FleetHost];
  const { run, config } = await deployWithFault(
    'down-after-put-back.config.ts',
    (e) => e.type === 'lb.healthy' && e.host === first.name,
    () => stopApp(first.appDir),
  );

  await assertInvariants(fleet, run, { code: 1, configPath: config });
  const { status, summary } = finishedEvent(run);
  assert.equal(status, 'failed');
  assert.equal(summary.code, 'SHIP-E018', describeRun(run));
  assert.match(summary.error ?? '', new RegExp(`capacity floor: .*fewer than minHealthy 3; not healthy now: .*${first.name} \\(DOWN`));
  // web2's batch may start before HAProxy has seen web1 fail (about 0.2 s); web3's cannot.
  for (const host of [third, fourth]) assert.equal(summary.hosts.find((h) => h.host === host.name)?.outcome, 'not-started');
  assert.ok(!touchedHosts(run.events).some((h) => h === third.name || h === fourth.name), 'no batch may start once capacity is short');
  const view = await lbView(fleet);
  assert.equal(view.get(first.name)?.up, false, `HAProxy must see ${first.name} DOWN: ${view.get(first.name)?.detail}`);
  assert.equal(view.get(first.name)?.adminOut, false, 'ship did not take it out again');
});

test('another instance becomes unhealthy mid-rollout: the capacity floor stops the run before the next batch (SHIP-E018); exit 1', async () => {
  const [, second, third, fourth] = fleet.hosts as [FleetHost, FleetHost, FleetHost, FleetHost];
  const { run, config } = await deployWithFault(
    'other-unhealthy.config.ts',
    (e) => e.type === 'instance.state' && e.host === second.name && e.to === 'activating',
    () => stopApp(fourth.appDir),
  );

  await assertInvariants(fleet, run, { code: 1, configPath: config });
  const { summary } = finishedEvent(run);
  assert.equal(summary.code, 'SHIP-E018', describeRun(run));
  assert.match(
    summary.error ?? '',
    new RegExp(`taking out ${third.name} would leave 2 healthy instance\\(s\\) in service, fewer than minHealthy 3; not healthy now: ${fourth.name} \\(DOWN`),
  );
  assert.deepEqual(
    summary.hosts.map((h) => [h.host, h.outcome]),
    [
      ['web1', 'deployed'],
      ['web2', 'deployed'],
      ['web3', 'not-started'],
      ['web4', 'not-started'],
    ],
  );
  assert.deepEqual(summary.outOfRotation, []);
  assert.deepEqual(touchedHosts(run.events).sort(), ['web1', 'web2']);
});

test('capacity that comes back within capacityWait: ship waits (capacity.waiting) and then finishes; exit 0', async () => {
  const [, second, , fourth] = fleet.hosts as [FleetHost, FleetHost, FleetHost, FleetHost];
  const { run, config } = await deployWithFault(
    'capacity-returns.config.ts',
    (e) => e.type === 'instance.state' && e.host === second.name && e.to === 'activating',
    async () => {
      await stopApp(fourth.appDir);
      // Back after HAProxy has surely seen it DOWN (fall 2, inter 100 ms) and web2 is done.
      await sleep(1_500);
      await restartApp(fourth.appDir);
    },
    { capacityWait: '10s' },
  );

  await assertInvariants(fleet, run, { code: 0, configPath: config });
  const waiting = run.events.filter((e) => e.type === 'capacity.waiting');
  assert.ok(waiting.length > 0, `ship should have waited for capacity:\n${describeRun(run)}`);
  assert.ok(waiting.every((e) => e.type === 'capacity.waiting' && e.needed === 3 && e.healthy < 3 && e.detail.includes(fourth.name)));
  // Nothing was taken out while it waited.
  const lastWait = Math.max(...waiting.map((e) => Date.parse(e.time)));
  assert.ok(stateAt(run, 'web3', 'draining') >= lastWait);
  await assertAllOn(fleet, 'v5');
});
