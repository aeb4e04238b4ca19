/**
 * `ship releases` and `ship rollback` on a real fleet (sshd per host, HAProxy): releases deployed
 * with `ship deploy`, then rolled back to the previous one and to a named one through the rolling
 * procedure; a target missing on a host is refused before any host leaves; a host whose current
 * release differs from the others is flagged.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readlink, rm, symlink, rename } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { startFleet, type Fleet, type FleetHost } from '../fleet/fleet.js';
import { runShip } from '../support/cli.js';
import type { HostReleases } from '../../src/commands/releases.js';

let fleet: Fleet;
let config: string;

async function versionOf(host: FleetHost): Promise<string> {
  const response = await fetch(host.appUrl);
  return ((await response.json()) as { version: string }).version;
}

async function versions(): Promise<string[]> {
  return Promise.all(fleet.hosts.map(versionOf));
}

async function deploy(version: string): Promise<void> {
  const run = await runShip(['deploy', '--config', config, '--version', version, '--artifact', await fleet.artifact(version)]);
  assert.equal(run.code, 0, `deploy ${version} failed:\n${run.stderr}\n${run.stdout.slice(-2000)}`);
}

before(async () => {
  fleet = await startFleet({ hosts: 3 });
  config = await fleet.writeConfig({ vars: { keepReleases: 5 } });
  await deploy('v2');
  await deploy('v3');
});
after(async () => {
  await fleet?.stop();
});

test("ship releases lists every host's releases, newest first, and the current one", async () => {
  const run = await runShip(['releases', '--config', config]);
  assert.equal(run.code, 0, run.stderr + run.stdout);
  for (const host of fleet.hosts) assert.match(run.stdout, new RegExp(`${host.name}\\s+current v3\\s+releases: v3 \\(current\\), v2, v1`));
  assert.match(run.stdout, /all 3 host\(s\) run v3/);
  const json = await runShip(['releases', '--config', config, '--json']);
  const parsed = JSON.parse(json.stdout) as { current: string; disagreeing: string[]; hosts: HostReleases[] };
  assert.equal(parsed.current, 'v3');
  assert.deepEqual(parsed.disagreeing, []);
  assert.deepEqual(
    parsed.hosts.map((h) => h.releases.map((r) => r.version)),
    [
      ['v3', 'v2', 'v1'],
      ['v3', 'v2', 'v1'],
      ['v3', 'v2', 'v1'],
    ],
  );
});

test('ship rollback goes back to the previous release on every host, one at a time', async () => {
  const run = await runShip(['rollback', '--config', config, '--json']);
  assert.equal(run.code, 0, run.stderr + run.stdout.slice(-2000));
  assert.deepEqual(await versions(), ['v2', 'v2', 'v2']);
  const started = run.events.find((e) => e.type === 'run.started');
  assert.ok(started && started.type === 'run.started' && started.command === 'rollback' && started.version === 'v2');
  assert.ok(
    run.events.some((e) => e.type === 'instance.drained'),
    'it went through the rolling procedure (drain)',
  );
});

test('ship rollback --to a named release', async () => {
  const run = await runShip(['rollback', '--config', config, '--to', 'v3']);
  assert.equal(run.code, 0, run.stderr + run.stdout.slice(-2000));
  assert.deepEqual(await versions(), ['v3', 'v3', 'v3']);
});

test('a rollback target missing on a host is refused before any host leaves, naming the host', async () => {
  const web2 = fleet.hosts[1]!;
  await rename(join(web2.appDir, 'releases', 'v1'), join(web2.appDir, 'releases', 'v1.moved-away'));
  try {
    const run = await runShip(['rollback', '--config', config, '--to', 'v1', '--json']);
    assert.equal(run.code, 3, run.stdout.slice(-2000));
    const finished = run.events.find((e) => e.type === 'run.finished');
    assert.ok(finished && finished.type === 'run.finished' && finished.status === 'refused');
    assert.match(finished.summary.error ?? '', /rollback refused before any host left the load balancer: release v1 is missing on web2; it must already be on every host/);
    assert.equal(
      run.events.some((e) => e.type === 'instance.state'),
      false,
      'no host left the load balancer',
    );
    assert.deepEqual(await versions(), ['v3', 'v3', 'v3']);
  } finally {
    await rename(join(web2.appDir, 'releases', 'v1.moved-away'), join(web2.appDir, 'releases', 'v1'));
  }
});

test('ship releases flags a host whose current release disagrees with the others (exit 1)', async () => {
  const web3 = fleet.hosts[2]!;
  const current = join(web3.appDir, 'current');
  const before = await readlink(current);
  await rm(current);
  await symlink(join(web3.appDir, 'releases', 'v2'), current);
  try {
    const run = await runShip(['releases', '--config', config]);
    assert.equal(run.code, 1, run.stdout);
    assert.match(run.stdout, /web3\s+current v2\s+releases: v3, v2 \(current\), v1\s+<- DISAGREES: runs v2, most hosts run v3/);
    assert.doesNotMatch(run.stdout, /web1.*DISAGREES/);
    assert.match(run.stdout, /hosts that disagree: web3/);
  } finally {
    await rm(current);
    await symlink(before, current);
  }
  assert.equal(basename(await readlink(current)), 'v3');
});
