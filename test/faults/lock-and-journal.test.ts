/**
 * Faults around the deploy lock, the journal and the state store, on a real fleet (four hosts of
 * sshd + app behind HAProxy) through the real CLI: a lock held by a live run (a second deploy and
 * `ship check` refused naming the holder, `--lock-wait` waiting and then rolling), a stale lock
 * left by a SIGKILLed run (refused as stale, broken with `ship unlock --force --reason`, recorded,
 * then deploys work), a journal torn by a crash and one with garbage in it, a state folder that
 * cannot be written, an instance put in maintenance by hand (`ship status` flags it), and
 * `ship check` passing and failing without changing anything.
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { randomInt } from 'node:crypto';
import { appendFile, mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ShipEvent } from '../../src/events.js';
import type { StatusReport } from '../../src/commands/status.js';
import { RuntimeApiClient, parseRuntimeApi } from '../../src/lb/haproxy-runtime.js';
import { quote } from '../../src/shell/sh.js';
import { sleep } from '../../src/util/deadline.js';
import { fleetConfig, startFleet, type ConfigOverrides, type Fleet } from '../fleet/fleet.js';
import { finished, runShip, startShip, type ShipRun } from '../support/cli.js';
import {
  FLEET_APP,
  assertAllOn,
  assertInvariants,
  describeRun,
  finishedEvent,
  lastJournalRun,
  lbView,
  resetFleet,
  restartSshd,
  stateStoreOf,
  touchedHosts,
  unmountStaleFleetMounts,
  watchEvents,
} from '../support/fleet-assertions.js';
import { restartOf } from '../support/host-commands.js';

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

/** Every host restarts after `seconds` (only when deploying, not when rolling back), so a run holds the lock a while. */
function writeConfig(name: string, slow: Record<string, string> = {}, overrides: ConfigOverrides = {}): Promise<string> {
  return fleet.writeConfig(
    {
      ...overrides,
      rollout: { ...FAST_ROLLOUT, ...overrides.rollout },
      hosts: fleet.hosts.map((h) => ({ name: h.name, address: h.address, vars: { appDir: h.appDir, restart: slow[h.name] ? `${slow[h.name]}; ${restartOf(h)}` : restartOf(h) } })),
    },
    name,
  );
}

function deployArgs(config: string, version: string, artifact: string, extra: string[] = []): string[] {
  return ['deploy', '--config', config, '--version', version, '--artifact', artifact, '--json', ...extra];
}

async function lockHolder(config: string) {
  const store = stateStoreOf(config);
  try {
    return await store.currentLock(FLEET_APP);
  } finally {
    await store.close();
  }
}

/** Kills, by pid, the processes whose command line has `marker` (a unique sleep left on a host). */
async function killMarked(marker: string): Promise<void> {
  const found = await execa('pgrep', ['-f', marker], { reject: false });
  for (const pid of found.stdout.split('\n').filter(Boolean).map(Number)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

test('a lock held by a live run: a second deploy and ship check are refused naming the holder (exit 3); with --lock-wait a third waits, then rolls (exit 0)', async () => {
  const slow = Object.fromEntries(fleet.hosts.map((h) => [h.name, 'sleep 1.5']));
  const config = await writeConfig('lock-held.config.ts', slow);
  const [v2, v3] = await Promise.all([fleet.artifact('v2'), fleet.artifact('v3')]);
  const holder = startShip(deployArgs(config, 'v2', v2));
  let others: Promise<[ShipRun, ShipRun, ShipRun]> | undefined;
  watchEvents(holder, (event) => {
    if (event.type === 'preflight.check' && event.name === 'lock' && event.status === 'passed') {
      others ??= Promise.all([
        runShip(deployArgs(config, 'v3', v3)),
        runShip(['check', '--config', config, '--version', 'v3', '--artifact', v3, '--json']),
        runShip(deployArgs(config, 'v3', v3, ['--lock-wait', '60s'])),
      ]);
    }
  });
  const first = await finished(holder);
  assert.ok(others, `the first run never took the lock:\n${describeRun(first)}`);
  const [refused, check, waited] = await others;
  const holderRun = first.events[0]!.runId;

  await assertInvariants(fleet, first, { code: 0, configPath: config });
  for (const run of [refused, check]) {
    await assertInvariants(fleet, run, { code: 3 });
    const { status, summary } = finishedEvent(run);
    assert.equal(status, 'refused');
    assert.equal(summary.code, 'SHIP-E012', describeRun(run));
    assert.match(summary.error ?? '', new RegExp(`app demo is locked by root@[^:]+: 'deploy' \\(run ${holderRun}\\) since \\S+, last heartbeat`));
    assert.match(summary.error ?? '', /--lock-wait/);
    assert.deepEqual(touchedHosts(run.events), []);
    assert.equal(
      run.events.some((e) => e.type === 'stage.started'),
      false,
      'a refused run stages nothing',
    );
  }
  await assertInvariants(fleet, waited, { code: 0, configPath: config });
  assert.ok(
    waited.events.some((e) => e.type === 'warning' && e.message.startsWith('waiting for the deploy lock held by root@') && e.message.includes("'deploy'")),
    describeRun(waited),
  );
  // Never two runs' instances out together: the waiting run took its first instance out after the holder finished.
  const holderEnd = Date.parse(finishedEvent(first).time);
  const firstDrain = waited.events.find((e) => e.type === 'instance.state' && e.to === 'draining');
  assert.ok(firstDrain && Date.parse(firstDrain.time) >= holderEnd, 'the waiting run started rolling before the holder finished');
  await assertAllOn(fleet, 'v3');
  assert.equal(await lockHolder(config), undefined, 'the lock is free after both runs');
});

test('a stale lock (holder SIGKILLed): refused as stale (exit 3); ship unlock --force --reason breaks it and records who and why; then a deploy works (exit 0)', async () => {
  const canary = fleet.hosts[0]!;
  const marker = `sleep 3.${randomInt(100_000, 999_999)}`;
  const config = await writeConfig('stale-lock.config.ts', { [canary.name]: `case "$(readlink ${quote(`${canary.appDir}/current`)})" in */v2) ${marker};; esac` });
  const holder = startShip(deployArgs(config, 'v2', await fleet.artifact('v2')));
  watchEvents(holder, (event) => {
    if (event.type === 'step.started' && event.host === canary.name && event.step === 'restart') {
      void (async () => {
        while ((await execa('pgrep', ['-f', marker], { reject: false })).exitCode !== 0) await sleep(20);
        holder.kill('SIGKILL');
      })();
    }
  });
  const killed = await finished(holder);
  assert.equal(
    killed.events.some((e) => e.type === 'run.finished'),
    false,
    `the holder was not killed mid-run:\n${describeRun(killed)}`,
  );
  await killMarked(marker);
  const lock = await lockHolder(config);
  assert.equal(lock?.runId, killed.events[0]?.runId);
  // Its heartbeat (the lock file's mtime) stopped a minute ago, as if the laptop died then.
  const lockFile = join(fleet.dir, '.ship', 'locks', `${FLEET_APP}.json`);
  const aMinuteAgo = new Date(Date.now() - 60_000);
  await utimes(lockFile, aMinuteAgo, aMinuteAgo);

  const v3 = await fleet.artifact('v3');
  const refused = await runShip(deployArgs(config, 'v3', v3));
  await assertInvariants(fleet, refused, { code: 3, configPath: config, leftOutBefore: [canary.name] });
  const { summary } = finishedEvent(refused);
  assert.equal(summary.code, 'SHIP-E012');
  assert.match(summary.error ?? '', new RegExp(`run ${lock!.runId}\\).*its heartbeat stopped, so it is stale: break it with \`ship unlock --force --reason "\\.\\.\\."\``));
  assert.deepEqual(touchedHosts(refused.events), []);

  const reason = 'laptop died mid-deploy (INC-7)';
  const unlock = await runShip(['unlock', '--config', config, '--force', '--reason', reason]);
  assert.equal(unlock.code, 0, describeRun(unlock));
  assert.match(unlock.stdout, new RegExp(`broke the deploy lock of demo, held by root@[^:]+: 'deploy' \\(run ${lock!.runId}\\)`));
  const store = stateStoreOf(config);
  const breaks = await store.lockBreaks(FLEET_APP).finally(() => store.close());
  assert.equal(breaks.length, 1);
  assert.equal(breaks[0]!.reason, reason);
  assert.equal(breaks[0]!.holder.runId, lock!.runId);
  assert.equal(breaks[0]!.by.osUser, 'root');
  assert.equal(breaks[0]!.evenIfAlive, false);

  // The dead run left its canary in maintenance; the new run rolls it like the others.
  assert.equal((await lbView(fleet)).get(canary.name)?.adminOut, true);
  const deployed = await runShip(deployArgs(config, 'v3', v3));
  await assertInvariants(fleet, deployed, { code: 0, configPath: config });
  await assertAllOn(fleet, 'v3');
  assert.equal(await lockHolder(config), undefined);
});

/** A finished run written through the file store itself, as an earlier deploy would have left it. */
async function recordFinishedRun(config: string, runId: string): Promise<string> {
  const store = stateStoreOf(config);
  try {
    const at = new Date().toISOString();
    await store.beginRun({ runId, app: FLEET_APP, command: 'deploy', version: 'v1', hosts: ['web1'], resume: {}, actor: { osUser: 'root', hostname: 'laptop' }, startedAt: at });
    for (const [from, to] of [
      ['in-service', 'draining'],
      ['draining', 'out'],
      ['out', 'activating'],
      ['activating', 'verifying'],
      ['verifying', 'registering'],
      ['registering', 'in-service'],
    ] as const) {
      await store.recordTransition({ runId, host: 'web1', from, to, at });
    }
    await store.finishRun(runId, { status: 'succeeded', summary: { hosts: [], outOfRotation: [] }, finishedAt: at });
  } finally {
    await store.close();
  }
  return join(fleet.dir, '.ship', 'runs', FLEET_APP, `${runId}.jsonl`);
}

test('a corrupt journal: a torn last line is skipped with a warning naming the file; garbage makes ship status name the file and line (exit 1); a new deploy still works', async () => {
  const config = await writeConfig('corrupt-journal.config.ts');
  const journal = await recordFinishedRun(config, `corrupt-${randomInt(1e9)}`);
  // A crash in the middle of an append: half a record, no end of line.
  await appendFile(journal, '{"type":"transition","transition":{"runId":"cor');
  const torn = await runShip(['status', '--config', config]);
  assert.equal(torn.code, 0, `a torn last record must not stop ship status:\n${describeRun(torn)}`);
  assert.ok(torn.stdout.includes(`${journal}: line 9 was cut short by an interrupted write`), `ship status must name the torn journal:\n${torn.stdout}`);
  assert.match(torn.stdout, /every instance is in service/);

  // Garbage in the middle: not a crash ship can explain, so it says where and stops.
  const lines = (await readFile(journal, 'utf8')).split('\n');
  lines.splice(2, 0, '\u0000\u0000garbage from a bad disk');
  await writeFile(journal, lines.join('\n'));
  const garbage = await runShip(['status', '--config', config]);
  assert.equal(garbage.code, 1, describeRun(garbage));
  assert.ok(garbage.stderr.includes(`${journal}: line 3 is not JSON`), `the error must name the file and the line:\n${garbage.stderr}`);
  assert.match(garbage.stderr, /move the file aside/);

  const deployed = await runShip(deployArgs(config, 'v2', await fleet.artifact('v2')));
  await assertInvariants(fleet, deployed, { code: 0, configPath: config });
  await assertAllOn(fleet, 'v2');
  const after = await runShip(['status', '--config', config, '--json']);
  assert.equal(after.code, 0, describeRun(after));
  assert.equal((JSON.parse(after.stdout) as StatusReport).lastRun?.run.runId, deployed.events[0]?.runId);
});

test('a state folder that cannot be written (read-only): the deploy is refused before anything changes, naming the folder; exit 3', async () => {
  const state = join(fleet.dir, 'read-only-state');
  await mkdir(state, { recursive: true });
  await execa('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', state]);
  mounts.push(state);
  const config = join(fleet.dir, 'read-only-state.config.ts');
  const contents = { ...fleetConfig(fleet, { rollout: FAST_ROLLOUT }), state: { store: 'file', path: state } };
  await writeFile(config, `export default ${JSON.stringify(contents, null, 2)};\n`);

  const run = await runShip(deployArgs(config, 'v2', await fleet.artifact('v2')));
  await assertInvariants(fleet, run, { code: 3 });
  const { status, summary } = finishedEvent(run);
  assert.equal(status, 'refused');
  assert.match(summary.error ?? '', new RegExp(`lock: ${state.replaceAll('.', '\\.')}/locks: cannot create the state folder: .*EROFS`));
  assert.deepEqual(touchedHosts(run.events), []);
  assert.equal(
    run.events.some((e) => e.type === 'stage.started'),
    false,
  );
  await assertAllOn(fleet, BASELINE);
  await execa('umount', [state]);
  mounts.splice(mounts.indexOf(state), 1);
});

test('an instance put in maintenance by hand: ship status flags the disagreement with the journal (exit 1)', async () => {
  const config = await writeConfig('by-hand.config.ts');
  const third = fleet.hosts[2]!;
  const client = new RuntimeApiClient(parseRuntimeApi(fleet.runtimeApi));
  try {
    await client.runSilent(`disable server app/${third.name}`);
  } finally {
    await client.close();
  }
  const json = await runShip(['status', '--config', config, '--json']);
  assert.equal(json.code, 1, describeRun(json));
  const report = JSON.parse(json.stdout) as StatusReport;
  const flagged = report.instances.filter((i) => i.disagreement);
  assert.deepEqual(
    flagged.map((i) => i.host),
    [third.name],
  );
  assert.match(flagged[0]!.disagreement!, /the journal says in-service, the load balancer says out \(MAINT/);
  assert.deepEqual(
    report.instances.filter((i) => i.out).map((i) => i.host),
    [third.name],
  );
});

test('ship check: passes (exit 0) and fails on a host down (exit 3) without changing anything', async () => {
  const config = await writeConfig('check.config.ts');
  const artifact = await fleet.artifact('v2');
  const before = await lastJournalRun(config);
  const checkArgs = ['check', '--config', config, '--version', 'v2', '--artifact', artifact, '--json'];

  const passing = await runShip(checkArgs);
  await assertInvariants(fleet, passing, { code: 0, configPath: config });
  assert.equal(finishedEvent(passing).status, 'checked');
  const passed = passing.events.flatMap((e) => (e.type === 'preflight.check' ? [`${e.name}:${e.status}`] : []));
  for (const name of ['lock', 'playbook variables', 'capacity plan', 'connectivity', 'load balancer'])
    assert.ok(passed.includes(`${name}:passed`), `${name} not passed: ${passed.join(', ')}`);

  const down = fleet.hosts[2]!;
  await down.sshd.stop();
  let failing: ShipRun;
  try {
    failing = await runShip(checkArgs);
  } finally {
    await restartSshd(fleet, down);
  }
  await assertInvariants(fleet, failing, { code: 3, configPath: config });
  const { summary } = finishedEvent(failing);
  assert.equal(summary.code, 'SHIP-E006');
  assert.match(summary.error ?? '', new RegExp(`connectivity: unreachable: ${down.name}: `));
  // Every check runs, so one look shows every problem.
  const statuses = failing.events.flatMap((e) => (e.type === 'preflight.check' ? [`${e.name}:${e.status}`] : []));
  assert.ok(statuses.includes('connectivity:failed') && statuses.includes('load balancer:passed') && statuses.includes('lock:passed'), statuses.join(', '));

  for (const run of [passing, failing]) {
    assert.deepEqual(touchedHosts(run.events), []);
    assert.equal(
      run.events.some((e: ShipEvent) => e.type === 'stage.started'),
      false,
      'ship check stages nothing',
    );
  }
  assert.equal((await lastJournalRun(config))?.run.runId, before?.run.runId, 'ship check writes no run to the journal');
  assert.equal(await lockHolder(config), undefined, 'ship check never takes the lock');
  await assertAllOn(fleet, BASELINE);
});
