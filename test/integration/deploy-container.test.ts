/**
 * The deploy-container playbook for real: three hosts (sshd each, with its own rootful podman)
 * behind HAProxy, a local registry with a password on loopback, images built here from
 * busybox-static. Under load: a rolling container deploy and a rollback with zero failed
 * requests; a pull that fails (a wrong tag, the registry down) stops in stage with every host in
 * rotation; the registry password and the secrets never reach the process list, the output or
 * the journal; the env file is 0600; --image-archive deploys without a registry and prunes to keep;
 * as two roles, the web containers roll, then a worker container running the image with its own
 * command is quieted (TSTP) and replaced.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { readdirSync, readFileSync } from 'node:fs';
import { execa } from 'execa';
import { sleep } from '../../src/util/deadline.js';
import { fleetConfig, startFleet, type Fleet, type FleetHost } from '../fleet/fleet.js';
import { buildAndPush, CONTAINER_PORT, containerHostEnv, podman, REGISTRY_USER, saveImage, startRegistry, writePodmanConfig, type Registry } from '../fleet/containers.js';
import { startLoad } from '../fleet/loadgen.js';
import { REPO_ROOT, runShip, startShip, finished, type ShipRun } from '../support/cli.js';
import { assertInvariants, describeRun, finishedEvent, lbView } from '../support/fleet-assertions.js';
import { RuntimeApiClient, parseRuntimeApi } from '../../src/lb/haproxy-runtime.js';

const REPO = 'acme/shop';
const NAME = 'shop';
const PASSWORD = `reg-pw-${randomBytes(12).toString('hex')}`;
const DB_URL = `postgres://app:db-${randomBytes(12).toString('hex')}@db.internal/shop`;
const FILE_SECRET = `file-${randomBytes(12).toString('hex')}`;
const COMMAND_SECRET = `cmd-${randomBytes(12).toString('hex')}`;
const SECRET_VALUES = [PASSWORD, DB_URL, FILE_SECRET, COMMAND_SECRET];

let fleet: Fleet;
let registry: Registry;
let image: string;
let config: string;
const shipEnv = { SHIP_TEST_REGISTRY_PW: PASSWORD, SHIP_TEST_DB_URL: DB_URL };

const hostPodman = (host: FleetHost, args: string[]) => podman(join(fleet.dir, 'hosts', host.name), join(fleet.dir, 'registries.conf'), args);

async function writeContainerConfig(extra: { keep?: number } = {}): Promise<string> {
  const base = fleetConfig(fleet, {
    hosts: fleet.hosts.map((h) => ({ name: h.name, address: h.address })),
    health: { http: { port: CONTAINER_PORT, path: '/healthz', successThreshold: 1, interval: '20ms', timeout: '1s' } },
    rollout: { drainTimeout: '5s', healthyTimeout: '10s' },
  });
  const path = join(fleet.dir, 'container.config.ts');
  await writeFile(join(fleet.dir, 'file-secret'), `${FILE_SECRET}\n`);
  await writeFile(join(fleet.dir, 'command-secret'), COMMAND_SECRET);
  await writeFile(
    path,
    `import { command, env, file } from ${JSON.stringify(join(REPO_ROOT, 'src', 'index.ts'))};
export default {
  ...${JSON.stringify({ ...base, vars: {} }, null, 2)},
  container: {
    engine: 'podman',
    image: ${JSON.stringify(image)},
    registry: { server: ${JSON.stringify(registry.address)}, username: ${JSON.stringify(REGISTRY_USER)}, password: env('SHIP_TEST_REGISTRY_PW') },
    name: ${JSON.stringify(NAME)},
    run: { network: 'host', args: ['--env', 'APP_BIND'] },
    stopTimeout: '5s',
    keep: ${extra.keep ?? 2},
  },
  secrets: {
    DATABASE_URL: env('SHIP_TEST_DB_URL'),
    API_TOKEN: command('cat command-secret'),
    FILE_SECRET: file('file-secret'),
  },
};
`,
  );
  return path;
}

/**
 * Every command line on this machine (the hosts share it), sampled until stopped. Read from /proc
 * in this process rather than by spawning ps: on a busy machine a ps every few milliseconds falls
 * behind, and a login that lasts a few milliseconds slips between two samples.
 */
function sampleProcesses(): { stop(): Promise<string[]> } {
  let running = true;
  const seen = new Set<string>();
  const loop = (async () => {
    while (running) {
      // Synchronous reads of /proc take microseconds each: a sweep costs far less than one ps.
      for (const pid of readdirSync('/proc')) {
        if (!/^\d+$/.test(pid)) continue;
        let cmdline = '';
        try {
          cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        } catch {
          continue;
        }
        if (cmdline) seen.add(cmdline.replace(/\0+$/, '').replaceAll('\0', ' '));
      }
      await sleep(5);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return [...seen];
    },
  };
}

async function servedVersion(host: FleetHost): Promise<string> {
  const response = await fetch(`http://${host.address}:${CONTAINER_PORT}/`);
  return ((await response.json()) as { version: string }).version;
}

async function allInService(): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const view = await lbView(fleet);
    if ([...view.values()].every((m) => m.inService)) return;
    await sleep(50);
  }
  assert.fail(`not every host is in service: ${JSON.stringify([...(await lbView(fleet))])}`);
}

async function assertInRotationUntouched(run: ShipRun): Promise<void> {
  assert.ok(!run.events.some((e) => e.type === 'instance.state'), `an instance changed state:\n${describeRun(run)}`);
  for (const [name, member] of await lbView(fleet)) assert.ok(member.inService, `${name} is not in service: ${member.detail}`);
}

before(async () => {
  // HAProxy's checks tolerate a slow answer or two (fall 3): on a busy 2-core machine a check can
  // time out, and with one server out for its deploy a second false DOWN would be a 503 ship did not cause.
  fleet = await startFleet({
    hosts: 3,
    backendPort: CONTAINER_PORT,
    sshEnv: containerHostEnv((hostDir) => dirname(dirname(hostDir))),
    check: { inter: '200ms', fall: 3, rise: 2 },
  });
  const block = fleet.hosts[0]!.address.split('.').slice(0, 3).join('.');
  registry = await startRegistry(fleet.dir, `${block}.1:5000`, PASSWORD);
  image = `${registry.address}/${REPO}`;
  for (const v of ['v1', 'v2', 'v3']) await buildAndPush(fleet.dir, registry, REPO, v);
  await buildAndPush(fleet.dir, registry, REPO, 'broken', { broken: true });
  // The fleet as a previous deploy left it: v1 running under ship's label, recorded as staged.
  await Promise.all(
    fleet.hosts.map(async (h) => {
      const hostDir = join(fleet.dir, 'hosts', h.name);
      await writePodmanConfig(hostDir);
      const env = { ...containerHostEnv(() => fleet.dir)({ address: h.address, hostDir }) };
      const pulled = await execa('podman', ['pull', '--quiet', '--creds', `${REGISTRY_USER}:${PASSWORD}`, `${image}:v1`], { env, reject: false });
      assert.equal(pulled.exitCode, 0, pulled.stderr);
      const started = await execa('podman', ['run', '--detach', '--name', NAME, '--network', 'host', '--env', 'APP_BIND', '--label', 'ship.release=v1', `${image}:v1`], {
        env,
        reject: false,
      });
      assert.equal(started.exitCode, 0, started.stderr);
      const home = join(hostDir, 'home', '.ship', 'containers', NAME);
      await execa('mkdir', ['-p', home]);
      await writeFile(join(home, 'releases'), `${Math.floor(Date.now() / 1000) - 60} v1\n`);
    }),
  );
  await allInService();
  config = await writeContainerConfig();
});

after(async () => {
  await fleet?.stop();
});

test('ship plan shows the container and the secret names, never their values', async () => {
  const run = await runShip(['plan', '--config', config, '--version', 'v2'], { env: shipEnv });
  assert.equal(run.code, 0, describeRun(run));
  assert.match(run.stdout, /playbook deploy-container/);
  assert.match(run.stdout, new RegExp(`container shop: ${image.replace(/[./]/g, '\\$&')}:v2 \\(engine podman, registry ${registry.address.replace(/\./g, '\\.')}`));
  assert.match(run.stdout, /secrets: DATABASE_URL \(env SHIP_TEST_DB_URL\), API_TOKEN \(command\), FILE_SECRET \(file file-secret\)/);
  for (const value of SECRET_VALUES) assert.ok(!run.stdout.includes(value) && !run.stderr.includes(value), 'a secret value in the plan');
});

test('a secret that cannot be resolved stops the pre-flight naming it; no host is touched', async () => {
  const run = await runShip(['deploy', '--config', config, '--version', 'v2', '--json'], { env: { SHIP_TEST_REGISTRY_PW: PASSWORD } });
  assert.equal(run.code, 3, describeRun(run));
  const { summary } = finishedEvent(run);
  assert.equal(summary.code, 'SHIP-E065', describeRun(run));
  assert.match(summary.error ?? '', /secrets\.DATABASE_URL \(env SHIP_TEST_DB_URL: is not set\)/);
  assert.ok(!run.events.some((e) => e.type === 'stage.started'), 'nothing may be staged');
});

test('under load, a rolling container deploy: zero failed requests, the password and secrets never on a command line or in the output, env file 0600', async (t) => {
  const load = await startLoad({ url: fleet.frontendUrl, rps: 200, durationMs: 120_000 });
  await sleep(300);
  const ps = sampleProcesses();
  const run = await runShip(['deploy', '--config', config, '--version', 'v2', '--json'], { env: shipEnv });
  const commandLines = await ps.stop();
  await sleep(300);
  const tally = await load.stop();
  t.diagnostic(`requests: ${tally.sent} sent, ${tally.ok} ok, ${tally.failed} failed; versions ${JSON.stringify(tally.versions)}; ${commandLines.length} command lines seen`);
  await assertInvariants(fleet, run, { code: 0, configPath: config });
  assert.equal(tally.failed, 0, `failed requests: ${JSON.stringify({ byStatus: tally.byStatus, errors: tally.errors, first: tally.firstFailures })}`);
  assert.ok((tally.versions.v1 ?? 0) > 0 && (tally.versions.v2 ?? 0) > 0, `the load must have seen both versions: ${JSON.stringify(tally.versions)}`);
  for (const h of fleet.hosts) assert.equal(await servedVersion(h), 'v2');
  assert.ok(
    commandLines.some((l) => l.includes('podman') && l.includes('login')),
    'the sampler must have seen the login',
  );
  for (const value of SECRET_VALUES) {
    assert.ok(!commandLines.some((l) => l.includes(value)), `a secret on a command line: ${commandLines.filter((l) => l.includes(value)).join('\n')}`);
    assert.ok(!run.stdout.includes(value) && !run.stderr.includes(value), 'a secret in the output');
  }
  const stateDir = join(fleet.dir, '.ship');
  for (const file of await readdir(stateDir, { recursive: true })) {
    const text = await readFile(join(stateDir, file), 'utf8').catch(() => '');
    for (const value of SECRET_VALUES) assert.ok(!text.includes(value), `a secret in the journal file ${file}`);
  }
  for (const h of fleet.hosts) {
    const envFile = join(fleet.dir, 'hosts', h.name, 'home', '.ship', 'containers', NAME, 'env');
    assert.equal((await stat(envFile)).mode & 0o777, 0o600);
    assert.equal(await readFile(envFile, 'utf8'), `DATABASE_URL=${DB_URL}\nAPI_TOKEN=${COMMAND_SECRET}\nFILE_SECRET=${FILE_SECRET}\n`);
    const labels = await hostPodman(h, ['container', 'inspect', '--format', '{{ index .Config.Labels "ship.release" }}', NAME]);
    assert.equal(labels.stdout.trim(), 'v2');
  }
});

test('ship releases lists the images kept; ship rollback goes back to the previous image under load with zero failed requests', async (t) => {
  const listed = await runShip(['releases', '--config', config, '--json'], { env: shipEnv });
  assert.equal(listed.code, 0, describeRun(listed));
  const releases = JSON.parse(listed.stdout) as { hosts: Array<{ host: string; current?: string; releases: Array<{ version: string }> }> };
  for (const h of releases.hosts) {
    assert.equal(h.current, 'v2');
    assert.deepEqual(
      h.releases.map((r) => r.version),
      ['v2', 'v1'],
    );
  }
  const load = await startLoad({ url: fleet.frontendUrl, rps: 200, durationMs: 120_000 });
  await sleep(300);
  const run = await runShip(['rollback', '--config', config, '--json'], { env: shipEnv });
  await sleep(300);
  const tally = await load.stop();
  t.diagnostic(`requests: ${tally.sent} sent, ${tally.failed} failed; versions ${JSON.stringify(tally.versions)}`);
  await assertInvariants(fleet, run, { code: 0, configPath: config });
  assert.equal(tally.failed, 0, `failed requests: ${JSON.stringify({ byStatus: tally.byStatus, errors: tally.errors, first: tally.firstFailures })}`);
  for (const h of fleet.hosts) assert.equal(await servedVersion(h), 'v1');
});

test('a pull of a tag that does not exist stops in stage: SHIP-E067, every host still in service on its release', async () => {
  const run = await runShip(['deploy', '--config', config, '--version', 'v9', '--json'], { env: shipEnv });
  assert.equal(run.code, 1, describeRun(run));
  assert.equal(finishedEvent(run).summary.code, 'SHIP-E067', describeRun(run));
  assert.match(describeRun(run), /pull image/);
  await assertInRotationUntouched(run);
  for (const h of fleet.hosts) assert.equal(await servedVersion(h), 'v1');
});

test('under load, a new container that does not start (SHIP-E068) is rolled back to the previous image: zero failed requests', async (t) => {
  const load = await startLoad({ url: fleet.frontendUrl, rps: 200, durationMs: 120_000 });
  await sleep(300);
  const run = await runShip(['deploy', '--config', config, '--version', 'broken', '--json'], { env: shipEnv });
  await sleep(300);
  const tally = await load.stop();
  t.diagnostic(`requests: ${tally.sent} sent, ${tally.failed} failed; versions ${JSON.stringify(tally.versions)}`);
  await assertInvariants(fleet, run, { code: 1, configPath: config });
  assert.equal(tally.failed, 0, `failed requests: ${JSON.stringify({ byStatus: tally.byStatus, errors: tally.errors, first: tally.firstFailures })}`);
  const { summary } = finishedEvent(run);
  assert.deepEqual(
    summary.hosts.map((h) => [h.host, h.outcome]),
    [
      ['web1', 'rolled-back'],
      ['web2', 'not-started'],
      ['web3', 'not-started'],
    ],
  );
  assert.equal(summary.hosts[0]!.code, 'SHIP-E068', describeRun(run));
  assert.deepEqual(summary.outOfRotation, []);
  for (const h of fleet.hosts) assert.equal(await servedVersion(h), 'v1');
  const label = await hostPodman(fleet.hosts[0]!, ['container', 'inspect', '--format', '{{ index .Config.Labels "ship.release" }}', NAME]);
  assert.equal(label.stdout.trim(), 'v1');
});

test('with the registry down the run stops in stage (SHIP-E066); --image-archive then deploys without it and prunes to keep', async () => {
  const archive = join(fleet.dir, 'v3.tar');
  await saveImage(fleet.dir, `${image}:v3`, archive);
  await registry.stop();
  const refused = await runShip(['deploy', '--config', config, '--version', 'v3', '--json'], { env: shipEnv });
  assert.equal(refused.code, 1, describeRun(refused));
  assert.equal(finishedEvent(refused).summary.code, 'SHIP-E066', describeRun(refused));
  await assertInRotationUntouched(refused);

  const child = startShip(['deploy', '--config', config, '--version', 'v3', '--image-archive', archive, '--json'], { env: shipEnv });
  const run = await finished(child);
  await assertInvariants(fleet, run, { code: 0, configPath: config });
  for (const h of fleet.hosts) {
    assert.equal(await servedVersion(h), 'v3');
    // keep: 2 keeps the new image and the one it replaced (v1); v2 and broken are pruned.
    const tags = await hostPodman(h, ['images', '--format', '{{.Tag}}', image]);
    assert.deepEqual(tags.stdout.trim().split('\n').sort(), ['v1', 'v3']);
  }
});

/** The same app as two roles: web1 and web2 behind HAProxy, web3 a worker running the image with its own command. */
async function writeRolesContainerConfig(): Promise<string> {
  const text = await readFile(config, 'utf8');
  const path = join(fleet.dir, 'roles.config.ts');
  // The worker: the same image with another command, which marks itself quiet on TSTP and stops on TERM.
  const worker = {
    hosts: [{ name: 'web3', address: fleet.hosts[2]!.address }],
    loadBalancer: { type: 'none' },
    // The only worker: its jobs wait in the queue while it restarts.
    rollout: { minHealthy: 0 },
    health: { command: { run: 'test "$(podman container inspect --format "{{.State.Running}}" shop-worker)" = true', successThreshold: 1, interval: '100ms', timeout: '5s' } },
    container: { name: 'shop-worker', run: { command: ['/bin/sh', '-c', 'trap "touch /tmp/quiet" TSTP; trap "exit 0" TERM; while :; do sleep 1; done'] } },
    quiet: { signal: 'TSTP', idleCommand: 'podman exec shop-worker test -f /tmp/quiet', wait: '30s' },
  };
  const roles = `roles: { web: { hosts: ${JSON.stringify(fleet.hosts.slice(0, 2).map((h) => ({ name: h.name, address: h.address })))} }, workers: ${JSON.stringify(worker)} },`;
  await writeFile(path, text.replace(/export default \{\n/, `export default {\n  ${roles}\n`).replace('container: {', 'hosts: [],\n  container: {'));
  return path;
}

test('roles: the web containers roll under load with zero failed requests, then the worker container (its own command) is quieted with TSTP and replaced', async (t) => {
  const lb = new RuntimeApiClient(parseRuntimeApi(fleet.runtimeApi));
  // web3 serves no traffic in this test: it is the worker.
  await lb.runSilent('set server app/web3 state maint');
  const worker = fleet.hosts[2]!;
  const webContainerStarted = async () => (await hostPodman(worker, ['container', 'inspect', '--format', '{{.State.StartedAt}}', NAME])).stdout.trim();
  const before = await webContainerStarted();
  try {
    const rolesConfig = await writeRolesContainerConfig();
    const load = await startLoad({ url: fleet.frontendUrl, rps: 200, durationMs: 120_000 });
    await sleep(300);
    // The registry is down since the test before: the image comes as an archive, loaded on each host.
    const run = await runShip(['deploy', '--config', rolesConfig, '--version', 'v3', '--image-archive', join(fleet.dir, 'v3.tar'), '--json'], { env: shipEnv });
    await sleep(300);
    const tally = await load.stop();
    t.diagnostic(`requests: ${tally.sent} sent, ${tally.failed} failed; versions ${JSON.stringify(tally.versions)}`);
    assert.equal(run.code, 0, describeRun(run));
    assert.equal(tally.failed, 0, `failed requests: ${JSON.stringify({ byStatus: tally.byStatus, errors: tally.errors, first: tally.firstFailures })}`);
    for (const h of fleet.hosts.slice(0, 2)) assert.equal(await servedVersion(h), 'v3');
    const order = run.events.flatMap((e) => (e.type === 'instance.finished' ? [e.host] : []));
    assert.equal(order[2], 'web3', `the worker rolls after the web role: ${order.join(', ')}`);
    const steps = run.events.flatMap((e) => (e.type === 'step.finished' && e.host === 'web3' && e.phase === 'activate' ? [e.step] : []));
    assert.deepEqual(steps.slice(0, 2), ['quiet: send TSTP to container shop-worker', 'quiet: wait until idle (up to 30s)']);
    const inspected = await hostPodman(worker, ['container', 'inspect', '--format', '{{ index .Config.Labels "ship.release" }} {{ .Config.Cmd }}', 'shop-worker']);
    assert.match(inspected.stdout.trim(), /^v3 \[\/bin\/sh -c trap/);
    assert.equal(await webContainerStarted(), before, 'the worker role does not touch the web container on its host');
  } finally {
    await lb.runSilent('set server app/web3 state ready');
    await allInService();
  }
});
