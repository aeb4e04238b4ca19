/**
 * Every command that moves instances goes through one pipeline (issue 12): on a real fleet (three
 * hosts of sshd + app behind HAProxy, the real CLI as a subprocess) each of deploy, rollback,
 * patch, run, resume and restore, made to fail for real, sends its failure notification to a
 * webhook (trigger, command, app, status, SHIP-E code and runbook link), a successful rollback
 * and run send their success notification, and patch, run and rollback honour `--lock-wait`
 * (wait for the holder, then roll) and are refused without it (exit 3, SHIP-E012).
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { ShipEvent } from '../../src/events.js';
import { findCode, runbookAnchor } from '../../src/errors/codes.js';
import { RuntimeApiClient, parseRuntimeApi } from '../../src/lb/haproxy-runtime.js';
import type { RunNotice } from '../../src/notify/notifier.js';
import { quote } from '../../src/shell/sh.js';
import { startFleet, type ConfigOverrides, type Fleet } from '../fleet/fleet.js';
import { REPO_ROOT, finished, runShip, startShip, type ShipRun } from '../support/cli.js';
import { FLEET_APP, assertAllOn, assertInvariants, currentRelease, describeRun, finishedEvent, lbView, resetFleet, watchEvents } from '../support/fleet-assertions.js';
import { restartOf, onlyFor } from '../support/host-commands.js';

const BASELINE = 'v1';
const FAST_ROLLOUT = { healthyTimeout: '3s', drainTimeout: '2s' };
const RUNBOOK_URL = 'https://runbook.example/ship/runbook.md';

/** A webhook on loopback that records every JSON body POSTed to /hook. */
interface Receiver {
  url: string;
  notices: RunNotice[];
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const notices: RunNotice[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (request.method === 'POST' && request.url === '/hook') notices.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as RunNotice);
      response.writeHead(request.method === 'POST' ? 204 : 405).end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    notices,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let fleet: Fleet;
let receiver: Receiver;
let okPlaybook: string;
let failingPlaybook: string;

before(async () => {
  [fleet, receiver] = await Promise.all([startFleet({ hosts: 3, version: BASELINE }), startReceiver()]);
  okPlaybook = join(fleet.dir, 'maintenance-ok.ts');
  failingPlaybook = join(fleet.dir, 'maintenance-fails.ts');
  const index = JSON.stringify(join(REPO_ROOT, 'src', 'index.js'));
  await writeFile(
    okPlaybook,
    `import { definePlaybook, run, sh } from ${index};\nexport default definePlaybook({ name: 'maintenance-ok', activate: [run(sh\`true\`, { name: 'nothing to do' })] });\n`,
  );
  await writeFile(
    failingPlaybook,
    `import { definePlaybook, run, sh } from ${index};\nexport default definePlaybook({ name: 'maintenance-fails', activate: [run(sh\`echo 'maintenance broke' >&2; exit 7\`, { name: 'break' })] });\n`,
  );
});
after(async () => {
  await Promise.all([fleet?.stop(), receiver?.close()]);
});
beforeEach(async () => {
  await resetFleet(fleet, BASELINE);
});

/** A config that tells the receiver about every success, failure and abort; `restart` replaces a host's restart command. */
function writeConfig(name: string, restart: Record<string, string> = {}, overrides: ConfigOverrides = {}): Promise<string> {
  return fleet.writeConfig(
    {
      ...overrides,
      rollout: { ...FAST_ROLLOUT, ...overrides.rollout },
      hosts: fleet.hosts.map((h) => ({ name: h.name, address: h.address, vars: { appDir: h.appDir, restart: restart[h.name] ?? restartOf(h) } })),
      notify: { webhook: { url: receiver.url }, on: ['success', 'failure', 'abort'], runbookUrl: RUNBOOK_URL, retries: 0, timeout: '5s' },
    },
    name,
  );
}

function runIdOf(run: ShipRun): string {
  const runId = run.events[0]?.runId;
  assert.ok(runId, `the run printed no event:\n${describeRun(run)}`);
  return runId;
}

/**
 * The one notice of this trigger the run sent (ship flushes its notifications before it exits, so
 * they have all arrived by the time the process is gone), checked against the run's own ending.
 */
function noticeOf(run: ShipRun, trigger: RunNotice['trigger']): RunNotice {
  const runId = runIdOf(run);
  const sent = receiver.notices.filter((n) => n.runId === runId);
  const matching = sent.filter((n) => n.trigger === trigger);
  assert.equal(matching.length, 1, `expected one '${trigger}' notice for run ${runId}, got ${JSON.stringify(sent.map((n) => n.trigger))}\n${describeRun(run)}`);
  return matching[0]!;
}

/** The failure notice carries what the run ended with: command, app, status, and its SHIP-E code with a runbook link. */
function assertFailureNotice(run: ShipRun, expected: { command: string; status: 'failed' | 'refused'; code: string; version?: string }): RunNotice {
  const notice = noticeOf(run, 'failure');
  const { status, summary } = finishedEvent(run);
  assert.equal(notice.command, expected.command);
  assert.equal(notice.app, FLEET_APP);
  assert.equal(notice.status, expected.status);
  assert.equal(status, expected.status);
  if (expected.version) assert.equal(notice.version, expected.version);
  assert.equal(notice.error, summary.error);
  const info = findCode(expected.code);
  assert.ok(info, `${expected.code} is not in the catalogue`);
  assert.deepEqual(notice.code, { code: info.code, title: info.title, runbook: `${RUNBOOK_URL}#${runbookAnchor(info)}` }, `the notice's code: ${JSON.stringify(notice)}`);
  assert.deepEqual(notice.outOfRotation, summary.outOfRotation);
  return notice;
}

function deployArgs(config: string, version: string, artifact: string, extra: string[] = []): string[] {
  return ['deploy', '--config', config, '--version', version, '--artifact', artifact, '--json', ...extra];
}

test('deploy: a restart that fails on the canary sends a failure notice (SHIP-E014, the canary rolled back)', async () => {
  const canary = fleet.hosts[0]!;
  const config = await writeConfig('deploy-fails.config.ts', { [canary.name]: `${onlyFor(canary, 'v2', 'exit 1')}; ${restartOf(canary)}` });
  const run = await runShip(deployArgs(config, 'v2', await fleet.artifact('v2')));
  await assertInvariants(fleet, run, { code: 1, configPath: config });
  const notice = assertFailureNotice(run, { command: 'deploy', status: 'failed', code: 'SHIP-E014', version: 'v2' });
  assert.deepEqual(
    notice.failedHosts.map((h) => [h.host, h.outcome]),
    [[canary.name, 'rolled-back']],
  );
  await assertAllOn(fleet, BASELINE);
});

test('rollback: a rollback whose restart fails sends a failure notice; a successful rollback sends a success notice', async () => {
  const canary = fleet.hosts[0]!;
  const good = await writeConfig('rollback-ok.config.ts');
  const deployed = await runShip(deployArgs(good, 'v3', await fleet.artifact('v3')));
  await assertInvariants(fleet, deployed, { code: 0, configPath: good });

  // v1 is on every host (the release the fleet started with), but the canary cannot restart on it.
  const broken = await writeConfig('rollback-fails.config.ts', { [canary.name]: `${onlyFor(canary, BASELINE, 'exit 1')}; ${restartOf(canary)}` });
  const failed = await runShip(['rollback', '--config', broken, '--to', BASELINE, '--json']);
  await assertInvariants(fleet, failed, { code: 1, configPath: broken });
  const failure = assertFailureNotice(failed, { command: 'rollback', status: 'failed', code: 'SHIP-E014', version: BASELINE });
  assert.deepEqual(
    failure.failedHosts.map((h) => [h.host, h.outcome]),
    [[canary.name, 'rolled-back']],
  );
  await assertAllOn(fleet, 'v3');

  const rolledBack = await runShip(['rollback', '--config', good, '--to', BASELINE, '--json']);
  await assertInvariants(fleet, rolledBack, { code: 0, configPath: good });
  const success = noticeOf(rolledBack, 'success');
  assert.equal(success.command, 'rollback');
  assert.equal(success.app, FLEET_APP);
  assert.equal(success.status, 'succeeded');
  assert.equal(success.version, BASELINE);
  assert.equal(success.code, undefined, 'a success carries no error code');
  assert.deepEqual(success.failedHosts, []);
  assert.deepEqual(
    success.hosts,
    fleet.hosts.map((h) => h.name),
  );
  await assertAllOn(fleet, BASELINE);
});

test('run: a playbook whose step fails sends a failure notice; one that passes sends a success notice', async () => {
  const config = await writeConfig('run.config.ts');
  const failed = await runShip(['run', failingPlaybook, '--config', config, '--json']);
  await assertInvariants(fleet, failed, { code: 1, configPath: config });
  const failure = assertFailureNotice(failed, { command: 'run', status: 'failed', code: 'SHIP-E014' });
  assert.deepEqual(
    failure.failedHosts.map((h) => [h.host, h.outcome]),
    [['web1', 'rolled-back']],
  );
  assert.match(failure.failedHosts[0]!.error ?? '', /web1: activate step 'break'/);

  const passed = await runShip(['run', okPlaybook, '--config', config, '--json']);
  await assertInvariants(fleet, passed, { code: 0, configPath: config });
  const success = noticeOf(passed, 'success');
  assert.equal(success.command, 'run');
  assert.equal(success.app, FLEET_APP);
  assert.equal(success.status, 'succeeded');
  assert.deepEqual(
    success.hosts,
    fleet.hosts.map((h) => h.name),
  );
});

test('patch: a patch playbook whose step fails sends a failure notice', async () => {
  const config = await writeConfig('patch-fails.config.ts', {}, { playbooks: { patch: failingPlaybook } });
  const run = await runShip(['patch', '--config', config, '--json']);
  await assertInvariants(fleet, run, { code: 1, configPath: config });
  const notice = assertFailureNotice(run, { command: 'patch', status: 'failed', code: 'SHIP-E014' });
  assert.deepEqual(
    notice.failedHosts.map((h) => [h.host, h.outcome]),
    [['web1', 'rolled-back']],
  );
});

test('resume: continuing a deploy stopped by Ctrl-C, whose remaining host fails, sends a failure notice', async () => {
  const version = 'v4';
  const second = fleet.hosts[1]!;
  const config = await writeConfig('resume.config.ts', { [second.name]: `${onlyFor(second, version, 'exit 1')}; ${restartOf(second)}` });
  const child = startShip(deployArgs(config, version, await fleet.artifact(version)));
  let interrupted = false;
  watchEvents(child, (event) => {
    if (!interrupted && event.type === 'instance.state' && event.host === 'web1' && event.to === 'draining') interrupted = child.kill('SIGINT');
  });
  const stopped = await finished(child);
  assert.ok(interrupted, `the deploy never reached the canary's drain:\n${describeRun(stopped)}`);
  await assertInvariants(fleet, stopped, { code: 130, configPath: config });
  const abort = noticeOf(stopped, 'abort');
  assert.equal(abort.status, 'interrupted');
  assert.equal(abort.code?.code, 'SHIP-E030');

  const resumed = await runShip(['resume', '--config', config, '--json']);
  await assertInvariants(fleet, resumed, { code: 1, configPath: config });
  const started = resumed.events.find((e) => e.type === 'run.started');
  assert.ok(started && started.type === 'run.started', describeRun(resumed));
  // The canary was put back undeployed by the Ctrl-C: the resumption rolls it too.
  assert.deepEqual(
    started.hosts,
    fleet.hosts.map((h) => h.name),
  );
  assert.notEqual(runIdOf(resumed), runIdOf(stopped));
  const notice = assertFailureNotice(resumed, { command: 'deploy', status: 'failed', code: 'SHIP-E014', version });
  assert.deepEqual(
    notice.failedHosts.map((h) => [h.host, h.outcome]),
    [[second.name, 'rolled-back']],
  );
});

test('restore: a host that fails its health check stays out and sends a failure notice (SHIP-E015)', async () => {
  const out = fleet.hosts[2]!;
  const client = new RuntimeApiClient(parseRuntimeApi(fleet.runtimeApi));
  try {
    await client.runSilent(`disable server app/${out.name}`);
  } finally {
    await client.close();
  }
  // ship's own health check wants a body no release answers with.
  const config = await writeConfig(
    'restore.config.ts',
    {},
    { rollout: { healthyTimeout: '1s' }, health: { http: { port: 8080, path: '/', bodyMatch: '"version":"never"', successThreshold: 1, interval: '20ms', timeout: '1s' } } },
  );
  const run = await runShip(['restore', '--config', config, '--hosts', out.name, '--json']);
  await assertInvariants(fleet, run, { code: 1, configPath: config });
  assert.deepEqual(finishedEvent(run).summary.outOfRotation, [out.name]);
  assert.equal((await lbView(fleet)).get(out.name)?.adminOut, true, 'a host that failed its health check is not put back');
  const notice = assertFailureNotice(run, { command: 'restore', status: 'failed', code: 'SHIP-E015' });
  assert.deepEqual(notice.outOfRotation, [out.name]);
  assert.deepEqual(
    notice.failedHosts.map((h) => [h.host, h.outcome]),
    [[out.name, 'failed-out']],
  );
});

test('--lock-wait: patch, run and rollback wait for the deploy holding the lock, then roll (exit 0); without it each is refused (exit 3, SHIP-E012)', async () => {
  const canary = fleet.hosts[0]!;
  // The holder's canary restarts only once the test opens the gate: the lock is held until every other run has met it.
  const gate = join(fleet.dir, `gate-${randomInt(1e9)}`);
  const holding = await writeConfig('lock-holder.config.ts', {
    [canary.name]: `${onlyFor(canary, 'v5', `while [ ! -e ${quote(gate)} ]; do sleep 0.05; done`)}; ${restartOf(canary)}`,
  });
  const config = await writeConfig('lock-others.config.ts', {}, { playbooks: { patch: okPlaybook } });
  const commands: Record<string, string[]> = {
    patch: ['patch', '--config', config, '--json'],
    run: ['run', okPlaybook, '--config', config, '--json'],
    rollback: ['rollback', '--config', config, '--to', BASELINE, '--json'],
  };
  const names = Object.keys(commands);

  const holder = startShip(deployArgs(holding, 'v5', await fleet.artifact('v5')));
  let others: Promise<{ waited: ShipRun[]; refused: ShipRun[] }> | undefined;
  watchEvents(holder, (event) => {
    if (others || event.type !== 'preflight.check' || event.name !== 'lock' || event.status !== 'passed') return;
    const refused = names.map((name) => runShip(commands[name]!));
    const waiting = names.map((name) => {
      const child = startShip([...commands[name]!, '--lock-wait', '60s']);
      const warned = new Promise<void>((resolve) =>
        watchEvents(child, (e) => {
          if (e.type === 'warning' && e.message.startsWith('waiting for the deploy lock')) resolve();
        }),
      );
      const done = finished(child);
      // Met the lock: waiting for it, or (if --lock-wait were ignored) already ended.
      return { done, met: Promise.race([warned, done.then(() => undefined)]) };
    });
    others = (async () => {
      await Promise.all([...refused, ...waiting.map((w) => w.met)]);
      await writeFile(gate, '');
      return { refused: await Promise.all(refused), waited: await Promise.all(waiting.map((w) => w.done)) };
    })();
  });
  const held = await finished(holder);
  assert.ok(others, `the holder never took the lock:\n${describeRun(held)}`);
  const { refused, waited } = await others;
  await assertInvariants(fleet, held, { code: 0, configPath: holding });
  const holderRun = runIdOf(held);
  const holderEnd = Date.parse(finishedEvent(held).time);

  for (const [i, run] of refused.entries()) {
    await assertInvariants(fleet, run, { code: 3 });
    const { status, summary } = finishedEvent(run);
    assert.equal(status, 'refused', `${names[i]}: ${describeRun(run)}`);
    assert.equal(summary.code, 'SHIP-E012', `${names[i]}: ${describeRun(run)}`);
    assert.match(summary.error ?? '', new RegExp(`app demo is locked by root@[^:]+: 'deploy' \\(run ${holderRun}\\)`));
    assert.equal(
      run.events.some((e) => e.type === 'instance.state'),
      false,
      `${names[i]}: a refused run touches no instance`,
    );
    assertFailureNotice(run, { command: names[i]!, status: 'refused', code: 'SHIP-E012' });
  }

  const spans: Array<[string, number, number]> = [];
  for (const [i, run] of waited.entries()) {
    const name = names[i]!;
    assert.equal(run.code, 0, `${name} --lock-wait: ${describeRun(run)}`);
    assert.equal(finishedEvent(run).status, 'succeeded', `${name}: ${describeRun(run)}`);
    assert.ok(
      run.events.some((e) => e.type === 'warning' && e.message.startsWith('waiting for the deploy lock held by root@')),
      `${name} did not say it waited for the lock:\n${describeRun(run)}`,
    );
    const states = run.events.filter((e): e is Extract<ShipEvent, { type: 'instance.state' }> => e.type === 'instance.state');
    const firstDrain = states.find((e) => e.to === 'draining');
    assert.ok(firstDrain, `${name} never rolled:\n${describeRun(run)}`);
    assert.ok(Date.parse(firstDrain.time) >= holderEnd, `${name} took an instance out before the holder finished`);
    spans.push([name, Date.parse(firstDrain.time), Date.parse(finishedEvent(run).time)]);
  }
  // The three waiters took the lock in turn: never two of them rolling at once.
  spans.sort((a, b) => a[1] - b[1]);
  for (let i = 1; i < spans.length; i++) assert.ok(spans[i]![1] >= spans[i - 1]![2], `${spans[i]![0]} rolled while ${spans[i - 1]![0]} was still rolling`);
  await assertAllOn(fleet, BASELINE);
});

test('rollback --lock-wait without --to: releases that change while it waits make its choice stale, so it refuses (exit 3) rather than go back two releases', async () => {
  const plain = await writeConfig('rollback-stale.config.ts');
  const landed = await runShip(deployArgs(plain, 'v6', await fleet.artifact('v6')));
  assert.equal(landed.code, 0, describeRun(landed));
  // Every host is on v6 now, and the release before it (v1, or one an earlier test left) is what a rollback chooses. The run
  // holding the lock lands a v7 on every host once the test opens the gate, as a deploy would.
  const gate = join(fleet.dir, `gate-${randomInt(1e9)}`);
  const lands = join(fleet.dir, 'land-v7.ts');
  await writeFile(
    lands,
    [
      `import { definePlaybook, run, sh } from ${JSON.stringify(join(REPO_ROOT, 'src', 'index.js'))};`,
      `const gate = ${JSON.stringify(gate)};`,
      'export default definePlaybook({',
      "  name: 'land-v7',",
      '  activate: [',
      '    run((ctx) => {',
      '      const dir = String(ctx.vars.appDir);',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the text of a playbook file, whose own template this is
      '      return sh`while [ ! -e ${gate} ]; do sleep 0.05; done; cp -r ${`${dir}/releases/v6`} ${`${dir}/releases/v7`} && ln -sfn ${`${dir}/releases/v7`} ${`${dir}/current`}`;',
      "    }, { name: 'land v7' }),",
      '  ],',
      '});',
      '',
    ].join('\n'),
  );
  const holder = startShip(['run', lands, '--config', plain, '--json']);
  let rollback: Promise<ShipRun> | undefined;
  watchEvents(holder, (event) => {
    if (rollback || event.type !== 'preflight.check' || event.name !== 'lock' || event.status !== 'passed') return;
    const child = startShip(['rollback', '--config', plain, '--lock-wait', '60s', '--json']);
    const open = () => void writeFile(gate, '');
    watchEvents(child, (e) => {
      if (e.type === 'warning' && e.message.startsWith('waiting for the deploy lock')) open();
    });
    // Opened however the rollback ends, so a rollback that never waits fails the test instead of hanging the holder.
    rollback = finished(child).finally(open);
  });
  const held = await finished(holder);
  assert.equal(held.code, 0, describeRun(held));
  assert.ok(rollback, `the holder never took the lock:\n${describeRun(held)}`);
  const run = await rollback;
  await assertInvariants(fleet, run, { code: 3 });
  const { status, summary } = finishedEvent(run);
  assert.equal(status, 'refused');
  assert.match(summary.error ?? '', /releases changed while this rollback waited for the lock: it would now go back to v6, not v(?!6;)\d+;/);
  for (const host of fleet.hosts) assert.equal(await currentRelease(host), 'v7', `${host.name} must be left as the landed run left it`);
});
