/**
 * Ctrl-C during a real rollout (`ship deploy --json` as a subprocess, four hosts of sshd + app
 * behind HAProxy). Once: the instance in flight is finished and put back, no new batch starts,
 * exit 130. Twice: ship stops at once and names exactly the instances out of the load balancer
 * and the `ship restore` command, and that command puts them back. After either, `ship resume`
 * rolls the rest with the same release, and then has nothing left to resume. Output lost
 * mid-rollout (the reader of a pipe gone: EPIPE; a full disk: ENOSPC) stops the run like one
 * Ctrl-C, exit 5. HAProxy's runtime API is the judge of what is in or out.
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { quote } from '../../src/shell/sh.js';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { finished, REPO_ROOT, runShip, startShip, type ShipRun } from '../support/cli.js';
import {
  finishedEvent,
  assertAllOn,
  assertJournalRecordsOut,
  describeRun,
  lastJournalRun,
  lbView,
  maxOutAtOnce,
  resetFleet,
  versionOf,
  watchEvents,
} from '../support/fleet-assertions.js';

const BASELINE = 'v1';

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

/** Hosts HAProxy does not send traffic to (not UP, or in drain/maintenance), with their status. */
async function outOfHaproxy(): Promise<string[]> {
  return [...(await lbView(fleet))].filter(([, member]) => !member.inService).map(([name, member]) => `${name} (${member.detail})`);
}

/** Writes a config whose restart command first sleeps, so a Ctrl-C reliably lands while an instance is activating. */
function slowRestartConfig(name: string, sleepSeconds: string): Promise<string> {
  return fleet.writeConfig(
    {
      rollout: { healthyTimeout: '3s', drainTimeout: '2s' },
      hosts: fleet.hosts.map((h) => ({
        name: h.name,
        address: h.address,
        vars: { appDir: h.appDir, restart: `sleep ${sleepSeconds}; sh ${quote(`${h.appDir}/restart.sh`)} ${quote(h.appDir)}` },
      })),
    },
    name,
  );
}

test('one Ctrl-C: the instance in flight is finished and put back, no new batch starts, exit 130', async () => {
  const version = 'v2';
  const config = await slowRestartConfig('interrupt-once.config.ts', '1');
  const canary = fleet.hosts[0]!;
  const child = startShip(['deploy', '--config', config, '--version', version, '--artifact', await fleet.artifact(version), '--json']);
  let interrupted = false;
  watchEvents(child, (event) => {
    if (!interrupted && event.type === 'instance.state' && event.host === canary.name && event.to === 'activating') {
      interrupted = true;
      child.kill('SIGINT');
    }
  });
  const run = await finished(child);

  assert.ok(interrupted, `the run never reached activation:\n${describeRun(run)}`);
  assert.equal(run.code, 130, describeRun(run));
  assert.match(run.stderr, /SIGINT: finishing the instances in flight and putting them back/);
  const end = run.events.find((e) => e.type === 'run.finished');
  assert.ok(end && end.type === 'run.finished', describeRun(run));
  assert.equal(end.status, 'interrupted');
  assert.deepEqual(
    end.summary.hosts.map((h) => [h.host, h.outcome]),
    [
      ['web1', 'deployed'],
      ['web2', 'not-started'],
      ['web3', 'not-started'],
      ['web4', 'not-started'],
    ],
  );
  assert.deepEqual(end.summary.outOfRotation, []);
  assert.equal(run.events.filter((e) => e.type === 'batch.started').length, 1, 'no batch may start after the Ctrl-C');
  assert.deepEqual([...new Set(run.events.flatMap((e) => (e.type === 'instance.state' ? [e.host] : [])))], [canary.name]);
  assert.ok(maxOutAtOnce(run.events) <= 1);
  assert.deepEqual(await outOfHaproxy(), [], 'every instance must be UP/ready in HAProxy');
  await assertJournalRecordsOut(fleet, config);
  assert.equal(await versionOf(canary), version, 'the instance in flight finished its deploy');
  for (const host of fleet.hosts.slice(1)) assert.equal(await versionOf(host), BASELINE);

  await resumeRollsTheRest(config, version, ['web2', 'web3', 'web4']);
});

/** `ship resume` continues the interrupted run with its release and rolls only what it left; then nothing is left to resume. */
async function resumeRollsTheRest(config: string, version: string, rest: string[]): Promise<ShipRun> {
  const resumed = await runShip(['resume', '--config', config, '--json']);
  assert.equal(resumed.code, 0, describeRun(resumed));
  const { status, summary } = finishedEvent(resumed);
  assert.equal(status, 'succeeded');
  assert.deepEqual(
    summary.hosts.filter((h) => h.outcome === 'deployed').map((h) => h.host),
    rest,
  );
  await assertAllOn(fleet, version);
  const again = await runShip(['resume', '--config', config, '--json']);
  assert.equal(again.code, 0, describeRun(again));
  assert.match(again.stderr, /nothing to resume: the last run of demo .* finished: succeeded/);
  assert.equal(again.events.length, 0, 'nothing was run');
  return resumed;
}

test('two Ctrl-C: stops at once, names exactly the instances out of the load balancer and the restore command, which puts them back', async () => {
  const version = 'v3';
  // A duration no other process on this machine uses, so pgrep finds only ours.
  const sleepSeconds = `3.${randomInt(100_000, 999_999)}`;
  const config = await slowRestartConfig('interrupt-twice.config.ts', sleepSeconds);
  const canary = fleet.hosts[0]!;
  const child = startShip(['deploy', '--config', config, '--version', version, '--artifact', await fleet.artifact(version), '--json']);
  let secondAt: number | undefined;
  watchEvents(child, (event) => {
    if (secondAt === undefined && event.type === 'instance.state' && event.host === canary.name && event.to === 'activating') {
      secondAt = 0;
      child.kill('SIGINT');
      setTimeout(() => {
        secondAt = performance.now();
        child.kill('SIGINT');
      }, 200);
    }
  });
  const run = await finished(child);
  const exitedAfterMs = performance.now() - (secondAt ?? Number.NaN);

  assert.ok(secondAt, `the second Ctrl-C was never sent:\n${describeRun(run)}`);
  assert.equal(run.code, 130, describeRun(run));
  assert.ok(exitedAfterMs < 4_000, `ship took ${Math.round(exitedAfterMs)}ms to stop after the second Ctrl-C`);
  const out = await outOfHaproxy();
  assert.deepEqual(
    out.map((entry) => entry.split(' ')[0]),
    [canary.name],
    `HAProxy has out: ${out.join(', ')}`,
  );
  await assertJournalRecordsOut(fleet, config);
  const listed = /Out of the load balancer: ([^\n]*)/.exec(run.stderr);
  assert.ok(listed, `stderr must list the instances out of the load balancer:\n${run.stderr}`);
  assert.deepEqual(listed[1]!.split(', '), [canary.name]);
  const restoreCommand = /put them back with: (ship restore [^\n]*)/.exec(run.stderr)?.[1];
  assert.ok(restoreCommand, `stderr must give the restore command:\n${run.stderr}`);
  const end = run.events.find((e) => e.type === 'run.finished');
  assert.ok(end && end.type === 'run.finished', `the run must still end with its summary:\n${describeRun(run)}`);
  assert.equal(end.status, 'interrupted');
  assert.deepEqual(end.summary.outOfRotation, [canary.name]);
  assert.doesNotMatch(end.summary.error ?? '', /put back/, 'the summary must not claim the instances were put back while one is out');
  assert.match(end.summary.error ?? '', new RegExp(`stopped at once: ${canary.name} left out of the load balancer`));
  assert.equal(run.events.filter((e) => e.type === 'batch.started').length, 1, 'no batch may start after the Ctrl-C');
  const left = await execa('pgrep', ['-f', `sleep ${sleepSeconds}`], { reject: false });
  assert.equal(left.exitCode, 1, `the interrupted restart still runs on the host (pids ${left.stdout.trim()})`);

  // The printed command, run as a user would paste it into a shell, with `ship` being this checkout's CLI.
  const ship = `ship() { ${quote(process.execPath)} --import tsx ${quote(join(REPO_ROOT, 'src', 'cli', 'main.ts'))} "$@"; }`;
  const restored = await execa('sh', ['-c', `${ship}; ${restoreCommand}`], { cwd: REPO_ROOT, reject: false, env: { CI: 'true' } });
  assert.equal(restored.exitCode, 0, `${restoreCommand} failed:\n${restored.stderr}\n${restored.stdout}`);
  assert.deepEqual(await outOfHaproxy(), [], 'after the restore every instance must be UP/ready in HAProxy');
  const restoreRun = await lastJournalRun(config);
  assert.equal(restoreRun?.run.command, 'restore', 'the restore is a run of its own in the journal');
  assert.equal(restoreRun?.outcome?.status, 'succeeded');

  // The interrupted run is still the one to continue: the canary, caught mid-activation, is rolled again with the rest.
  await resumeRollsTheRest(config, version, ['web1', 'web2', 'web3', 'web4']);
});

test('the output lost mid-rollout (the reading end of the pipe closed): the instance in flight is finished and put back, nothing else starts, exit 5, the journal says why', async () => {
  const version = 'v4';
  const config = await slowRestartConfig('output-lost.config.ts', '1');
  const canary = fleet.hosts[0]!;
  const child = startShip(['deploy', '--config', config, '--version', version, '--artifact', await fleet.artifact(version), '--json']);
  let closed = false;
  watchEvents(child, (event) => {
    if (!closed && event.type === 'instance.state' && event.host === canary.name && event.to === 'activating') {
      closed = true;
      child.stdout!.destroy();
    }
  });
  const run = await finished(child);
  assert.ok(closed, `the run never reached activation:\n${describeRun(run)}`);
  assert.equal(run.code, 5, describeRun(run));
  assert.deepEqual(await outOfHaproxy(), [], 'every instance must be UP/ready in HAProxy');
  const journal = await lastJournalRun(config);
  assert.equal(journal?.outcome?.status, 'interrupted');
  assert.match(journal?.outcome?.summary.error ?? '', /the output was lost \(EPIPE/);
  assert.deepEqual(
    journal?.outcome?.summary.hosts.map((h) => [h.host, h.outcome]),
    [
      ['web1', 'deployed'],
      ['web2', 'not-started'],
      ['web3', 'not-started'],
      ['web4', 'not-started'],
    ],
  );
  assert.equal(await versionOf(canary), version);
  for (const host of fleet.hosts.slice(1)) assert.equal(await versionOf(host), BASELINE);
  const status = await runShip(['status', '--config', config, '--json']);
  assert.equal((JSON.parse(status.stdout) as { lock?: unknown }).lock ?? null, null, 'the lock is given back');
});

test('a full disk under the output (ENOSPC): the run stops before any instance leaves, exit 5, the journal says why', async () => {
  const config = await slowRestartConfig('output-full.config.ts', '0');
  // The shell opens /dev/full for ship itself, as a redirected log on a full disk would be.
  const ship = `${quote(process.execPath)} --import tsx ${quote(join(REPO_ROOT, 'src', 'cli', 'main.ts'))}`;
  const args = ['deploy', '--config', config, '--version', 'v5', '--artifact', await fleet.artifact('v5')].map(quote).join(' ');
  const child = execa('sh', ['-c', `${ship} ${args} > /dev/full`], { cwd: REPO_ROOT, env: { CI: 'true' }, reject: false, stdin: 'ignore', timeout: 60_000 });
  const result = await child;
  assert.equal(result.exitCode, 5, String(result.stderr));
  assert.deepEqual(await outOfHaproxy(), []);
  const journal = await lastJournalRun(config);
  assert.equal(journal?.outcome?.status, 'interrupted');
  assert.match(journal?.outcome?.summary.error ?? '', /the output was lost \(ENOSPC/);
  assert.deepEqual(journal?.transitions, [], 'no instance was touched');
  for (const host of fleet.hosts) assert.equal(await versionOf(host), BASELINE);
});
