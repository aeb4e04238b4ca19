/**
 * `ship patch` end to end: the real apt-get and dpkg upgrade real .deb packages inside a throwaway
 * system root per host (test/fleet/patch-host/), over each host's real sshd, behind real HAProxy.
 * The repository holds each test package at an old and a new version; the new ship-test-lib sets
 * the reboot-required flag, the new ship-test-broken fails to configure. Reboots are simulated by
 * stopping the host's sshd and app and starting them again with a new boot id.
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { execa, type ResultPromise } from 'execa';
import { existsSync } from 'node:fs';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startFleet, fleetConfig, type Fleet, type FleetHost } from '../fleet/fleet.js';
import { startLoad } from '../fleet/loadgen.js';
import { buildRepository, PACKAGES, type Repository } from '../fleet/patch-host/repository.js';
import { makeSystemRoot, type SystemRoot } from '../fleet/patch-host/system-root.js';
import { rebootable, type RebootableHost } from '../fleet/patch-host/reboot.js';
import { everyHostBackInService, inService } from '../fleet/patch-host/load-balancer.js';
import type { PatchReport } from '../../src/patch/report.js';
import type { ShipEvent } from '../../src/events.js';
import { sleep } from '../../src/util/deadline.js';
import { runShip } from '../support/cli.js';

type Installed = Array<{ name: string; version: string }>;

let fleet: Fleet;
let repository: Repository;
const roots = new Map<string, SystemRoot>();
const hosts = new Map<string, RebootableHost>();

const rootDir = (host: FleetHost) => join(fleet.dir, 'hosts', host.name, 'root');
const host = (name: string) => fleet.hosts.find((h) => h.name === name)!;

before(async () => {
  fleet = await startFleet({ hosts: 4 });
  repository = await buildRepository(join(fleet.dir, 'repo'));
  for (const h of fleet.hosts) hosts.set(h.name, await rebootable(fleet, h, [join(rootDir(h), 'var/run/reboot-required')]));
});
after(async () => {
  for (const h of hosts.values()) await h.dispose();
  await fleet?.stop();
});

/** Every host up, with its ordinary sshd, and back in the load balancer, whatever the last test did. */
beforeEach(async () => {
  await everyHostBackInService(fleet, hosts.values());
  for (const h of hosts.values()) h.behave({ downMs: 500, comesBack: true });
});

/** Fresh roots with these packages installed (hosts not named get an empty root: nothing to patch). */
async function install(installed: Record<string, Installed>): Promise<void> {
  for (const h of fleet.hosts) roots.set(h.name, await makeSystemRoot(rootDir(h), repository, installed[h.name] ?? []));
}

const oldVersion = (pkg: keyof typeof PACKAGES) => ({ name: PACKAGES[pkg].name, version: PACKAGES[pkg].old });
const newVersion = (pkg: keyof typeof PACKAGES) => ({ name: PACKAGES[pkg].name, version: PACKAGES[pkg].new });

function hostEntries(names = fleet.hosts.map((h) => h.name)) {
  return names.map((name) => {
    const h = host(name);
    return {
      name,
      address: h.address,
      vars: { appDir: h.appDir, restart: `sh ${h.appDir}/restart.sh ${h.appDir}`, systemRoot: rootDir(h), ...hosts.get(name)!.vars },
    };
  });
}

async function writeConfig(extra: Record<string, unknown> = {}, name = 'patch.config.ts'): Promise<string> {
  const config = { ...fleetConfig(fleet, { hosts: hostEntries(), vars: { aptLockTimeout: '2s', rebootTimeout: '15s' } }), ...extra };
  const path = join(fleet.dir, name);
  await writeFile(path, `export default ${JSON.stringify(config, null, 2)};\n`);
  return path;
}

async function readReport(path: string): Promise<PatchReport> {
  return JSON.parse(await readFile(path, 'utf8')) as PatchReport;
}

function finishedEvent(events: ShipEvent[]) {
  const finished = events.find((e) => e.type === 'run.finished');
  assert.ok(finished && finished.type === 'run.finished', 'no run.finished event');
  return finished;
}

const leftTheLb = (events: ShipEvent[], name: string) => events.some((e) => e.type === 'instance.state' && e.host === name);

test('patch under load: an up-to-date host is skipped in service, one upgrades without a reboot, two reboot and come back; zero failed requests', async () => {
  await install({
    web1: [newVersion('tool')],
    web2: [oldVersion('tool')],
    web3: [oldVersion('lib')],
    web4: [oldVersion('tool'), oldVersion('lib')],
  });
  const config = await writeConfig();
  const reportPath = join(fleet.dir, 'report-main.json');
  const bootIds = { web3: await hosts.get('web3')!.bootId(), web4: await hosts.get('web4')!.bootId() };
  const load = await startLoad({ url: fleet.frontendUrl, rps: 200, durationMs: 120_000 });
  await sleep(300);
  const run = await runShip(['patch', '--config', config, '--report', reportPath, '--json']);
  await sleep(300);
  const tally = await load.stop();

  assert.equal(run.code, 0, `ship patch failed:\n${run.stderr}\n${run.stdout.slice(-4000)}`);
  assert.equal(tally.failed, 0, `failed requests during the patch run: ${JSON.stringify({ byStatus: tally.byStatus, errors: tally.errors, first: tally.firstFailures })}`);
  assert.ok(tally.ok > 200, `too little load to mean anything: ${JSON.stringify(tally)}`);

  // web1 had nothing to do: it never left the load balancer.
  assert.equal(leftTheLb(run.events, 'web1'), false, 'web1 must never leave the load balancer');
  // The packages were downloaded while the hosts served (stage), into each root's own cache.
  assert.ok(existsSync(join(rootDir(host('web2')), 'var/cache/apt/archives', `${PACKAGES.tool.name}_${PACKAGES.tool.new}_all.deb`)));

  assert.equal(await roots.get('web2')!.installedVersion(PACKAGES.tool.name), PACKAGES.tool.new);
  assert.equal(await roots.get('web3')!.installedVersion(PACKAGES.lib.name), PACKAGES.lib.new);
  assert.equal(await roots.get('web4')!.installedVersion(PACKAGES.tool.name), PACKAGES.tool.new);
  assert.equal(await roots.get('web4')!.installedVersion(PACKAGES.lib.name), PACKAGES.lib.new);
  assert.equal(hosts.get('web2')!.reboots(), 0, 'no reboot where none was required');
  assert.equal(hosts.get('web3')!.reboots(), 1);
  assert.equal(hosts.get('web4')!.reboots(), 1);
  assert.notEqual(await hosts.get('web3')!.bootId(), bootIds.web3);
  assert.deepEqual(await inService(fleet), { web1: true, web2: true, web3: true, web4: true });

  let out = 0;
  let maxOut = 0;
  for (const event of run.events) {
    if (event.type !== 'instance.state') continue;
    if (event.from === 'in-service') out++;
    if (event.to === 'in-service') out--;
    maxOut = Math.max(maxOut, out);
  }
  assert.equal(maxOut, 1, 'one instance out at a time');

  const report = await readReport(reportPath);
  assert.equal(report.status, 'succeeded');
  assert.deepEqual(report.failedHosts, []);
  assert.equal(report.apps.length, 1);
  const byHost = Object.fromEntries(report.apps[0]!.hosts.map((h) => [h.host, h]));
  assert.equal(byHost.web1!.outcome, 'skipped');
  assert.deepEqual(byHost.web1!.upgraded, []);
  assert.match(byHost.web1!.error ?? '', /no pending security updates/);
  assert.equal(byHost.web2!.outcome, 'deployed');
  assert.equal(byHost.web2!.packageManager, 'apt');
  assert.deepEqual(byHost.web2!.upgraded, [{ name: PACKAGES.tool.name, from: PACKAGES.tool.old, to: PACKAGES.tool.new }]);
  assert.equal(byHost.web2!.rebooted, false);
  assert.equal(byHost.web2!.rebootRequired, false);
  assert.deepEqual(byHost.web3!.upgraded, [{ name: PACKAGES.lib.name, from: PACKAGES.lib.old, to: PACKAGES.lib.new }]);
  assert.equal(byHost.web3!.rebooted, true);
  assert.ok((byHost.web3!.durations.rebootMs ?? 0) >= 500, `the reboot took the simulated 500 ms at least: ${JSON.stringify(byHost.web3!.durations)}`);
  assert.deepEqual(byHost.web4!.upgraded.map((p) => p.name).sort(), [PACKAGES.lib.name, PACKAGES.tool.name].sort());
  for (const name of ['web2', 'web3', 'web4']) {
    const d = byHost[name]!.durations;
    assert.ok(d.outOfRotationMs > 0 && d.timeToHealthyMs > 0 && (d.installMs ?? 0) > 0 && (d.stageMs ?? 0) > 0, `${name} durations: ${JSON.stringify(d)}`);
  }
  const finished = finishedEvent(run.events);
  assert.equal(finished.status, 'succeeded');
});

test('a reboot that never returns: the host is left out of the load balancer, reported, the run stops, exit 1', async () => {
  await install({ web1: [oldVersion('tool')], web2: [oldVersion('lib')], web3: [oldVersion('tool')] });
  hosts.get('web2')!.behave({ downMs: 0, comesBack: false });
  const config = await writeConfig();
  const reportPath = join(fleet.dir, 'report-never.json');
  const run = await runShip(['patch', '--config', config, '--report', reportPath, '--var', 'rebootTimeout=3s']);

  assert.equal(run.code, 1, run.stdout.slice(-3000));
  assert.match(run.stdout, /web2: activate step 'reboot' failed: the host did not come back with a new boot id within 3\.00s \(last seen: unreachable/);
  assert.match(run.stdout, /STILL OUT OF THE LOAD BALANCER: web2/);
  assert.match(run.stdout, /reboot required, NOT completed/);
  const lb = await inService(fleet);
  assert.equal(lb.web2, false, 'web2 is left out');
  assert.equal(lb.web1 && lb.web3 && lb.web4, true);
  assert.equal(await roots.get('web3')!.installedVersion(PACKAGES.tool.name), PACKAGES.tool.old, 'the run stopped before web3');

  const report = await readReport(reportPath);
  assert.equal(report.status, 'failed');
  assert.deepEqual(report.failedHosts, ['demo/web2']);
  const web2 = report.apps[0]!.hosts.find((h) => h.host === 'web2')!;
  assert.equal(web2.outcome, 'failed-out');
  assert.equal(web2.rebootRequired, true);
  assert.equal(web2.rebooted, false);
  assert.deepEqual(web2.upgraded, [{ name: PACKAGES.lib.name, from: PACKAGES.lib.old, to: PACKAGES.lib.new }]);
  assert.equal(report.apps[0]!.hosts.find((h) => h.host === 'web3')!.outcome, 'not-started');
  assert.deepEqual(report.apps[0]!.outOfRotation, ['web2']);
});

test('an apt lock held by another apt-get: bounded wait, then a clear error naming the host and the holder, before any host leaves', async () => {
  await install({ web1: [oldVersion('tool')], web2: [oldVersion('tool')] });
  const holder = await holdAptLock(roots.get('web2')!);
  try {
    const config = await writeConfig();
    const started = Date.now();
    const run = await runShip(['patch', '--config', config, '--json']);
    const finished = finishedEvent(run.events);
    assert.equal(run.code, 1);
    assert.equal(finished.status, 'failed');
    assert.match(finished.summary.error ?? '', /stage failed before any instance left the load balancer/);
    assert.match(finished.summary.error ?? '', /web2: stage step '[^']+' exited with code 100/);
    assert.match(finished.summary.error ?? '', /Unable to acquire the dpkg frontend lock/);
    assert.match(finished.summary.error ?? '', /another package manager run holds the dpkg lock \S+lock-frontend: process \d+ \(apt-get\); waited 2s/);
    assert.ok(Date.now() - started >= 2000, 'apt waited for the lock (aptLockTimeout 2s) before giving up');
    assert.equal(
      run.events.some((e) => e.type === 'instance.state'),
      false,
      'no host left the load balancer',
    );
    assert.equal(await roots.get('web1')!.installedVersion(PACKAGES.tool.name), PACKAGES.tool.old);
  } finally {
    await holder.release();
  }
});

test('a package that fails to configure: the host is left out and reported, since upgrades are never undone', async () => {
  await install({ web1: [oldVersion('tool')], web2: [oldVersion('broken')], web3: [oldVersion('tool')] });
  const config = await writeConfig();
  const reportPath = join(fleet.dir, 'report-broken.json');
  const run = await runShip(['patch', '--config', config, '--report', reportPath, '--json']);
  assert.equal(run.code, 1);
  const finished = finishedEvent(run.events);
  const web2 = finished.summary.hosts.find((h) => h.host === 'web2')!;
  assert.equal(web2.outcome, 'failed-out');
  assert.match(web2.error ?? '', /web2: activate step 'install updates' exited with code 100/);
  assert.match(web2.error ?? '', /ship-test-broken: cannot migrate its data/);
  assert.match(web2.error ?? '', /upgrades are never undone: the host stays out of the load balancer/);
  assert.match(web2.error ?? '', /ship-test-broken/);
  assert.deepEqual(finished.summary.outOfRotation, ['web2']);
  assert.equal((await inService(fleet)).web2, false);
  assert.equal(await roots.get('web1')!.installedVersion(PACKAGES.tool.name), PACKAGES.tool.new, 'the canary was patched');
  assert.equal(await roots.get('web3')!.installedVersion(PACKAGES.tool.name), PACKAGES.tool.old, 'the run stopped');
  const report = await readReport(reportPath);
  assert.deepEqual(report.failedHosts, ['demo/web2']);
});

test('an unknown package manager: a clear error naming the host, before any host leaves', async () => {
  await install({ web2: [oldVersion('tool')], web3: [oldVersion('tool')] });
  const web3 = hosts.get('web3')!;
  // A host with a shell but none of apt-get, dnf and yum on its PATH. bash too: where sh has no
  // pipefail (dash), ship runs every command under bash (see withPipefail in src/shell/sh.ts).
  const bin = join(fleet.dir, 'hosts', 'web3', 'bin-without-package-manager');
  await mkdir(bin, { recursive: true });
  await symlink('/bin/sh', join(bin, 'sh')).catch(() => undefined);
  await symlink('/bin/bash', join(bin, 'bash')).catch(() => undefined);
  await web3.restartSshd({ PATH: bin });
  try {
    const config = await writeConfig();
    const run = await runShip(['patch', '--config', config, '--hosts', 'web2,web3', '--json']);
    assert.equal(run.code, 1);
    const finished = finishedEvent(run.events);
    assert.match(finished.summary.error ?? '', /web3: stage step 'detect package manager' exited with code 1/);
    assert.match(finished.summary.error ?? '', /no supported package manager on this host: ship patch needs apt-get \(Debian, Ubuntu\), dnf \(.*\) or yum/);
    assert.equal(
      run.events.some((e) => e.type === 'instance.state'),
      false,
    );
  } finally {
    await web3.restartSshd();
  }
});

test('--window ending mid-run: no new batch starts, exit 4 names the hosts left, the report says so', async () => {
  await install({ web1: [oldVersion('lib')], web2: [oldVersion('lib')], web3: [oldVersion('tool')] });
  hosts.get('web1')!.behave({ downMs: 4500, comesBack: true });
  const config = await writeConfig();
  const reportPath = join(fleet.dir, 'report-window.json');
  const run = await runShip(['patch', '--config', config, '--window', '4s', '--report', reportPath]);
  assert.equal(run.code, 4, run.stdout.slice(-3000));
  assert.match(run.stdout, /the maintenance window ended; not started: web2, web3/);
  assert.match(run.stdout, /PATCH RUN INCOMPLETE: the maintenance window ended/);
  assert.equal(await roots.get('web1')!.installedVersion(PACKAGES.lib.name), PACKAGES.lib.new);
  assert.equal(await roots.get('web2')!.installedVersion(PACKAGES.lib.name), PACKAGES.lib.old);
  assert.deepEqual(await inService(fleet), { web1: true, web2: true, web3: true, web4: true });
  const report = await readReport(reportPath);
  assert.equal(report.status, 'incomplete');
  const web2 = report.apps[0]!.hosts.find((h) => h.host === 'web2')!;
  assert.equal(web2.outcome, 'not-started');
});

test('--all patches every app of the config in parallel, each one batch at a time, with one combined report', async () => {
  await install({ web1: [oldVersion('tool')], web2: [oldVersion('tool')], web3: [oldVersion('lib')], web4: [oldVersion('tool')] });
  const entries = hostEntries();
  const config = await writeConfig({ hosts: entries.slice(0, 2), apps: { admin: { hosts: entries.slice(2) } } }, 'apps.config.ts');
  const reportPath = join(fleet.dir, 'report-all.json');
  const run = await runShip(['patch', '--config', config, '--all', '--report', reportPath, '--json']);
  assert.equal(run.code, 0, run.stderr + run.stdout.slice(-3000));
  const events = run.events as Array<ShipEvent & { app: string }>;
  // Both apps had an instance out at the same moment: they ran in parallel.
  const out = new Map<string, number>();
  let bothOut = false;
  let maxPerApp = 0;
  for (const event of events) {
    if (event.type !== 'instance.state') continue;
    const delta = (event.from === 'in-service' ? 1 : 0) - (event.to === 'in-service' ? 1 : 0);
    out.set(event.app, (out.get(event.app) ?? 0) + delta);
    maxPerApp = Math.max(maxPerApp, ...out.values());
    if ((out.get('demo') ?? 0) > 0 && (out.get('admin') ?? 0) > 0) bothOut = true;
  }
  assert.ok(bothOut, 'the two apps were patched at the same time');
  assert.equal(maxPerApp, 1, 'each app one instance at a time');
  const report = await readReport(reportPath);
  assert.deepEqual(
    report.apps.map((a) => [a.app, a.status]),
    [
      ['demo', 'succeeded'],
      ['admin', 'succeeded'],
    ],
  );
  assert.deepEqual(
    report.apps[1]!.hosts.map((h) => [h.host, h.rebooted]),
    [
      ['web3', true],
      ['web4', false],
    ],
  );
  assert.deepEqual(await inService(fleet), { web1: true, web2: true, web3: true, web4: true });
});

/** A real apt-get in the root holding dpkg's frontend lock (its Pre-Invoke hook waits), as an unattended upgrade would. */
async function holdAptLock(root: SystemRoot): Promise<{ release(): Promise<void> }> {
  const marker = join(root.dir, 'holding-lock');
  await execa('apt-get', ['-q', 'update'], { env: { APT_CONFIG: root.aptConfig } });
  const child: ResultPromise = execa(
    'apt-get',
    ['-q', '-y', '-o', `DPkg::Pre-Invoke::=touch ${marker}; sleep 60`, 'install', '--reinstall', `${PACKAGES.tool.name}=${PACKAGES.tool.old}`],
    { env: { APT_CONFIG: root.aptConfig }, detached: true, reject: false, stdin: 'ignore' },
  );
  const deadline = Date.now() + 10_000;
  while (!existsSync(marker)) {
    if (Date.now() > deadline) throw new Error(`apt-get did not take the lock: ${String((await child).stderr)}`);
    await sleep(20);
  }
  return {
    async release() {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
      await child;
    },
  };
}
