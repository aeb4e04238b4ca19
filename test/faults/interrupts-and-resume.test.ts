/**
 * Interrupts on a real fleet (four hosts of sshd + app behind HAProxy, `ship deploy --json` as a
 * subprocess): one Ctrl-C while the canary drains, while it activates and while it verifies, each
 * finishing the instance in flight, putting it back and exiting 130 with the journal agreeing;
 * and SIGKILL while an instance is out, after which `ship status` shows it out (journal and load
 * balancer agreeing) and `ship resume` puts it back and finishes the remaining hosts.
 * (Two Ctrl-C and `ship restore`: test/integration/interrupt.test.ts.)
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { randomInt } from 'node:crypto';
import type { ShipEvent } from '../../src/events.js';
import type { StatusReport } from '../../src/commands/status.js';
import { sleep } from '../../src/util/deadline.js';
import { startFleet, type ConfigOverrides, type Fleet } from '../fleet/fleet.js';
import { finished, runShip, startShip } from '../support/cli.js';
import {
  assertAllOn,
  assertInvariants,
  describeRun,
  finishedEvent,
  journalStates,
  lastJournalRun,
  lbView,
  resetFleet,
  stateStoreOf,
  touchedHosts,
  versionOf,
  watchEvents,
} from '../support/fleet-assertions.js';
import { restartOf, onlyFor } from '../support/host-commands.js';

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

function writeConfig(name: string, restart: Record<string, string>, overrides: ConfigOverrides = {}): Promise<string> {
  return fleet.writeConfig(
    {
      ...overrides,
      rollout: { ...FAST_ROLLOUT, ...overrides.rollout },
      hosts: fleet.hosts.map((h) => ({ name: h.name, address: h.address, vars: { appDir: h.appDir, restart: restart[h.name] ?? restartOf(h) } })),
    },
    name,
  );
}

/**
 * Runs `ship deploy`, sends SIGINT once at the first event `when` picks, and checks what every
 * graceful interrupt must end with: exit 130, the canary finished and back, nothing else started,
 * the journal recording the run as interrupted with the canary in service.
 */
async function interruptOnce(config: string, version: string, when: (event: ShipEvent) => boolean, onEvent?: (event: ShipEvent) => void) {
  const child = startShip(['deploy', '--config', config, '--version', version, '--artifact', await fleet.artifact(version), '--json']);
  let interrupted = false;
  watchEvents(child, (event) => {
    onEvent?.(event);
    if (!interrupted && when(event)) {
      interrupted = true;
      child.kill('SIGINT');
    }
  });
  const run = await finished(child);
  assert.ok(interrupted, `the run never reached the point of the interrupt:\n${describeRun(run)}`);
  await assertInvariants(fleet, run, { code: 130, configPath: config });
  const { status, summary } = finishedEvent(run);
  assert.equal(status, 'interrupted');
  assert.deepEqual(summary.outOfRotation, []);
  assert.equal(run.events.filter((e) => e.type === 'batch.started').length, 1, 'no batch may start after the Ctrl-C');
  assert.deepEqual(touchedHosts(run.events), ['web1']);
  assert.match(run.stderr, /SIGINT: finishing the instances in flight and putting them back/);
  const journal = await lastJournalRun(config);
  assert.equal(journal?.run.runId, run.events[0]?.runId, 'the journal holds this run');
  assert.equal(journal?.outcome?.status, 'interrupted');
  assert.deepEqual([...journalStates(journal)], [['web1', 'in-service']]);
  for (const host of fleet.hosts.slice(1)) assert.equal(await versionOf(host), BASELINE);
  return { run, summary };
}

test('Ctrl-C while the canary drains: the drain ends, the instance goes back undeployed, exit 130, every slow request answered', async () => {
  const version = 'v2';
  const config = await writeConfig('ctrl-c-drain.config.ts', {}, { rollout: { drainTimeout: '6s' } });
  // Long requests through HAProxy, two per server (round robin), still open when the canary starts draining.
  let slow: Promise<number[]> | undefined;
  const { run, summary } = await interruptOnce(
    config,
    version,
    (e) => e.type === 'instance.state' && e.host === 'web1' && e.to === 'draining',
    (e) => {
      if (e.type === 'run.started') {
        slow ??= Promise.all(
          Array.from({ length: 8 }, () =>
            fetch(new URL('/slow?ms=3000', fleet.frontendUrl)).then(async (r) => {
              await r.text();
              return r.status;
            }),
          ),
        );
      }
    },
  );
  assert.deepEqual(await slow, Array(8).fill(200), 'every request in flight during the drain must be answered');
  assert.equal(summary.hosts[0]?.outcome, 'put-back');
  const drained = run.events.find((e) => e.type === 'instance.drained');
  assert.ok(
    drained && drained.type === 'instance.drained' && !drained.timedOut && drained.durationMs > 300,
    `the drain should have waited for the slow requests: ${JSON.stringify(drained)}`,
  );
  assert.equal(
    run.events.some((e) => e.type === 'step.started' && e.phase === 'activate'),
    false,
    'nothing is activated after the Ctrl-C',
  );
  await assertAllOn(fleet, BASELINE);
});

test('Ctrl-C while the canary activates: the activation finishes, the instance goes back on the new release, exit 130', async () => {
  const version = 'v3';
  const canary = fleet.hosts[0]!;
  const config = await writeConfig('ctrl-c-activate.config.ts', { [canary.name]: `${onlyFor(canary, version, 'sleep 1')}; ${restartOf(canary)}` });
  const { summary } = await interruptOnce(config, version, (e) => e.type === 'instance.state' && e.host === canary.name && e.to === 'activating');
  assert.equal(summary.hosts[0]?.outcome, 'deployed');
  await assertAllOn(fleet, version, [canary]);
});

test('Ctrl-C while the canary verifies: health checks go on until it passes, the instance goes back on the new release, exit 130', async () => {
  const version = 'v4';
  const canary = fleet.hosts[0]!;
  // The restart returns at once and the new release answers a second later: ship's check (the
  // version in the body) keeps the canary in `verifying` meanwhile.
  const config = await writeConfig(
    'ctrl-c-verify.config.ts',
    { [canary.name]: `(sleep 1; ${restartOf(canary)}) </dev/null >/dev/null 2>&1 &` },
    { health: { http: { port: 8080, path: '/', bodyMatch: `"version":"${version}"`, successThreshold: 1, interval: '20ms', timeout: '1s' } } },
  );
  let verifyingAt = 0;
  const { run, summary } = await interruptOnce(config, version, (e) => {
    if (e.type === 'instance.state' && e.host === canary.name && e.to === 'verifying') verifyingAt = Date.parse(e.time);
    return verifyingAt > 0;
  });
  assert.equal(summary.hosts[0]?.outcome, 'deployed');
  const passed = run.events.find((e) => e.type === 'health.passed' && e.host === canary.name);
  assert.ok(passed && passed.type === 'health.passed' && passed.attempts > 1, `the canary should have been verified for a while: ${JSON.stringify(passed)}`);
  await assertAllOn(fleet, version, [canary]);
});

test('SIGKILL while an instance is out: ship status shows it out (journal and load balancer agree), ship resume puts it back and finishes; exit 0', async () => {
  const version = 'v5';
  const second = fleet.hosts[1]!;
  const marker = `sleep 2.${randomInt(100_000, 999_999)}`;
  const config = await writeConfig('sigkill.config.ts', { [second.name]: `${onlyFor(second, version, marker)}; ${restartOf(second)}` });
  const child = startShip(['deploy', '--config', config, '--version', version, '--artifact', await fleet.artifact(version), '--json']);
  let killed = false;
  watchEvents(child, (event) => {
    if (event.type === 'step.started' && event.host === second.name && event.phase === 'activate' && event.step === 'restart') {
      void (async () => {
        while ((await execa('pgrep', ['-f', marker], { reject: false })).exitCode !== 0) await sleep(20);
        killed = child.kill('SIGKILL');
      })();
    }
  });
  const killedRun = await finished(child);
  assert.ok(killed, `ship was never killed:\n${describeRun(killedRun)}`);
  assert.equal(
    killedRun.events.some((e) => e.type === 'run.finished'),
    false,
    'a killed run says nothing more',
  );

  // The truth right after the crash: web2 out of HAProxy, and the journal says so too.
  const view = await lbView(fleet);
  assert.deepEqual(
    [...view].filter(([, m]) => m.adminOut).map(([name]) => name),
    [second.name],
  );
  const status = await runShip(['status', '--config', config, '--json']);
  assert.equal(status.code, 1, `ship status must ask for attention after a crash:\n${describeRun(status)}`);
  const report = JSON.parse(status.stdout) as StatusReport;
  assert.equal(report.unfinished, true);
  assert.equal(report.lastRun?.run.runId, killedRun.events[0]?.runId);
  assert.deepEqual(
    report.instances.filter((i) => i.out).map((i) => [i.host, i.journal, i.live?.inService]),
    [[second.name, 'activating', false]],
  );
  assert.deepEqual(
    report.instances.filter((i) => i.disagreement),
    [],
    'the journal and the load balancer must agree',
  );
  assert.equal(report.lock?.runId, killedRun.events[0]?.runId, 'the dead run still holds the lock');

  const resumed = await runShip(['resume', '--config', config, '--json']);
  await assertInvariants(fleet, resumed, { code: 0, configPath: config, initiallyOut: 1 });
  const started = resumed.events.find((e) => e.type === 'run.started');
  assert.ok(started && started.type === 'run.started', describeRun(resumed));
  assert.deepEqual(started.hosts, ['web2', 'web3', 'web4'], 'the canary finished before the crash: it is not rolled again');
  const reconciled = resumed.events.filter((e) => e.type === 'instance.state' && e.host === second.name).slice(0, 3);
  assert.deepEqual(
    reconciled.map((e) => e.type === 'instance.state' && `${e.from}->${e.to}`),
    ['activating->verifying', 'verifying->registering', 'registering->in-service'],
    'the instance caught mid-way is health-checked and put back first',
  );
  const { summary } = finishedEvent(resumed);
  assert.deepEqual(
    summary.hosts.map((h) => [h.host, h.outcome]),
    [
      ['web2', 'deployed'],
      ['web3', 'deployed'],
      ['web4', 'deployed'],
    ],
  );
  assert.deepEqual(summary.outOfRotation, []);
  await assertAllOn(fleet, version);
  const journal = await lastJournalRun(config);
  assert.equal(journal?.run.command, `resume ${killedRun.events[0]?.runId}`, 'the journal records the resumption as a run of its own');
  assert.equal(journal?.outcome?.status, 'succeeded');
  assert.ok([...journalStates(journal).values()].every((state) => state === 'in-service'));
  assert.equal(await lastLockHolder(config), undefined, 'the lock is given back');
});

async function lastLockHolder(config: string) {
  const store = stateStoreOf(config);
  try {
    return await store.currentLock('demo');
  } finally {
    await store.close();
  }
}
