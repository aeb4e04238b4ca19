/**
 * One app, two roles, one run, over real hosts: web1 and web2 behind a real HAProxy (drained and put
 * back, under load), web3 and web4 as workers that serve no traffic (no load balancer, a command
 * health check on the host). The roles roll in rollout.order, one after the other, under one lock
 * and one journal; a role that fails stops the ones after it; --roles limits a run.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startFleet, fleetConfig, type Fleet } from '../fleet/fleet.js';
import { startLoad } from '../fleet/loadgen.js';
import { RuntimeApiClient, parseRuntimeApi } from '../../src/lb/haproxy-runtime.js';
import type { ShipEvent } from '../../src/events.js';
import { sleep } from '../../src/util/deadline.js';
import { finished, runShip, startShip } from '../support/cli.js';
import { watchEvents } from '../support/fleet-assertions.js';

let fleet: Fleet;

before(async () => {
  // Each host's sessions know its app's folder, so one command check serves every worker.
  // With the workers in maintenance one web server serves alone while the other deploys: HAProxy's
  // checks tolerate a slow answer or two (fall 3), so a busy machine does not fake a DOWN.
  fleet = await startFleet({ hosts: 4, sshEnv: ({ hostDir }) => ({ APP_DIR: join(hostDir, 'app') }), check: { inter: '200ms', fall: 3, rise: 2 } });
  // The workers take no traffic: HAProxy keeps them in maintenance for the whole file.
  const haproxy = new RuntimeApiClient(parseRuntimeApi(fleet.runtimeApi));
  for (const worker of ['web3', 'web4']) await haproxy.runSilent(`set server app/${worker} state maint`);
});
after(async () => {
  await fleet?.stop();
});

/** The fleet's config with its hosts split into a web role (behind HAProxy) and a workers role (none). */
async function writeRolesConfig(
  name: string,
  overrides: { web?: Record<string, unknown>; workers?: Record<string, unknown>; order?: string[]; rollout?: Record<string, unknown> } = {},
): Promise<string> {
  const { hosts, ...app } = fleetConfig(fleet);
  const config = {
    ...app,
    rollout: { ...app.rollout, ...overrides.rollout, ...(overrides.order ? { order: overrides.order } : {}) },
    roles: {
      web: { hosts: hosts.slice(0, 2), ...overrides.web },
      workers: {
        hosts: hosts.slice(2),
        loadBalancer: { type: 'none' },
        health: { command: { run: 'kill -0 "$(cat "$APP_DIR/app.pid")"', successThreshold: 1, interval: '50ms', timeout: '5s' } },
        ...overrides.workers,
      },
    },
  };
  const path = join(fleet.dir, name);
  await writeFile(path, `export default ${JSON.stringify(config, null, 2)};\n`);
  return path;
}

async function versionOf(url: string): Promise<string> {
  return ((await (await fetch(url)).json()) as { version: string }).version;
}

function finishedHosts(events: ShipEvent[]): string[] {
  return events.flatMap((e) => (e.type === 'instance.finished' ? [e.host] : []));
}

function summaryOf(events: ShipEvent[]) {
  const finished = events.find((e) => e.type === 'run.finished');
  assert.ok(finished && finished.type === 'run.finished', 'the run finished');
  return finished;
}

test('ship plan shows each role in rollout order with its own load balancer procedure; nothing changes', async () => {
  const config = await writeRolesConfig('plan.config.ts', { order: ['workers', 'web'] });
  const artifact = await fleet.artifact('v2');
  const json = await runShip(['plan', '--config', config, '--version', 'v2', '--artifact', artifact, '--json']);
  assert.equal(json.code, 0, json.stderr);
  const started = json.events.find((e) => e.type === 'run.started');
  assert.ok(started && started.type === 'run.started');
  assert.deepEqual(started.roles, { workers: ['web3', 'web4'], web: ['web1', 'web2'] });
  assert.deepEqual(
    json.events.flatMap((e) => (e.type === 'plan' ? [e.role] : [])),
    ['workers', 'web'],
  );
  const plain = await runShip(['plan', '--config', config, '--version', 'v2', '--artifact', artifact]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stdout, /roles in order: workers, web/);
  assert.ok(plain.stdout.indexOf('role workers: playbook deploy-release') < plain.stdout.indexOf('role web: playbook deploy-release'), plain.stdout);
  for (const host of fleet.hosts) assert.equal(await versionOf(host.appUrl), 'v1', `${host.name} was changed by a plan`);
});

test('ship deploy rolls web under load with zero failed requests, then quiets and restarts the workers, in one run', async () => {
  // The workers are told to stop taking work (a marker their idle check reads) before they restart.
  const quiet = { command: 'date +%s%N > "$APP_DIR/quieted"', idleCommand: 'test -s "$APP_DIR/quieted"', wait: '20s' };
  // A short bake after each batch: each role's batches are judged, and the journal tells them apart.
  const config = await writeRolesConfig('deploy.config.ts', { workers: { quiet }, rollout: { bake: '200ms' } });
  const artifact = await fleet.artifact('v2');
  const load = await startLoad({ url: fleet.frontendUrl, rps: 300, durationMs: 120_000 });
  await sleep(300);
  const run = await runShip(['deploy', '--config', config, '--version', 'v2', '--artifact', artifact, '--json']);
  await sleep(300);
  const tally = await load.stop();
  assert.equal(run.code, 0, `ship deploy failed:\n${run.stderr}\n${run.stdout.slice(-3000)}`);
  for (const host of fleet.hosts) assert.equal(await versionOf(host.appUrl), 'v2', `${host.name} does not serve v2`);
  assert.equal(tally.failed, 0, `failed requests: ${JSON.stringify({ byStatus: tally.byStatus, errors: tally.errors, first: tally.firstFailures })}`);
  assert.ok(tally.keepAlive.ok + tally.fresh.ok > 100, `too little load to mean anything: ${JSON.stringify(tally)}`);

  // Web first, then the workers: every web host finished before any worker left.
  const finished = finishedHosts(run.events);
  assert.deepEqual(finished.slice(0, 2).sort(), ['web1', 'web2']);
  assert.deepEqual(finished.slice(2).sort(), ['web3', 'web4']);
  const batches = run.events.flatMap((e) => (e.type === 'batch.started' ? [`${e.role}:${e.hosts.join('+')}`] : []));
  assert.ok(
    batches.every((b, i) => i === 0 || !(b.startsWith('web:') && batches[i - 1]!.startsWith('workers:'))),
    `web batches came after a workers batch: ${batches.join(', ')}`,
  );
  // Each worker: quieted first in activate, the wait ended by its idle check (not the 20 s), then restarted.
  for (const worker of ['web3', 'web4']) {
    const steps = run.events.flatMap((e) => (e.type === 'step.finished' && e.host === worker && e.phase === 'activate' ? [e] : []));
    assert.deepEqual(
      steps.map((e) => e.step),
      ['quiet: run quiet.command', 'quiet: wait until idle (up to 20s)', 'switch current', 'restart'],
    );
    assert.ok(steps.every((e) => e.ok));
    assert.ok(steps[1]!.durationMs < 5_000, `the idle check should end the wait at once, it took ${steps[1]!.durationMs} ms`);
  }
  const webDone = Math.max(...['web1', 'web2'].map((web) => run.events.findIndex((e) => e.type === 'instance.finished' && e.host === web)));
  const firstQuiet = run.events.findIndex((e) => e.type === 'step.started' && e.step.startsWith('quiet:'));
  assert.ok(webDone >= 0 && firstQuiet > webDone, 'the workers are quieted only after the web role finished');
  // One run: one run.started, one lock, one outcome for all four hosts.
  assert.equal(run.events.filter((e) => e.type === 'run.started').length, 1);
  const outcome = summaryOf(run.events);
  assert.equal(outcome.status, 'succeeded');
  assert.deepEqual(outcome.summary.hosts.map((h) => `${h.host}:${h.outcome}`).sort(), ['web1:deployed', 'web2:deployed', 'web3:deployed', 'web4:deployed']);
  // Pre-flight checked each role's own load balancer.
  const checks = run.events.flatMap((e) => (e.type === 'preflight.check' ? [e.name] : []));
  assert.ok(checks.includes('load balancer (web)') && checks.includes('load balancer (workers)'), checks.join(', '));

  const status = await runShip(['status', '--config', config]);
  assert.match(status.stdout, /web3 \(workers\)/);
  assert.match(status.stdout, /web: batch 1 \(canary\): /);
  assert.match(status.stdout, /workers: batch 1 \(canary\): /);
  const releases = await runShip(['releases', '--config', config, '--roles', 'workers']);
  assert.equal(releases.code, 0, releases.stderr);
  assert.match(releases.stdout, /web3 \(workers\)\s+current v2/);
  assert.doesNotMatch(releases.stdout, /web1/);
});

test('a role that fails stops the roles after it: the workers are not touched', async () => {
  // A host's own vars win over its role's: the web hosts get a restart that fails.
  const { hosts } = fleetConfig(fleet);
  const broken = hosts.slice(0, 2).map((host) => ({ ...host, vars: { ...(host.vars as Record<string, unknown>), restart: 'echo the new release does not start >&2; exit 1' } }));
  const config = await writeRolesConfig('failing.config.ts', { web: { hosts: broken } });
  const artifact = await fleet.artifact('v3');
  const run = await runShip(['deploy', '--config', config, '--version', 'v3', '--artifact', artifact, '--json']);
  assert.equal(run.code, 1, `expected the rollout to fail:\n${run.stderr}`);
  const outcome = summaryOf(run.events);
  assert.equal(outcome.status, 'failed');
  assert.match(outcome.summary.error ?? '', /^role web: rollout stopped: the canary failed/);
  const byHost = new Map(outcome.summary.hosts.map((h) => [h.host, h.outcome]));
  assert.equal(byHost.get('web3'), 'not-started');
  assert.equal(byHost.get('web4'), 'not-started');
  assert.ok(!finishedHosts(run.events).some((h) => h === 'web3' || h === 'web4'), 'no worker was rolled');
  for (const worker of fleet.hosts.slice(2)) assert.equal(await versionOf(worker.appUrl), 'v2', `${worker.name} was changed`);
});

test('a role whose plan breaches its capacity floor is refused in the pre-flight, before any role rolls', async () => {
  const { hosts } = fleetConfig(fleet);
  const config = await writeRolesConfig('floor.config.ts', { workers: { hosts: hosts.slice(2, 3) } });
  const run = await runShip(['deploy', '--config', config, '--version', 'v9', '--artifact', await fleet.artifact('v9'), '--json']);
  assert.equal(run.code, 3, run.stderr);
  const failed = run.events.find((e) => e.type === 'preflight.check' && e.status === 'failed');
  assert.ok(failed && failed.type === 'preflight.check');
  assert.equal(failed.name, 'capacity plan (workers)');
  assert.match(failed.detail, /^workers: taking out 1 of 1 instance\(s\) \(web3\).*rollout\.minHealthy: 0 lets every instance restart/);
  assert.ok(!run.events.some((e) => e.type === 'instance.state'), 'no instance moved');
});

test('--roles workers rolls only the workers, and --hosts may name a host of any role', async () => {
  const config = await writeRolesConfig('workers.config.ts');
  const artifact = await fleet.artifact('v4');
  const run = await runShip(['deploy', '--config', config, '--version', 'v4', '--artifact', artifact, '--roles', 'workers', '--json']);
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(finishedHosts(run.events).sort(), ['web3', 'web4']);
  for (const host of fleet.hosts) assert.equal(await versionOf(host.appUrl), host.name === 'web3' || host.name === 'web4' ? 'v4' : 'v2', host.name);

  const one = await runShip(['deploy', '--config', config, '--version', 'v4', '--artifact', artifact, '--hosts', 'web1', '--json']);
  assert.equal(one.code, 0, one.stderr);
  assert.deepEqual(finishedHosts(one.events), ['web1']);

  const unknown = await runShip(['deploy', '--config', config, '--version', 'v4', '--artifact', artifact, '--roles', 'cron']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /--roles: no role cron in app demo; its roles are web, workers/);
});

test('a Ctrl-C in the web role stops before the workers; ship resume rolls the rest of web, then the workers', async () => {
  const { hosts } = fleetConfig(fleet);
  // A slow restart, so the Ctrl-C lands while the canary is activating.
  const slow = hosts
    .slice(0, 2)
    .map((host) => ({ ...host, vars: { ...(host.vars as Record<string, unknown>), restart: `sleep 1; ${(host.vars as { restart: string }).restart}` } }));
  const config = await writeRolesConfig('resume.config.ts', { web: { hosts: slow } });
  const artifact = await fleet.artifact('v5');
  const child = startShip(['deploy', '--config', config, '--version', 'v5', '--artifact', artifact, '--json']);
  let interrupted = false;
  watchEvents(child, (event) => {
    if (!interrupted && event.type === 'instance.state' && event.host === 'web1' && event.to === 'activating') {
      interrupted = true;
      child.kill('SIGINT');
    }
  });
  const run = await finished(child);
  assert.ok(interrupted, 'the run never reached activation');
  assert.equal(run.code, 130, run.stderr);
  const stopped = summaryOf(run.events);
  assert.equal(stopped.status, 'interrupted');
  assert.deepEqual(
    stopped.summary.hosts.map((h) => `${h.host}:${h.outcome}`),
    ['web1:deployed', 'web2:not-started', 'web3:not-started', 'web4:not-started'],
  );

  const resumed = await runShip(['resume', '--config', config, '--json']);
  assert.equal(resumed.code, 0, `${resumed.stderr}\n${resumed.stdout.slice(-2000)}`);
  assert.equal(finishedHosts(resumed.events)[0], 'web2', 'the rest of web first');
  assert.deepEqual(finishedHosts(resumed.events).slice(1).sort(), ['web3', 'web4']);
  assert.deepEqual(
    resumed.events.flatMap((e) => (e.type === 'plan' ? [e.role] : [])),
    ['web', 'workers'],
  );
  for (const host of fleet.hosts) assert.equal(await versionOf(host.appUrl), 'v5', host.name);
});
