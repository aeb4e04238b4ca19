/**
 * `ship patch` end to end on RHEL-like hosts: the real dnf (with its needs-restarting plugin) and
 * rpm upgrade real .rpm packages inside a throwaway system root per host (test/fleet/patch-host/
 * rpm-root.ts), over each host's real sshd, behind real HAProxy. The hosts' PATH has no apt-get,
 * so the playbook detects dnf. The repository (rpm-repository.ts), served over HTTP on loopback,
 * holds each test package at an old and a new version with security advisories for ship-test-tool,
 * ship-test-lib and ship-test-broken and a bugfix advisory for ship-test-bugfix; a new
 * ship-test-lib makes `dnf needs-restarting -r` ask for a reboot, a new ship-test-broken's %post
 * scriptlet fails. Reboots are simulated as in patch.test.ts.
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startFleet, fleetConfig, type Fleet, type FleetHost } from '../fleet/fleet.js';
import { buildRpmRepository, serveRepository, RELEASE, RPM_PACKAGES, type RpmRepository, type ServedRepository } from '../fleet/patch-host/rpm-repository.js';
import { makeRpmRoot, rpmHostSession, type RpmRoot } from '../fleet/patch-host/rpm-root.js';
import { rebootable, type RebootableHost } from '../fleet/patch-host/reboot.js';
import { everyHostBackInService, inService } from '../fleet/patch-host/load-balancer.js';
import type { PatchReport } from '../../src/patch/report.js';
import type { ShipEvent } from '../../src/events.js';
import { runShip } from '../support/cli.js';

type Installed = Array<{ name: string; version: string }>;
type PackageKey = keyof typeof RPM_PACKAGES;

let fleet: Fleet;
let repository: RpmRepository;
let served: ServedRepository;
const roots = new Map<string, RpmRoot>();
const hosts = new Map<string, RebootableHost>();

const hostDir = (host: FleetHost) => join(fleet.dir, 'hosts', host.name);
const rootDir = (host: FleetHost) => join(hostDir(host), 'root');

before(async () => {
  fleet = await startFleet({ hosts: 3 });
  repository = await buildRpmRepository(join(fleet.dir, 'rpm-repo'));
  served = await serveRepository(repository, fleet.hosts[0]!.address.replace(/\.\d+$/, '.1'));
  for (const h of fleet.hosts) {
    const session = await rpmHostSession(hostDir(h), join(hostDir(h), 'home'));
    hosts.set(h.name, await rebootable(fleet, h, [], session));
  }
});
after(async () => {
  for (const h of hosts.values()) await h.dispose();
  await served?.stop();
  await fleet?.stop();
});

/** Every host up and back in the load balancer, whatever the last test did. */
beforeEach(async () => {
  await everyHostBackInService(fleet, hosts.values());
  served.requests.length = 0;
});

/** Fresh roots with these packages installed (hosts not named get only the base package: nothing to patch). */
async function install(installed: Record<string, Installed>): Promise<void> {
  await Promise.all(fleet.hosts.map(async (h) => roots.set(h.name, await makeRpmRoot(rootDir(h), repository, served.url, installed[h.name] ?? []))));
}

const at = (pkg: PackageKey, which: 'old' | 'new') => ({ name: RPM_PACKAGES[pkg].name, version: RPM_PACKAGES[pkg][which] });
/** `version-release` as rpm and dnf print it. */
const evr = (pkg: PackageKey, which: 'old' | 'new') => `${RPM_PACKAGES[pkg][which]}-${RELEASE}`;
const change = (pkg: PackageKey) => ({ name: RPM_PACKAGES[pkg].name, from: evr(pkg, 'old'), to: evr(pkg, 'new') });

async function writeConfig(): Promise<string> {
  const entries = fleet.hosts.map((h) => ({
    name: h.name,
    address: h.address,
    vars: { appDir: h.appDir, restart: `sh ${h.appDir}/restart.sh ${h.appDir}`, systemRoot: rootDir(h), ...hosts.get(h.name)!.vars },
  }));
  const config = fleetConfig(fleet, { hosts: entries, vars: { rebootTimeout: '15s' } });
  const path = join(fleet.dir, 'patch-dnf.config.ts');
  await writeFile(path, `export default ${JSON.stringify(config, null, 2)};\n`);
  return path;
}

async function readReport(path: string): Promise<PatchReport> {
  return JSON.parse(await readFile(path, 'utf8')) as PatchReport;
}

const leftTheLb = (events: ShipEvent[], name: string) => events.some((e) => e.type === 'instance.state' && e.host === name);

/** When the host first left the load balancer (ms since the epoch). */
function leftAt(events: ShipEvent[], name: string): number {
  const first = events.find((e) => e.type === 'instance.state' && e.host === name);
  assert.ok(first, `${name} never left the load balancer`);
  return Date.parse(first.time);
}

test('dnf hosts: detected, security updates only, an up-to-date host skipped in service, one upgrade without a reboot, one with', async () => {
  await install({
    web1: [at('tool', 'new')],
    web2: [at('tool', 'old'), at('bugfix', 'old')],
    web3: [at('lib', 'old')],
  });
  const config = await writeConfig();
  const reportPath = join(fleet.dir, 'report-dnf.json');
  const bootId = await hosts.get('web3')!.bootId();
  const run = await runShip(['patch', '--config', config, '--report', reportPath, '--json']);
  assert.equal(run.code, 0, `ship patch failed:\n${run.stderr}\n${run.stdout.slice(-4000)}`);

  const report = await readReport(reportPath);
  assert.equal(report.status, 'succeeded');
  const byHost = Object.fromEntries(report.apps[0]!.hosts.map((h) => [h.host, h]));
  for (const name of ['web1', 'web2', 'web3']) assert.equal(byHost[name]!.packageManager, 'dnf', `${name} detected dnf`);

  // web1 had nothing to do: it never left the load balancer.
  assert.equal(byHost.web1!.outcome, 'skipped');
  assert.match(byHost.web1!.error ?? '', /no pending security updates/);
  assert.equal(leftTheLb(run.events, 'web1'), false, 'web1 must never leave the load balancer');

  // web2: the security update only; the bugfix update stays pending.
  assert.equal(byHost.web2!.outcome, 'deployed');
  assert.deepEqual(byHost.web2!.pending, [change('tool')]);
  assert.deepEqual(byHost.web2!.upgraded, [change('tool')]);
  assert.equal(byHost.web2!.rebootRequired, false);
  assert.equal(byHost.web2!.rebooted, false);
  assert.equal(await roots.get('web2')!.installedVersion(RPM_PACKAGES.tool.name), evr('tool', 'new'));
  assert.equal(await roots.get('web2')!.installedVersion(RPM_PACKAGES.bugfix.name), evr('bugfix', 'old'), 'not a security update');
  assert.equal(hosts.get('web2')!.reboots(), 0, 'no reboot where none was required');

  // Stage downloaded the package while web2 still served, once: the install used the download.
  const toolFile = repository.fileName(RPM_PACKAGES.tool.name, RPM_PACKAGES.tool.new);
  const fetched = served.requests.filter((r) => r.path === `/${toolFile}`);
  assert.equal(fetched.length, 1, `${toolFile} fetched once: ${JSON.stringify(served.requests.map((r) => r.path))}`);
  assert.ok(fetched[0]!.at < leftAt(run.events, 'web2'), 'downloaded before web2 left the load balancer');
  assert.ok((await roots.get('web2')!.cachedPackages()).includes(toolFile));

  // web3: needs-restarting asked for a reboot, and the host came back with a new boot id.
  assert.deepEqual(byHost.web3!.upgraded, [change('lib')]);
  assert.equal(await roots.get('web3')!.installedVersion(RPM_PACKAGES.lib.name), evr('lib', 'new'));
  assert.equal(byHost.web3!.rebootRequired, true);
  assert.equal(byHost.web3!.rebooted, true);
  assert.equal(hosts.get('web3')!.reboots(), 1);
  assert.notEqual(await hosts.get('web3')!.bootId(), bootId);

  assert.deepEqual(await inService(fleet), { web1: true, web2: true, web3: true });
});

test('securityOnly=false: dnf takes the bugfix update too', async () => {
  await install({ web2: [at('bugfix', 'old')] });
  const config = await writeConfig();
  const reportPath = join(fleet.dir, 'report-dnf-all.json');
  const run = await runShip(['patch', '--config', config, '--hosts', 'web2', '--var', 'securityOnly=false', '--report', reportPath]);
  assert.equal(run.code, 0, run.stdout.slice(-3000));
  const web2 = (await readReport(reportPath)).apps[0]!.hosts.find((h) => h.host === 'web2')!;
  assert.deepEqual(web2.upgraded, [change('bugfix')]);
  assert.equal(await roots.get('web2')!.installedVersion(RPM_PACKAGES.bugfix.name), evr('bugfix', 'new'));
});

test('a package whose %post scriptlet fails: dnf says Complete!, ship fails the host, leaves it out, reports it and stops', async () => {
  await install({ web1: [at('tool', 'old')], web2: [at('broken', 'old')], web3: [at('tool', 'old')] });
  const config = await writeConfig();
  const reportPath = join(fleet.dir, 'report-dnf-broken.json');
  const run = await runShip(['patch', '--config', config, '--report', reportPath, '--json']);
  assert.equal(run.code, 1, run.stdout.slice(-3000));
  const finished = run.events.find((e) => e.type === 'run.finished');
  assert.ok(finished && finished.type === 'run.finished');
  const web2 = finished.summary.hosts.find((h) => h.host === 'web2')!;
  assert.equal(web2.outcome, 'failed-out');
  assert.match(web2.error ?? '', /web2: activate step 'install updates' exited with code 1/);
  assert.match(web2.error ?? '', /ship-test-broken: cannot migrate its data/);
  assert.match(web2.error ?? '', /an install scriptlet failed, so a package is installed but not set up/);
  assert.match(web2.error ?? '', /upgrades are never undone: the host stays out of the load balancer/);
  assert.deepEqual(finished.summary.outOfRotation, ['web2']);
  assert.deepEqual(await inService(fleet), { web1: true, web2: false, web3: true });
  // rpm did upgrade it: only its setup failed.
  assert.equal(await roots.get('web2')!.installedVersion(RPM_PACKAGES.broken.name), evr('broken', 'new'));
  assert.equal(await roots.get('web1')!.installedVersion(RPM_PACKAGES.tool.name), evr('tool', 'new'), 'the canary was patched');
  assert.equal(await roots.get('web3')!.installedVersion(RPM_PACKAGES.tool.name), evr('tool', 'old'), 'the run stopped');
  const report = await readReport(reportPath);
  assert.equal(report.status, 'failed');
  assert.deepEqual(report.failedHosts, ['demo/web2']);
  assert.equal(report.apps[0]!.hosts.find((h) => h.host === 'web3')!.outcome, 'not-started');
});
