/**
 * `quiet` for real, over SSH on hosts of the test fleet with no load balancer: each host runs a
 * small worker (a shell script) that, on TSTP, writes a `quiet` marker, finishes its "job" and
 * then writes `idle`. `ship deploy` must signal the worker through its pid file, end the wait as
 * soon as idleCommand passes (not after the whole `wait`), and only then restart it. Also: a
 * worker that never reports idle is restarted when `wait` passes, said on stderr; a worker that
 * is not running has nothing to quiet and is rolled anyway.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sleep } from '../../src/util/deadline.js';
import { fleetConfig, startFleet, type Fleet, type FleetHost } from '../fleet/fleet.js';
import { runShip, type ShipRun } from '../support/cli.js';
import { describeRun, finishedEvent } from '../support/fleet-assertions.js';

/** The time a quieted worker takes to finish the job it has before it is idle. */
const JOB_MS = 2_000;

// On TSTP: stop taking work (the `quiet` marker), finish the running job, then say so (`idle`).
const WORKER = `#!/bin/sh
echo $$ > "$HOME/worker.pid"
trap 'date +%s%3N > "$HOME/quiet"; (sleep ${JOB_MS / 1000}; date +%s%3N > "$HOME/idle") &' TSTP
trap 'exit 0' TERM
while :; do sleep 0.1; done
`;

// The config's restart: stop the old worker, record when and the markers it left, start a new one.
const RESTART = `#!/bin/sh
old=$(cat "$HOME/worker.pid" 2>/dev/null)
date +%s%3N >> "$HOME/restarts"
rm -f "$HOME/quiet.seen" "$HOME/idle.seen"
for f in quiet idle; do if [ -f "$HOME/$f" ]; then mv -f "$HOME/$f" "$HOME/$f.seen"; fi; done
if [ -n "$old" ]; then kill -TERM "$old" 2>/dev/null; i=0; while kill -0 "$old" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done; fi
setsid sh "$HOME/worker.sh" >/dev/null 2>&1 < /dev/null &
`;

let fleet: Fleet;
const home = (host: FleetHost) => join(fleet.dir, 'hosts', host.name, 'home');
const read = (host: FleetHost, file: string) => readFile(join(home(host), file), 'utf8').then((text) => text.trim());

async function startWorker(host: FleetHost): Promise<void> {
  await rm(join(home(host), 'worker.pid'), { force: true });
  spawn('setsid', ['sh', join(home(host), 'worker.sh')], { env: { ...process.env, HOME: home(host) }, detached: true, stdio: 'ignore' }).unref();
  for (let i = 0; i < 50 && !existsSync(join(home(host), 'worker.pid')); i++) await sleep(50);
}

async function stopWorker(host: FleetHost): Promise<void> {
  const pid = Number(await read(host, 'worker.pid').catch(() => '0'));
  if (pid > 0) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
}

async function writeConfig(quiet: Record<string, unknown>): Promise<string> {
  const base = fleetConfig(fleet, {
    hosts: fleet.hosts.map((h) => ({ name: h.name, address: h.address, vars: { appDir: h.appDir, restart: 'sh "$HOME/restart-worker.sh"' } })),
    health: { command: { run: 'kill -0 "$(cat "$HOME/worker.pid")"', successThreshold: 1, interval: '100ms', timeout: '2s' } },
  });
  const path = join(fleet.dir, 'quiet.config.ts');
  await writeFile(path, `export default ${JSON.stringify({ ...base, loadBalancer: { type: 'none' }, quiet }, null, 2)};\n`);
  return path;
}

async function deploy(config: string, version: string): Promise<ShipRun> {
  return runShip(['deploy', '--config', config, '--version', version, '--artifact', await fleet.artifact(version), '--json']);
}

const outputOf = (run: ShipRun, host: string) => run.events.flatMap((e) => (e.type === 'output' && e.host === host ? [`${e.stream}: ${e.line}`] : []));
const stepOf = (run: ShipRun, host: string, step: string) => run.events.find((e) => e.type === 'step.finished' && e.host === host && e.step.startsWith(step));

before(async () => {
  fleet = await startFleet({ hosts: 2 });
  for (const host of fleet.hosts) {
    await mkdir(home(host), { recursive: true });
    await writeFile(join(home(host), 'worker.sh'), WORKER);
    await writeFile(join(home(host), 'restart-worker.sh'), RESTART);
    await startWorker(host);
  }
});

after(async () => {
  if (fleet) await Promise.all(fleet.hosts.map(stopWorker));
  await fleet?.stop();
});

test('ship deploy quiets each worker through its pid file: signal, wait until idle (not the whole wait), then restart', async () => {
  const config = await writeConfig({ signal: 'SIGTSTP', wait: '30s', pidFile: '~/worker.pid', idleCommand: 'test -f "$HOME/idle"' });
  const before = new Map(await Promise.all(fleet.hosts.map(async (h) => [h.name, await read(h, 'worker.pid')] as const)));
  const run = await deploy(config, 'v2');
  assert.equal(run.code, 0, describeRun(run));

  const plan = run.events.find((e) => e.type === 'plan');
  assert.ok(plan && plan.type === 'plan');
  assert.deepEqual(plan.phases.activate, ['quiet: send TSTP to the pid in ~/worker.pid', 'quiet: wait until idle (up to 30s)', 'switch current', 'restart']);

  for (const host of fleet.hosts) {
    const output = outputOf(run, host.name);
    assert.ok(output.includes(`stdout: ship: quiet: sent TSTP to process ${before.get(host.name)}`), output.join('\n'));
    assert.ok(
      output.some((line) => /^stdout: ship: quiet: idle after \d+s$/.test(line)),
      output.join('\n'),
    );
    const wait = stepOf(run, host.name, 'quiet: wait');
    assert.ok(wait && wait.type === 'step.finished' && wait.ok);
    assert.ok(wait.durationMs >= JOB_MS - 200, `the wait ended before the worker was idle: ${wait.durationMs} ms`);
    assert.ok(wait.durationMs < 10_000, `the wait did not end when idleCommand passed: ${wait.durationMs} ms`);
    // The worker got the signal, became idle, and only then was restarted.
    const [quietAt, idleAt, restartedAt] = [await read(host, 'quiet.seen'), await read(host, 'idle.seen'), (await read(host, 'restarts')).split('\n').at(-1)].map(Number);
    assert.ok(quietAt! > 0 && quietAt! < idleAt! && idleAt! <= restartedAt!, `${host.name}: quiet ${quietAt}, idle ${idleAt}, restart ${restartedAt}`);
    const steps = run.events.filter((e) => e.type === 'step.finished' && e.host === host.name && e.phase === 'activate').map((e) => e.type === 'step.finished' && e.step);
    assert.deepEqual(steps, ['quiet: send TSTP to the pid in ~/worker.pid', 'quiet: wait until idle (up to 30s)', 'switch current', 'restart']);
    const after = await read(host, 'worker.pid');
    assert.notEqual(after, before.get(host.name), `${host.name}: the worker was not restarted`);
  }
  assert.deepEqual(
    finishedEvent(run).summary.hosts.map((h) => [h.host, h.outcome]),
    fleet.hosts.map((h) => [h.name, 'deployed']),
  );
});

test('a worker that never reports idle is restarted when wait passes, and the output says so on stderr', async () => {
  const config = await writeConfig({ wait: '2s', pidFile: '~/worker.pid', idleCommand: 'echo "3 jobs running"; exit 1' });
  const run = await deploy(config, 'v3');
  assert.equal(run.code, 0, describeRun(run));
  for (const host of fleet.hosts) {
    const output = outputOf(run, host.name);
    const notIdle = output.indexOf("stderr: ship: quiet: not idle after 2s; restarting anyway (the app's own shutdown handles the jobs still running)");
    assert.ok(notIdle >= 0, output.join('\n'));
    assert.deepEqual(output.slice(notIdle + 1, notIdle + 3), ['stderr: ship: quiet: idleCommand last said:', 'stderr: 3 jobs running']);
    const wait = stepOf(run, host.name, 'quiet: wait');
    assert.ok(wait && wait.type === 'step.finished' && wait.ok && wait.durationMs >= 1_500, JSON.stringify(wait));
    assert.ok(existsSync(join(home(host), 'quiet.seen')), `${host.name}: the worker was signalled before the restart`);
  }
});

test('a worker that is not running has nothing to quiet: said, no wait, and it is rolled (started by the restart)', async () => {
  const [web1] = fleet.hosts;
  await stopWorker(web1!);
  for (let i = 0; i < 50 && (await read(web1!, 'worker.pid').then((pid) => existsSync(`/proc/${pid}`))); i++) await sleep(50);
  const config = await writeConfig({ wait: '30s', pidFile: '~/worker.pid', idleCommand: 'test -f "$HOME/idle"' });
  const run = await deploy(config, 'v4');
  assert.equal(run.code, 0, describeRun(run));
  const output = outputOf(run, 'web1');
  assert.ok(
    output.some((line) => /^stdout: ship: quiet: process \d+ from ~\/worker\.pid is not running: nothing to quiet$/.test(line)),
    output.join('\n'),
  );
  assert.ok(output.includes('stdout: ship: quiet: the worker is not running: nothing to wait for'), output.join('\n'));
  const wait = stepOf(run, 'web1', 'quiet: wait');
  assert.ok(wait && wait.type === 'step.finished' && wait.ok && wait.durationMs < 5_000, JSON.stringify(wait));
  assert.equal(finishedEvent(run).summary.hosts.find((h) => h.host === 'web1')?.outcome, 'deployed');
});
