import { getEventListeners } from 'node:events';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventBus, type ShipEvent } from '../../src/events.js';
import type { Check } from '../../src/health/check.js';
import { definePlaybook, run } from '../../src/playbook/define.js';
import { sh } from '../../src/shell/sh.js';
import type { Target } from '../../src/rollout/instance.js';
import { planBatches, capacityFloor } from '../../src/rollout/plan.js';
import { capacityRefusal, planRollout, runRollout, type RolloutInput, type RolloutSettings } from '../../src/rollout/rollout.js';
import { MemoryLoadBalancer, MemoryTransport, type CommandHandler } from '../support/memory.js';

const settings: RolloutSettings = {
  batchSize: 1,
  canary: true,
  minHealthy: undefined,
  capacityWaitMs: 0,
  maxFailures: 0,
  stageConcurrency: 4,
  capacityPollMs: 5,
  drainTimeoutMs: 1000,
  healthyTimeoutMs: 200,
  commandTimeoutMs: 1000,
  sudo: false,
};

const playbook = definePlaybook({
  name: 'test',
  stage: [run(sh`stage`)],
  activate: [run(sh`activate`)],
  rollback: [run(sh`rollback`)],
});

/** Health answered from a set the test controls, like an app that is up or not. */
function checkFor(host: string, healthy: Set<string>): Check {
  return { name: `memory ${host}`, successThreshold: 2, intervalMs: 1, probe: async () => ({ ok: healthy.has(host), detail: healthy.has(host) ? 'up' : 'down' }) };
}

function fleet(names: string[], handler?: CommandHandler, healthy = new Set(names)) {
  const lb = new MemoryLoadBalancer(names);
  const transports = new Map(names.map((n) => [n, new MemoryTransport(n, handler)]));
  const targets: Target[] = names.map((name) => ({
    name,
    address: '127.0.0.1',
    lbName: name,
    transport: transports.get(name)!,
    checks: [checkFor(name, healthy)],
    ctx: { app: 'a', host: { name, address: '127.0.0.1', lbName: name }, vars: {}, facts: {} },
  }));
  return { lb, transports, targets, healthy };
}

async function roll(f: ReturnType<typeof fleet>, overrides: Partial<RolloutSettings> = {}, pb = playbook, input: Partial<RolloutInput> = {}) {
  const bus = new EventBus('test');
  const events: ShipEvent[] = [];
  bus.subscribe((e) => events.push(e));
  const result = await runRollout({
    targets: f.targets,
    playbook: pb,
    lb: f.lb,
    bus,
    settings: { ...settings, ...overrides },
    signals: { graceful: new AbortController().signal, hard: new AbortController().signal },
    restoreCommand: (hosts) => `ship restore --hosts ${hosts.join(',')}`,
    ...input,
  });
  return { result, events };
}

test('batches: a canary of one, then batches of the configured size or percentage', () => {
  const hosts = ['a', 'b', 'c', 'd', 'e', 'f'];
  assert.deepEqual(
    planBatches(hosts, 2, true).map((b) => b.hosts),
    [['a'], ['b', 'c'], ['d', 'e'], ['f']],
  );
  assert.deepEqual(
    planBatches(hosts, '50%', false).map((b) => b.hosts),
    [
      ['a', 'b', 'c'],
      ['d', 'e', 'f'],
    ],
  );
  assert.deepEqual(
    planBatches(['a'], 3, true).map((b) => b.hosts),
    [['a']],
  );
});

test('the capacity floor is never below one and defaults to all but a batch', () => {
  assert.equal(capacityFloor(4, undefined, 1), 3);
  assert.equal(capacityFloor(4, '50%', 1), 2);
  assert.equal(capacityFloor(1, undefined, 1), 1);
  assert.equal(capacityFloor(4, 0, 4), 1);
});

test('behind no load balancer, an explicit minHealthy of 0 stands (workers); the default still keeps one', () => {
  assert.equal(capacityFloor(1, 0, 1, true), 0);
  assert.equal(capacityFloor(3, '0%', 3, true), 0);
  assert.equal(capacityFloor(1, undefined, 1, true), 1);
  const one = fleet(['worker1']);
  const plan = planRollout({ targets: one.targets, settings: { ...settings, idleAllowed: true }, playbook });
  assert.match(capacityRefusal(1, plan.floor, plan.breaching, plan.reloadInPlace, true)!, /rollout\.minHealthy: 0 lets every instance restart/);
  const idle = planRollout({ targets: one.targets, settings: { ...settings, idleAllowed: true, minHealthy: 0 }, playbook });
  assert.equal(capacityRefusal(1, idle.floor, idle.breaching, idle.reloadInPlace, true), undefined);
});

test('a fleet of one is refused with the numbers, unless the playbook reloads in place', () => {
  const one = fleet(['solo']);
  const plan = planRollout({ targets: one.targets, settings, playbook });
  assert.match(capacityRefusal(1, plan.floor, plan.breaching, plan.reloadInPlace)!, /would leave 0 in service, below the floor of 1.*fleet of one is never drained/s);
  const reloading = definePlaybook({ ...playbook, gracefulReload: [run(sh`kill -USR2 1`)] });
  const withReload = planRollout({ targets: one.targets, settings, playbook: reloading });
  assert.equal(capacityRefusal(1, withReload.floor, withReload.breaching, withReload.reloadInPlace), undefined);
});

test('a fleet of one with a graceful reload is never taken out of the load balancer', async () => {
  const one = fleet(['solo']);
  const reloading = definePlaybook({ ...playbook, gracefulReload: [run(sh`kill -USR2 1`)] });
  const { result } = await roll(one, {}, reloading);
  assert.equal(result.status, 'succeeded');
  assert.equal(one.lb.maxOut, 0);
  assert.deepEqual(one.transports.get('solo')!.commands, ['stage', 'kill -USR2 1']);
});

test('a healthy rollout stages everywhere first, then takes one instance out at a time', async () => {
  const f = fleet(['a', 'b', 'c', 'd']);
  const { result, events } = await roll(f);
  assert.equal(result.status, 'succeeded');
  assert.equal(f.lb.maxOut, 1);
  const firstDrain = events.findIndex((e) => e.type === 'instance.state' && e.to === 'draining');
  const stageDone = events.findIndex((e) => e.type === 'stage.finished');
  assert.ok(stageDone >= 0 && stageDone < firstDrain, 'stage must finish on every host before any host leaves');
  assert.deepEqual(
    result.summary.hosts.map((h) => h.outcome),
    ['deployed', 'deployed', 'deployed', 'deployed'],
  );
  const states = events.filter((e) => e.type === 'instance.state' && e.host === 'b').map((e) => (e as { to: string }).to);
  assert.deepEqual(states, ['draining', 'out', 'activating', 'verifying', 'registering', 'in-service']);
  assert.deepEqual(result.summary.outOfRotation, []);
});

test('a failed activate is rolled back, put back when healthy, and stops the rollout', async () => {
  const f = fleet(['a', 'b', 'c'], (host, cmd) => (host === 'b' && cmd === 'activate' ? { code: 3, stderr: 'boom: disk full\n' } : {}));
  const { result, events } = await roll(f);
  assert.equal(result.status, 'failed');
  assert.deepEqual(
    result.summary.hosts.map((h) => [h.host, h.outcome]),
    [
      ['a', 'deployed'],
      ['b', 'rolled-back'],
      ['c', 'not-started'],
    ],
  );
  assert.match(result.summary.error!, /b: activate step 'activate' exited with code 3\n.*boom: disk full/);
  assert.ok(f.transports.get('b')!.commands.includes('rollback'));
  assert.ok(!f.transports.get('c')!.commands.includes('activate'), 'no host after the failure may be touched');
  assert.equal(f.lb.admin.get('b'), 'ready');
  const states = events.filter((e) => e.type === 'instance.state' && e.host === 'b').map((e) => (e as { to: string }).to);
  assert.deepEqual(states, ['draining', 'out', 'activating', 'rolling-back', 'verifying', 'registering', 'in-service']);
});

test('health that never passes, even after rollback, leaves the instance out and reported', async () => {
  const healthy = new Set(['a', 'c']);
  const f = fleet(['a', 'b', 'c'], undefined, healthy);
  healthy.add('b');
  // b becomes unhealthy as soon as it is activated, and the rollback does not help.
  const handler: CommandHandler = (host, cmd) => {
    if (host === 'b' && cmd === 'activate') healthy.delete('b');
    return {};
  };
  for (const t of f.targets) (t.transport as unknown as { handler: CommandHandler }).handler = handler;
  const { result } = await roll(f, { canary: false });
  assert.equal(result.status, 'failed');
  const b = result.summary.hosts.find((h) => h.host === 'b')!;
  assert.equal(b.outcome, 'failed-out');
  assert.match(b.error!, /b: health check memory b did not finish within 200ms \(last seen: down/);
  assert.deepEqual(result.summary.outOfRotation, ['b']);
  assert.equal(f.lb.admin.get('b'), 'maint');
});

test('the capacity floor stops the rollout when another instance is unhealthy', async () => {
  const f = fleet(['a', 'b', 'c', 'd']);
  f.lb.healthy.set('d', false);
  const { result } = await roll(f);
  assert.equal(result.status, 'failed');
  assert.match(result.summary.error!, /capacity floor: taking out a would leave 2 healthy instance\(s\) in service, fewer than minHealthy 3; not healthy now: d \(DOWN\/ready\)/);
  assert.equal(f.lb.maxOut, 0, 'nothing may leave when the floor would be breached');
});

test('a stage failure on any host stops everything before any instance leaves', async () => {
  const f = fleet(['a', 'b', 'c'], (host, cmd) => (host === 'c' && cmd === 'stage' ? { code: 1, stderr: 'no space' } : {}));
  const { result } = await roll(f);
  assert.equal(result.status, 'failed');
  assert.match(result.summary.error!, /stage failed before any instance left the load balancer:\nc: stage step 'stage' exited with code 1/);
  assert.equal(f.lb.maxOut, 0);
});

test('a load balancer that cannot be reached when putting back leaves the instance reported as out', async () => {
  const f = fleet(['a', 'b']);
  f.lb.failOn.add('putBack');
  const { result } = await roll(f);
  assert.equal(result.status, 'failed');
  assert.deepEqual(result.summary.outOfRotation, ['a']);
  assert.match(result.summary.hosts[0]!.error!, /a: not confirmed healthy by the load balancer: memory lb: putBack unreachable/);
});

test('a graceful interrupt finishes the batch in flight and starts no other', async () => {
  const graceful = new AbortController();
  const f = fleet(['a', 'b', 'c'], (host, cmd) => {
    if (host === 'a' && cmd === 'activate') graceful.abort(new Error('SIGINT'));
    return {};
  });
  const { result } = await roll(f, {}, playbook, { signals: { graceful: graceful.signal, hard: new AbortController().signal } });
  assert.equal(result.status, 'interrupted');
  assert.deepEqual(
    result.summary.hosts.map((h) => [h.host, h.outcome]),
    [
      ['a', 'deployed'],
      ['b', 'not-started'],
      ['c', 'not-started'],
    ],
  );
  assert.deepEqual(result.summary.outOfRotation, []);
});

test('hosts the playbook skips after stage never leave the load balancer', async () => {
  const f = fleet(['a', 'b', 'c']);
  const skipping = definePlaybook({
    ...playbook,
    stage: [run(sh`count-updates`, { capture: 'updates' })],
    skip: (ctx) => (ctx.facts.updates === '0' ? 'no pending updates' : undefined),
  });
  for (const t of f.targets) {
    (t.transport as unknown as { handler: CommandHandler }).handler = (host, cmd) => (cmd === 'count-updates' ? { stdout: host === 'b' ? '3\n' : '0\n' } : {});
  }
  const { result } = await roll(f, {}, skipping);
  assert.equal(result.status, 'succeeded');
  assert.deepEqual(
    result.summary.hosts.map((h) => [h.host, h.outcome]),
    [
      ['a', 'skipped'],
      ['c', 'skipped'],
      ['b', 'deployed'],
    ],
  );
  assert.equal(result.summary.hosts[2]!.facts?.updates, '3');
  assert.deepEqual(
    f.lb.log.filter((l) => l.startsWith('startDrain')),
    ['startDrain b'],
  );
});

test('no batch starts after the maintenance window ends, and the run says what was left', async () => {
  const f = fleet(['a', 'b', 'c']);
  const { result } = await roll(f, { windowEndsAt: Date.now() - 1 });
  assert.equal(result.status, 'incomplete');
  assert.equal(result.summary.error, 'the maintenance window ended; not started: a, b, c');
  assert.equal(f.lb.maxOut, 0);
});

test('every transition is journaled before the load balancer is touched, and after it answered', async () => {
  const f = fleet(['a', 'b']);
  const order: string[] = [];
  const lbLog = f.lb.log;
  const push = lbLog.push.bind(lbLog);
  lbLog.push = (...items: string[]) => {
    order.push(...items.map((i) => `lb ${i}`));
    return push(...items);
  };
  const { result } = await roll(f, {}, playbook, {
    record: async (t) => {
      order.push(`journal ${t.host} ${t.to}`);
    },
  });
  assert.equal(result.status, 'succeeded');
  const a = order.filter((line) => / a( |$)/.test(line));
  assert.deepEqual(a, [
    'journal a draining',
    'lb startDrain a',
    'lb waitDrained a',
    'lb takeOut a',
    'journal a out',
    'journal a activating',
    'journal a verifying',
    'journal a registering',
    'lb putBack a',
    'lb waitHealthy a',
    'journal a in-service',
  ]);
});

test('transitions written behind are handed to the journal without waiting for the one before to be durable', async () => {
  const f = fleet(['a', 'b']);
  const log: string[] = [];
  const behind = new Set(['out', 'verifying', 'in-service']);
  const { result } = await roll(f, {}, playbook, {
    record: (t) => {
      if (t.host !== 'a') return Promise.resolve();
      log.push(`call ${t.to}`);
      // What is written behind becomes durable only a while later (the file journal: with the next record).
      return new Promise<void>((resolve) =>
        setTimeout(
          () => {
            log.push(`done ${t.to}`);
            resolve();
          },
          behind.has(t.to) ? 20 : 0,
        ),
      );
    },
  });
  assert.equal(result.status, 'succeeded');
  assert.deepEqual(
    log.filter((line) => line.startsWith('call')),
    ['call draining', 'call out', 'call activating', 'call verifying', 'call registering', 'call in-service'],
  );
  // 'activating' went to the journal, to be written with 'out', before 'out' was durable; the rollout still waited for 'activating' itself.
  assert.ok(log.indexOf('call activating') < log.indexOf('done out'), log.join(', '));
  assert.ok(log.indexOf('done activating') < log.indexOf('call verifying'), log.join(', '));
});

test('a journal that cannot be written stops the rollout before anything else is taken out', async () => {
  const f = fleet(['a', 'b', 'c']);
  let writes = 0;
  const { result } = await roll(f, {}, playbook, {
    record: async () => {
      if (++writes > 2) throw new Error('ENOSPC: no space left on device');
    },
  });
  assert.equal(result.status, 'failed');
  assert.match(result.summary.error!, /the journal could not be written \(ENOSPC: no space left on device\); no further instance is taken out/);
  assert.deepEqual(
    f.lb.log.filter((l) => l.startsWith('startDrain')),
    ['startDrain a'],
    'only the instance already in flight was touched',
  );
  assert.equal(f.lb.admin.get('a'), 'ready', 'the instance in flight was still put back');
});

test('rolling a subset (--hosts) counts capacity over the whole fleet behind the load balancer', async () => {
  const f = fleet(['a', 'b', 'c', 'd']);
  const subset = f.targets.filter((t) => t.name === 'c');
  const plan = planRollout({ targets: subset, settings, playbook, fleet: ['a', 'b', 'c', 'd'] });
  assert.equal(plan.floor, 3);
  assert.equal(capacityRefusal(4, plan.floor, plan.breaching, plan.reloadInPlace), undefined, 'one of four may leave');
  f.lb.healthy.set('a', false);
  const { result } = await roll(f, {}, playbook, { targets: subset, fleet: ['a', 'b', 'c', 'd'] });
  assert.equal(result.status, 'failed');
  assert.match(result.summary.error!, /taking out c would leave 2 healthy instance\(s\) in service, fewer than minHealthy 3; not healthy now: a/);
});

test("a wide batch hangs no listener per instance on the run's signals: each instance listens on its own, which aborts with the run's", async () => {
  const names = Array.from({ length: 24 }, (_, i) => `h${i + 1}`);
  const f = fleet(names);
  const hard = new AbortController();
  const graceful = new AbortController();
  let mostOnRun = 0;
  let probesSeen = 0;
  // Every probe listens on the signal it is given while it runs, as the HTTP check does.
  for (const target of f.targets) {
    target.checks = [
      {
        name: `listening ${target.name}`,
        successThreshold: 1,
        intervalMs: 1,
        probe: async (signal) => {
          assert.ok(signal && signal !== hard.signal, 'the probe gets a signal of its own instance');
          const onAbort = () => undefined;
          signal.addEventListener('abort', onAbort);
          mostOnRun = Math.max(mostOnRun, getEventListeners(hard.signal, 'abort').length, getEventListeners(graceful.signal, 'abort').length);
          probesSeen++;
          await new Promise((resolve) => setTimeout(resolve, 5));
          signal.removeEventListener('abort', onAbort);
          return { ok: true, detail: 'up' };
        },
      },
    ];
  }
  const { result } = await roll(f, { batchSize: '50%', canary: false }, playbook, { signals: { graceful: graceful.signal, hard: hard.signal } });
  assert.equal(result.status, 'succeeded');
  assert.equal(probesSeen, names.length);
  assert.equal(mostOnRun, 0, "no instance's probe listened on the run's signals");

  // The instance's signal still aborts with the run's: a second Ctrl-C reaches a probe in flight.
  const stop = new AbortController();
  const g = fleet(['x', 'y', 'z', 'w']);
  let reached = false;
  g.targets[0]!.checks = [
    {
      name: 'hangs until aborted',
      successThreshold: 1,
      intervalMs: 1,
      probe: (signal) =>
        new Promise((resolve) => {
          signal!.addEventListener('abort', () => {
            reached = true;
            resolve({ ok: false, detail: 'aborted' });
          });
          setTimeout(() => stop.abort(new Error('stopped by a second SIGINT')), 5);
        }),
    },
  ];
  const stopped = await roll(g, { batchSize: '50%', canary: false }, playbook, { signals: { graceful: stop.signal, hard: stop.signal } });
  assert.ok(reached, "aborting the run's signal aborted the instance's");
  assert.notEqual(stopped.result.status, 'succeeded');
});
