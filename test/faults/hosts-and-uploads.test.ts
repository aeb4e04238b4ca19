/**
 * Faults of the hosts themselves, on a real fleet (four hosts of sshd + app behind HAProxy)
 * through `ship deploy --json`: an artifact that arrives corrupt on one host, a host whose disk is
 * full during the upload (a real, tiny tmpfs over its releases folder), and a host whose SSH
 * server dies after staging, while the rollout is under way. Staging faults must stop the run
 * before any instance leaves the load balancer; a host lost mid-rollout is left out and reported.
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { chmod, cp, mkdir, open, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { runShip, startShip, finished, type ShipRun } from '../support/cli.js';
import {
  assertAllOn,
  assertInvariants,
  describeRun,
  finishedEvent,
  journalStates,
  lastJournalRun,
  lbView,
  resetFleet,
  restartSshd,
  touchedHosts,
  unmountStaleFleetMounts,
  watchEvents,
} from '../support/fleet-assertions.js';

const BASELINE = 'v1';
const FAST_ROLLOUT = { healthyTimeout: '3s', drainTimeout: '2s' };

let fleet: Fleet;
const mounts: string[] = [];

before(async () => {
  await unmountStaleFleetMounts();
  fleet = await startFleet({ hosts: 4, version: BASELINE });
});
after(async () => {
  for (const mount of mounts) await execa('umount', ['-l', mount], { reject: false });
  await fleet?.stop();
});
beforeEach(async () => {
  await resetFleet(fleet, BASELINE);
});

function writeConfig(name: string): Promise<string> {
  return fleet.writeConfig({ rollout: FAST_ROLLOUT }, name);
}

async function deploy(config: string, version: string): Promise<ReturnType<typeof runShip>> {
  return runShip(['deploy', '--config', config, '--version', version, '--artifact', await fleet.artifact(version), '--json']);
}

/** A staging fault: exit 1, SHIP-E013, nothing taken out, every host still on the baseline. */
async function assertStoppedInStage(run: Awaited<ReturnType<typeof runShip>>, config: string): Promise<string> {
  await assertInvariants(fleet, run, { code: 1, configPath: config });
  const { status, summary } = finishedEvent(run);
  assert.equal(status, 'failed');
  assert.equal(summary.code, 'SHIP-E013', describeRun(run));
  assert.match(summary.error ?? '', /^stage failed before any instance left the load balancer:/);
  assert.deepEqual(touchedHosts(run.events), [], 'no instance may leave the load balancer when staging fails');
  assert.equal(
    run.events.some((e) => e.type === 'batch.started'),
    false,
  );
  assert.deepEqual(summary.outOfRotation, []);
  await assertAllOn(fleet, BASELINE);
  return summary.error ?? '';
}

test('an artifact that arrives corrupt on one host: its size and sha256 are checked there, staging fails, nothing leaves the load balancer; exit 1', async () => {
  const victim = fleet.hosts[2]!;
  // The host's sha256sum first cuts the file short by a byte, as a truncated transfer would.
  const fakeBin = join(fleet.dir, 'corrupting-bin');
  await mkdir(fakeBin, { recursive: true });
  await writeFile(join(fakeBin, 'sha256sum'), '#!/bin/sh\nfor f; do :; done\ntruncate -s -1 "$f"\nexec /usr/bin/sha256sum "$@"\n');
  await chmod(join(fakeBin, 'sha256sum'), 0o755);
  await restartSshd(fleet, victim, { PATH: `${fakeBin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin` });
  let run: ShipRun;
  try {
    const before = (await readdir(join(victim.appDir, 'releases'))).sort();
    const config = await writeConfig('corrupt-upload.config.ts');
    run = await deploy(config, 'v2');
    const error = await assertStoppedInStage(run, config);
    assert.match(
      error,
      new RegExp(
        `${victim.name}: stage step 'upload artifact' failed: ${victim.name}: upload of \\S+app-v2\\.tgz to ${victim.appDir.replaceAll('.', '\\.')}/releases/v2\\.tgz is corrupt on the host: it has (\\d+) bytes with sha256 [0-9a-f]{64}, expected (\\d+) bytes`,
      ),
    );
    const [, got, expected] = /it has (\d+) bytes .* expected (\d+) bytes/.exec(error)!;
    assert.equal(Number(got), Number(expected) - 1);
    for (const other of fleet.hosts.filter((h) => h !== victim)) assert.doesNotMatch(error, new RegExp(`\\b${other.name}:`));
    assert.deepEqual((await readdir(join(victim.appDir, 'releases'))).sort(), before, `nothing of the corrupt upload may stay on ${victim.name}`);
  } finally {
    await restartSshd(fleet, victim);
  }
});

/** Fills the file system holding `dir` to the last byte. */
async function fill(dir: string): Promise<void> {
  const handle = await open(join(dir, '.filler'), 'w');
  const block = Buffer.alloc(4096, 1);
  try {
    for (;;) await handle.write(block);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    await handle.close();
  }
}

test('the disk of a host full during the upload: staging fails naming the host, nothing leaves the load balancer; exit 1', async () => {
  const victim = fleet.hosts[3]!;
  const releases = join(victim.appDir, 'releases');
  const saved = join(fleet.dir, `${victim.name}-releases`);
  await rm(saved, { recursive: true, force: true });
  await cp(releases, saved, { recursive: true });
  // A 1 MiB file system of its own for the releases, holding what was there, then filled up.
  await execa('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', releases]);
  mounts.push(releases);
  try {
    await cp(saved, releases, { recursive: true });
    await fill(releases);
    const before = (await readdir(releases)).sort();
    const config = await writeConfig('disk-full.config.ts');
    const run = await deploy(config, 'v2');
    const error = await assertStoppedInStage(run, config);
    assert.match(
      error,
      new RegExp(
        `${victim.name}: stage step 'upload artifact' failed: ${victim.name}: upload of \\S+ to ${releases.replaceAll('.', '\\.')}/v2\\.tgz failed: .*; no space left on the host: the file system of ${releases.replaceAll('.', '\\.')} has \\d+ KiB free and the file needs \\d+ KiB`,
      ),
    );
    for (const other of fleet.hosts.filter((h) => h !== victim)) assert.doesNotMatch(error, new RegExp(`\\b${other.name}:`));
    assert.deepEqual((await readdir(releases)).sort(), before, 'the partial upload must be removed');
  } finally {
    await execa('umount', [releases]);
    mounts.splice(mounts.indexOf(releases), 1);
    await rm(saved, { recursive: true, force: true });
  }
});

test("a host's SSH server dies after staging: it is not taken out (it could be neither deployed nor rolled back), keeps serving, and the run stops (SHIP-E006); exit 1", async () => {
  const [first, second, third, fourth] = fleet.hosts as [(typeof fleet.hosts)[number], (typeof fleet.hosts)[number], (typeof fleet.hosts)[number], (typeof fleet.hosts)[number]];
  const config = await writeConfig('host-lost.config.ts');
  const child = startShip(['deploy', '--config', config, '--version', 'v2', '--artifact', await fleet.artifact('v2'), '--json']);
  let stopped: Promise<void> | undefined;
  watchEvents(child, (event) => {
    if (event.type === 'instance.state' && event.host === first.name && event.to === 'activating') stopped ??= second.sshd.stop();
  });
  let run: ShipRun;
  try {
    run = await finished(child);
    assert.ok(stopped, `web2's sshd was never stopped:\n${describeRun(run)}`);
    await stopped;
  } finally {
    await restartSshd(fleet, second);
  }

  await assertInvariants(fleet, run, { code: 1, configPath: config });
  const { summary } = finishedEvent(run);
  assert.deepEqual(
    summary.hosts.map((h) => [h.host, h.outcome]),
    [
      [first.name, 'deployed'],
      [second.name, 'not-started'],
      [third.name, 'not-started'],
      [fourth.name, 'not-started'],
    ],
  );
  const lost = summary.hosts[1]!;
  assert.equal(lost.code, 'SHIP-E006', JSON.stringify(lost));
  assert.match(
    lost.error ?? '',
    new RegExp(
      `${second.name}: not taken out of the load balancer, it cannot be reached: ${second.name}: cannot connect to root@${second.address.replaceAll('.', '\\.')}:22: .*ECONNREFUSED`,
    ),
  );
  assert.deepEqual(summary.outOfRotation, []);
  assert.equal((await lbView(fleet)).get(second.name)?.adminOut, false, 'an instance ship cannot reach keeps serving');
  assert.equal(journalStates(await lastJournalRun(config)).get(second.name), undefined, 'it never changed state');
  assert.deepEqual(touchedHosts(run.events).sort(), [first.name]);
});
