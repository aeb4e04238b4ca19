/**
 * Run-once playbook phases, really run through LocalTransport: once, with the same step events as
 * per-host steps under a pseudo-host naming where they ran, output and captures kept, and a
 * failing step failing the phase with its name.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { userInfo, tmpdir } from 'node:os';
import { join } from 'node:path';
import { classifyError } from '../../src/errors/codes.js';
import { EventBus, type ShipEvent } from '../../src/events.js';
import { definePlaybook, run } from '../../src/playbook/define.js';
import { runOnce, type RunOnceOptions } from '../../src/playbook/run-once.js';
import { StepFailedError } from '../../src/playbook/runner.js';
import { sh } from '../../src/shell/sh.js';
import { LocalTransport } from '../../src/transport/local.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ship-run-once-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function recorder(): { bus: EventBus; events: ShipEvent[] } {
  const bus = new EventBus('run-1');
  const events: ShipEvent[] = [];
  bus.subscribe((event) => events.push(event));
  return { bus, events };
}

function options(bus: EventBus, rest: Partial<RunOnceOptions> = {}): RunOnceOptions {
  return { bus, run: { app: 'shop', vars: { flag: 'new-checkout' }, version: 'v2' }, defaultTimeoutMs: 30_000, sudo: false, ...rest };
}

test('beforeRollout runs each step once on this machine, with step and output events under once@local, and keeps captures', async () => {
  const log = join(dir, 'ran.log');
  const playbook = definePlaybook({
    name: 'release',
    activate: [run(sh`true`)],
    beforeRollout: [
      run((ctx) => sh`echo "warm ${ctx.app} ${ctx.version ?? ''}" >> ${log}; echo warmed`, { name: 'warm cache' }),
      run((ctx) => sh`echo "flag ${String(ctx.vars.flag)}" >> ${log}; echo 42`, { name: 'flip flag', capture: 'flagId' }),
    ],
  });
  const { bus, events } = recorder();
  const result = await runOnce(playbook, 'beforeRollout', options(bus));
  assert.equal(await readFile(log, 'utf8'), 'warm shop v2\nflag new-checkout\n');
  assert.deepEqual(result, { ranAs: 'once@local', facts: { flagId: '42' } });
  assert.deepEqual(
    events.map((event) => [
      event.type,
      'host' in event ? event.host : '',
      'phase' in event ? event.phase : '',
      'step' in event ? event.step : '',
      'line' in event ? event.line : '',
    ]),
    [
      ['step.started', 'once@local', 'beforeRollout', 'warm cache', ''],
      ['output', 'once@local', '', '', 'warmed'],
      ['step.finished', 'once@local', 'beforeRollout', 'warm cache', ''],
      ['step.started', 'once@local', 'beforeRollout', 'flip flag', ''],
      ['output', 'once@local', '', '', '42'],
      ['step.finished', 'once@local', 'beforeRollout', 'flip flag', ''],
    ],
  );
});

test('a failing step fails the phase with the step name, where it ran and its stderr; later steps do not run', async () => {
  const marker = join(dir, 'after-failure');
  const playbook = definePlaybook({
    name: 'release',
    activate: [run(sh`true`)],
    afterRollout: [run(sh`echo 'flag service said no' >&2; exit 3`, { name: 'flip flag' }), run(sh`touch ${marker}`, { name: 'never' })],
  });
  const { bus, events } = recorder();
  const error = await runOnce(playbook, 'afterRollout', options(bus)).then(
    () => assert.fail('the phase passed'),
    (thrown: unknown) => thrown,
  );
  assert.ok(error instanceof StepFailedError, String(error));
  assert.match(error.message, /^once@local: afterRollout step 'flip flag' exited with code 3\n {4}\| flag service said no$/);
  assert.equal(classifyError(error).code, 'SHIP-E047');
  const finished = events.filter((event) => event.type === 'step.finished');
  assert.deepEqual(
    finished.map((event) => [event.step, event.ok, event.code]),
    [['flip flag', false, 'SHIP-E047']],
  );
  await assert.rejects(readFile(marker));
});

test('on a named host: its transport and context (its vars), ssh.sudo applied there, events under once@<host>', async () => {
  const playbook = definePlaybook({
    name: 'release',
    activate: [run(sh`true`)],
    afterRollout: { on: 'web1', steps: [run((ctx) => sh`echo "${ctx.host.name} ${String(ctx.vars.region)} $(id -un)"`, { name: 'where', capture: 'where' })] },
  });
  const web1 = new LocalTransport({ host: 'web1' });
  const asked: string[] = [];
  const { bus, events } = recorder();
  try {
    const result = await runOnce(
      playbook,
      'afterRollout',
      options(bus, {
        sudo: 'nobody',
        host: (name) => {
          asked.push(name);
          return { transport: web1, ctx: { app: 'shop', host: { name: 'web1', address: '10.0.0.1', lbName: 'web1' }, vars: { region: 'eu' }, facts: {} } };
        },
      }),
    );
    assert.deepEqual(asked, ['web1']);
    assert.deepEqual(result, { ranAs: 'once@web1', facts: { where: 'web1 eu nobody' } });
    assert.ok(events.every((event) => !('host' in event) || event.host === 'once@web1'));
  } finally {
    await web1.close();
  }
});

test('on this machine ssh.sudo does not apply: it is not a host of the fleet', async () => {
  const playbook = definePlaybook({ name: 'release', activate: [run(sh`true`)], beforeRollout: [run(sh`id -un`, { name: 'who', capture: 'user' })] });
  const { bus } = recorder();
  const result = await runOnce(playbook, 'beforeRollout', options(bus, { sudo: 'nobody' }));
  assert.equal(result.facts.user, userInfo().username);
});

test('a playbook without the phase runs nothing', async () => {
  const { bus, events } = recorder();
  assert.deepEqual(await runOnce(definePlaybook({ name: 'plain', activate: [run(sh`true`)] }), 'beforeRollout', options(bus)), { facts: {} });
  assert.deepEqual(events, []);
});
