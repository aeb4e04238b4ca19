/**
 * Bad input and faults of issue 2, each through the real CLI (`ship deploy --json` as a
 * subprocess) on a real fleet of four hosts (sshd + app) behind a real HAProxy: an unreachable
 * host, changed and unknown host keys, a step that exits non-zero, a step that hangs past its
 * timeout, a health check that never passes, and the runtime API unreachable at start and in the
 * middle of a rollout.
 *
 * Every run is checked against the same invariants: never more instances out at once than the
 * batch allows (counted from `instance.state` events), and no instance out of HAProxy (as its
 * runtime API reports it) without being listed in `summary.outOfRotation`.
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { createServer } from 'node:net';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomInt } from 'node:crypto';
import type { RunSummary, ShipEvent } from '../../src/events.js';
import { quote } from '../../src/shell/sh.js';
import { startFleet, type ConfigOverrides, type Fleet, type FleetHost } from '../fleet/fleet.js';
import { startHaproxy, type HaproxyHandle } from '../fleet/haproxy.js';
import { generateKeyPair } from '../fleet/keys.js';
import { startSshd } from '../fleet/sshd.js';
import { finished, runShip, startShip, type ShipRun } from '../support/cli.js';
import { assertJournalRecordsOut, currentRelease, describeRun, finishedEvent, lbView, maxOutAtOnce, resetFleet, touchedHosts, versionOf } from '../support/fleet-assertions.js';

const BASELINE = 'v1';
/** Short deadlines so a fault shows within seconds (the health probe interval is 20 ms in fleetConfig). */
const FAST_ROLLOUT = { healthyTimeout: '3s', drainTimeout: '2s' };

let fleet: Fleet;
let restartedHaproxy: HaproxyHandle | undefined;

before(async () => {
  fleet = await startFleet({ hosts: 4, version: BASELINE });
});
after(async () => {
  await restartedHaproxy?.stop();
  await fleet?.stop();
});
beforeEach(async () => {
  await resetFleet(fleet, BASELINE);
});

/** The host's restart command, failing with `failure` (shell text) when the release being started is `version`. */
function restartFailingOn(host: FleetHost, version: string, failure: string): string {
  return `case "$(readlink ${quote(`${host.appDir}/current`)})" in */${version}) ${failure};; esac; sh ${quote(`${host.appDir}/restart.sh`)} ${quote(host.appDir)}`;
}

/** The fleet's hosts with their usual variables, and `restart` replaced where given. */
function hostsWithRestart(restart: Record<string, string>): ConfigOverrides['hosts'] {
  return fleet.hosts.map((h) => ({
    name: h.name,
    address: h.address,
    vars: { appDir: h.appDir, restart: restart[h.name] ?? `sh ${quote(`${h.appDir}/restart.sh`)} ${quote(h.appDir)}` },
  }));
}

function writeConfig(name: string, overrides: ConfigOverrides = {}): Promise<string> {
  return fleet.writeConfig({ ...overrides, rollout: { ...FAST_ROLLOUT, ...overrides.rollout } }, name);
}

function deploy(config: string, version: string, extra: string[] = []): Promise<ShipRun> {
  return fleet.artifact(version).then((artifact) => runShip(['deploy', '--config', config, '--version', version, '--artifact', artifact, '--json', ...extra]));
}

/** The invariants every run must keep, checked against HAProxy's real view and the journal. */
async function assertInvariants(run: ShipRun, summary: RunSummary, batchSize = 1): Promise<void> {
  // Every config of this file is written next to the fleet, so they share one journal.
  await assertJournalRecordsOut(fleet, join(fleet.dir, 'ship.config.ts'));
  assert.ok(maxOutAtOnce(run.events) <= batchSize, `more than ${batchSize} instance(s) out at once:\n${describeRun(run)}`);
  const view = await lbView(fleet);
  for (const [name, member] of view) {
    if (!member.inService) {
      assert.ok(summary.outOfRotation.includes(name), `${name} is out of HAProxy (${member.detail}) but not in summary.outOfRotation ${JSON.stringify(summary.outOfRotation)}`);
    }
  }
}

async function assertUntouched(hosts: FleetHost[]): Promise<void> {
  const view = await lbView(fleet);
  for (const host of hosts) {
    assert.equal(await versionOf(host), BASELINE, `${host.name} does not serve ${BASELINE}`);
    assert.equal(await currentRelease(host), BASELINE, `${host.name}'s current release changed`);
    assert.equal(view.get(host.name)?.inService, true, `${host.name} is not UP/ready in HAProxy: ${view.get(host.name)?.detail}`);
  }
}

test('an unreachable host is caught in pre-flight: exit 3, names the host, no instance leaves the load balancer', async () => {
  const host = fleet.hosts[2]!;
  const config = await writeConfig('unreachable.config.ts');
  await host.sshd.stop();
  let run: ShipRun;
  try {
    run = await deploy(config, 'v2');
  } finally {
    host.sshd = await startSshd({
      address: host.address,
      port: host.sshd.port,
      dir: join(fleet.dir, 'hosts', host.name, 'sshd'),
      hostKeyPath: join(fleet.dir, 'hosts', host.name, 'sshd', 'ssh_host_ed25519_key'),
      authorizedKeys: [await readFile(`${fleet.privateKeyPath}.pub`, 'utf8')],
      env: { HOME: join(fleet.dir, 'hosts', host.name, 'home') },
    });
  }

  assert.equal(run.code, 3, describeRun(run));
  const { status, summary } = finishedEvent(run);
  assert.equal(status, 'refused');
  assert.match(summary.error ?? '', /connectivity/);
  assert.match(summary.error ?? '', new RegExp(`${host.name}: .*cannot connect to root@${host.address.replaceAll('.', '\\.')}:22: .*ECONNREFUSED`));
  for (const other of fleet.hosts.filter((h) => h !== host)) assert.doesNotMatch(summary.error ?? '', new RegExp(`\\b${other.name}\\b`));
  assert.deepEqual(touchedHosts(run.events), [], 'no instance may change state when pre-flight refuses');
  assert.equal(
    run.events.some((e) => e.type === 'stage.started'),
    false,
    'nothing is staged when pre-flight refuses',
  );
  await assertInvariants(run, summary);
  await assertUntouched(fleet.hosts);
});

test('a changed host key is refused (exit 3) with its SHA256 fingerprint; an unknown one too, unless --accept-new-host-keys records it', async () => {
  const host = fleet.hosts[1]!;
  const original = await readFile(fleet.knownHostsPath, 'utf8');
  const others = original.split('\n').filter((line) => line !== '' && !line.startsWith(`${host.address} `));
  assert.equal(others.length, fleet.hosts.length - 1, 'the fleet records one known_hosts line per host');

  // Changed: known_hosts holds another ed25519 key for this host (a re-keyed host, or a man in the middle).
  const impostor = await generateKeyPair(join(fleet.dir, 'impostor'), 'ssh_host_ed25519_key');
  const changedPath = join(fleet.dir, 'known_hosts.changed');
  await writeFile(changedPath, `${[...others, `${host.address} ${impostor.publicKey.split(' ').slice(0, 2).join(' ')}`].join('\n')}\n`);
  const changedConfig = await writeConfig('changed-key.config.ts', { ssh: { knownHosts: changedPath } });
  // Unknown: known_hosts has no entry for this host.
  const unknownPath = join(fleet.dir, 'known_hosts.unknown');
  await writeFile(unknownPath, `${others.join('\n')}\n`);
  const unknownConfig = await writeConfig('unknown-key.config.ts', { ssh: { knownHosts: unknownPath } });

  // One after the other: side by side, all but one would be refused by the app's deploy lock.
  const changed = await deploy(changedConfig, 'v2');
  // A changed key is never accepted, not even with the flag.
  const forced = await deploy(changedConfig, 'v2', ['--accept-new-host-keys']);
  const unknown = await deploy(unknownConfig, 'v2');
  for (const run of [changed, forced]) {
    assert.equal(run.code, 3, describeRun(run));
    const { summary } = finishedEvent(run);
    assert.ok(summary.error?.includes(`HOST KEY CHANGED for ${host.address}: it presented ssh-ed25519 ${host.sshd.hostKeyFingerprint}`), describeRun(run));
    assert.deepEqual(touchedHosts(run.events), []);
    await assertInvariants(run, summary);
  }
  assert.equal(unknown.code, 3, describeRun(unknown));
  const unknownSummary = finishedEvent(unknown).summary;
  assert.ok(unknownSummary.error?.includes(`unknown host key for ${host.address}: ssh-ed25519 ${host.sshd.hostKeyFingerprint}`), describeRun(unknown));
  assert.match(unknownSummary.error ?? '', /--accept-new-host-keys/);
  assert.deepEqual(touchedHosts(unknown.events), []);
  assert.equal(await readFile(unknownPath, 'utf8'), `${others.join('\n')}\n`, 'a refused key must not be recorded');
  await assertUntouched(fleet.hosts);

  const accepted = await deploy(unknownConfig, 'v2', ['--accept-new-host-keys']);
  assert.equal(accepted.code, 0, describeRun(accepted));
  const acceptedSummary = finishedEvent(accepted).summary;
  await assertInvariants(accepted, acceptedSummary);
  for (const h of fleet.hosts) assert.equal(await versionOf(h), 'v2');
  // Recorded so that OpenSSH itself finds it (hashed entries included).
  const found = await execa('ssh-keygen', ['-F', host.address, '-f', unknownPath], { reject: false });
  assert.equal(found.exitCode, 0, `ssh-keygen -F found no entry for ${host.address} in ${unknownPath}`);
  assert.ok(found.stdout.includes(host.sshd.hostPublicKey), `the recorded key is not the host's:\n${found.stdout}`);
});

test('a step that exits non-zero: rollback puts the instance back healthy on the old release, exit 1, stderr tail shown, later hosts untouched', async () => {
  const version = 'v3-broken';
  const failing = fleet.hosts[1]!;
  const failure = `echo 'starting app' >&2; echo "${version}: cannot load libfoo.so.2" >&2; exit 7`;
  const config = await writeConfig('step-fails.config.ts', { hosts: hostsWithRestart({ [failing.name]: restartFailingOn(failing, version, failure) }) });
  const run = await deploy(config, version);

  assert.equal(run.code, 1, describeRun(run));
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
  assert.ok(summary.error?.includes(`${failing.name}: activate step 'restart' exited with code 7`), describeRun(run));
  assert.match(summary.error ?? '', /\| starting app\n.*\| v3-broken: cannot load libfoo\.so\.2/);
  assert.deepEqual(summary.outOfRotation, []);
  assert.ok(run.events.some((e) => e.type === 'step.finished' && e.host === failing.name && e.phase === 'rollback' && e.step === 'restart' && e.ok));
  await assertInvariants(run, summary);

  assert.equal(await versionOf(fleet.hosts[0]!), version, 'the canary before the failure keeps the new release');
  assert.equal(await versionOf(failing), BASELINE, `${failing.name} must serve the old release after the rollback`);
  assert.equal(await currentRelease(failing), BASELINE);
  assert.equal((await lbView(fleet)).get(failing.name)?.inService, true, `${failing.name} must be back in HAProxy`);
  assert.deepEqual(touchedHosts(run.events).sort(), ['web1', 'web2'], 'hosts after the failure are never taken out');
  await assertUntouched(fleet.hosts.slice(2));
});

test('a step that hangs past its timeout is killed on the host and rolled back, exit 1, "timed out"', async () => {
  const version = 'v4-hangs';
  const canary = fleet.hosts[0]!;
  // A duration no other process on this machine uses, so pgrep finds only ours.
  const marker = `sleep 600.${randomInt(100_000, 999_999)}`;
  const config = await writeConfig('step-hangs.config.ts', {
    ssh: { commandTimeout: '2s' },
    hosts: hostsWithRestart({ [canary.name]: restartFailingOn(canary, version, marker) }),
  });
  const run = await deploy(config, version);

  assert.equal(run.code, 1, describeRun(run));
  const { summary } = finishedEvent(run);
  assert.match(summary.error ?? '', /the canary failed/);
  assert.ok(summary.error?.includes(`${canary.name}: activate step 'restart' failed`), describeRun(run));
  assert.match(summary.error ?? '', /timed out after 2000ms.*killed.* on the host/);
  assert.deepEqual(
    summary.hosts.map((h) => h.outcome),
    ['rolled-back', 'not-started', 'not-started', 'not-started'],
  );
  const left = await execa('pgrep', ['-f', marker], { reject: false });
  assert.equal(left.exitCode, 1, `'${marker}' still runs on the host (pids ${left.stdout.trim()})`);
  await assertInvariants(run, summary);
  await assertUntouched(fleet.hosts);
});

test('a health check that never passes: rollback, still unhealthy, so the instance is left out and reported; ship restore puts it back', async () => {
  const version = 'v5-unhealthy';
  const canary = fleet.hosts[0]!;
  const broken = await writeConfig('health-nope.config.ts', {
    rollout: { healthyTimeout: '1s' },
    health: { http: { port: 8080, path: '/nope', successThreshold: 1, interval: '20ms', timeout: '1s' } },
  });
  const run = await deploy(broken, version);

  assert.equal(run.code, 1, describeRun(run));
  const { status, summary } = finishedEvent(run);
  assert.equal(status, 'failed');
  assert.deepEqual(summary.outOfRotation, [canary.name]);
  assert.deepEqual(
    summary.hosts.map((h) => h.outcome),
    ['failed-out', 'not-started', 'not-started', 'not-started'],
  );
  assert.match(
    summary.error ?? '',
    new RegExp(`${canary.name}: health check http http://${canary.address.replaceAll('.', '\\.')}:8080/nope did not finish within 1000ms \\(last seen: status 404`),
  );
  assert.match(summary.error ?? '', /rollback did not bring it back healthy/);
  assert.ok(
    run.events.some((e) => e.type === 'step.finished' && e.host === canary.name && e.phase === 'rollback' && e.step === 'restart' && e.ok),
    'the rollback ran',
  );
  const finishedCanary = run.events.find((e) => e.type === 'instance.finished' && e.host === canary.name);
  assert.ok(finishedCanary && finishedCanary.type === 'instance.finished' && finishedCanary.outcome === 'failed-out');
  await assertInvariants(run, summary);
  const view = await lbView(fleet);
  assert.equal(view.get(canary.name)?.inService, false, `${canary.name} must stay out of HAProxy, it is ${view.get(canary.name)?.detail}`);
  assert.equal(await versionOf(canary), BASELINE, 'the rollback restarted the old release');
  await assertUntouched(fleet.hosts.slice(1));

  const fixed = await writeConfig('health-fixed.config.ts');
  const restore = await runShip(['restore', '--config', fixed, '--hosts', canary.name]);
  assert.equal(restore.code, 0, describeRun(restore));
  assert.match(restore.stdout, new RegExp(`back in service: ${canary.name}`));
  await assertUntouched(fleet.hosts);
});

/** A port on `address` that nothing listens on. */
async function closedPort(address: string): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.listen(0, address, resolve).once('error', reject));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test('the runtime API unreachable at start: pre-flight refuses (exit 3) and nothing is drained', async () => {
  const address = fleet.runtimeApi.split(':')[0]!;
  const runtimeApi = `${address}:${await closedPort(address)}`;
  const config = await writeConfig('lb-down.config.ts', { loadBalancer: { runtimeApi } });
  const run = await deploy(config, 'v6');

  assert.equal(run.code, 3, describeRun(run));
  const { status, summary } = finishedEvent(run);
  assert.equal(status, 'refused');
  assert.match(summary.error ?? '', /load balancer/);
  assert.ok(summary.error?.includes(runtimeApi), `the error must name the runtime API ${runtimeApi}:\n${summary.error}`);
  assert.match(summary.error ?? '', /ECONNREFUSED/);
  assert.deepEqual(touchedHosts(run.events), []);
  await assertInvariants(run, summary);
  await assertUntouched(fleet.hosts);
});

test('the runtime API lost mid-rollout: the run stops non-zero and every instance it took out is reported out of rotation (fail closed)', async () => {
  const version = 'v7';
  const second = fleet.hosts[1]!;
  // A slow restart on the second host leaves time to stop HAProxy while that instance is out.
  const slowRestart = `sleep 1; sh ${quote(`${second.appDir}/restart.sh`)} ${quote(second.appDir)}`;
  const config = await writeConfig('lb-lost.config.ts', { hosts: hostsWithRestart({ [second.name]: slowRestart }) });
  const child = startShip(['deploy', '--config', config, '--version', version, '--artifact', await fleet.artifact(version), '--json']);
  let stopping: Promise<void> | undefined;
  let buffered = '';
  let firstBack = false;
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      const event = JSON.parse(line) as ShipEvent;
      if (event.type !== 'instance.state') continue;
      if (event.host === fleet.hosts[0]!.name && event.to === 'in-service') firstBack = true;
      if (firstBack && event.host === second.name && event.to === 'activating') stopping ??= fleet.haproxy.stop();
    }
  });
  const run = await finished(child);
  await stopping;
  assert.ok(stopping, `HAProxy was never stopped: the run did not reach ${second.name}'s activation\n${describeRun(run)}`);
  restartedHaproxy = await restartFleetHaproxy();

  assert.equal(run.code, 1, describeRun(run));
  const { status, summary } = finishedEvent(run);
  assert.equal(status, 'failed');
  // Taken out and never confirmed back, from the run's own events.
  const last = new Map<string, string>();
  for (const e of run.events) if (e.type === 'instance.state') last.set(e.host, e.to);
  const notBack = [...last].filter(([, state]) => state !== 'in-service').map(([host]) => host);
  assert.deepEqual(notBack, [second.name]);
  assert.deepEqual(summary.outOfRotation, notBack, 'every instance taken out and not confirmed back must be reported');
  assert.equal(summary.hosts.find((h) => h.host === second.name)?.outcome, 'failed-out');
  const secondError = summary.hosts.find((h) => h.host === second.name)?.error ?? '';
  assert.match(secondError, new RegExp(`^${second.name}: not confirmed healthy by the load balancer: `));
  assert.ok(secondError.includes(fleet.runtimeApi) && secondError.includes('ECONNREFUSED'), `the error must name the runtime API and the cause: ${secondError}`);
  assert.ok(maxOutAtOnce(run.events) <= 1);
  assert.deepEqual(touchedHosts(run.events).sort(), ['web1', 'web2'], 'no batch starts once the load balancer is gone');
});

/** HAProxy again, as startFleet configured it (a fresh process: every server enabled). */
function restartFleetHaproxy(): Promise<HaproxyHandle> {
  const [address, port] = fleet.runtimeApi.split(':') as [string, string];
  const frontend = new URL(fleet.frontendUrl);
  return startHaproxy({
    dir: join(fleet.dir, 'haproxy'),
    frontend: { address: frontend.hostname, port: Number(frontend.port || 80) },
    runtimeApi: { address, port: Number(port) },
    backend: 'app',
    servers: fleet.hosts.map((h) => ({ name: h.name, address: h.address, port: Number(new URL(h.appUrl).port) })),
    check: { path: '/healthz', inter: '100ms', fall: 2, rise: 1 },
  });
}
