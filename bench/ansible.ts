/**
 * ship against Ansible (issue 7, item 6): wall time of a rolling deploy of the same release over
 * the same local fleet (real sshd + app hosts behind a real HAProxy on loopback), one host at a
 * time, by
 *   - ship: the compiled CLI as users run it, `node bin/ship.js deploy --json` (built with tsc first);
 *   - Ansible: bench/ansible/rolling-deploy.yml with `serial: 1`, driving HAProxy's runtime API
 *     with the same commands over its unix socket (socat), deploying with the same steps while
 *     each host is out (the target is against this one);
 *   - Ansible staged: bench/ansible/rolling-deploy-staged.yml, the same tasks with upload and
 *     unpack moved into a first play on every host at once, as ship does: a stronger baseline.
 * Runs alternate (each side goes first in turn), so background load hits every side alike;
 * after every run each host must serve the new version and HAProxy must have every server UP.
 * Installs Ansible (ansible-core) and socat from Debian when missing. Prints one JSON object.
 *
 *   node --import tsx bench/ansible.ts [--runs 5] [--hosts 8]
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ShipEvent } from '../src/events.js';
import { startFleet, type Fleet } from '../test/fleet/fleet.js';
import { argument, median, runCommand, runtimeApi } from './lib/common.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SHIP_BIN = join(ROOT, 'bin', 'ship.js');
const BUILT_MAIN = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const ANSIBLE_DIR = join(ROOT, 'bench', 'ansible');
const PLAYBOOK = join(ANSIBLE_DIR, 'rolling-deploy.yml');
const STAGED_PLAYBOOK = join(ANSIBLE_DIR, 'rolling-deploy-staged.yml');
const BACKEND = 'app';
const TARGET_RATIO = 0.15;

const round = (value: number) => Math.round(value * 10) / 10;

function log(line: string): void {
  process.stderr.write(`ansible bench: ${line}\n`);
}

function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', name], { stdio: 'ignore' }).status === 0;
}

/** Ansible and socat from Debian, installed only when missing (`npm run bench` alone needs them). */
function ensureTools(): void {
  const missing = [hasCommand('ansible-playbook') ? undefined : 'ansible-core', hasCommand('socat') ? undefined : 'socat'].filter((p): p is string => p !== undefined);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) throw new Error(`the Ansible benchmark needs ${missing.join(' and ')}: install them (apt-get install ${missing.join(' ')}) or run as root`);
  log(`installing ${missing.join(', ')} from Debian`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [
    ['update', '-qq'],
    ['install', '-y', '-qq', ...missing],
  ]) {
    const result = spawnSync('apt-get', args, { env, stdio: ['ignore', 'ignore', 'inherit'] });
    if (result.status !== 0) throw new Error(`apt-get ${args.join(' ')} exited ${result.status}; install ${missing.join(' ')} by hand and run again`);
  }
}

/** The first line of a tool's version output that matches `line`. */
function toolVersion(command: string, args: string[], line = /\S/): string {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  return (
    `${result.stdout}${result.stderr}`
      .split('\n')
      .find((text) => line.test(text))
      ?.trim() ?? 'unknown'
  );
}

/** After a run: every host serves `version`, and HAProxy has every server UP (none left out). */
async function verifyFleet(fleet: Fleet, version: string, who: string): Promise<void> {
  for (const host of fleet.hosts) {
    const served = (await (await fetch(host.appUrl)).json()) as { version: string };
    if (served.version !== version) throw new Error(`${who}: ${host.name} serves ${served.version} after deploying ${version}`);
  }
  const csv = await runtimeApi(fleet.haproxy.socketPath, `show stat ${BACKEND} 4 -1`);
  const [header, ...rows] = csv.trim().split('\n');
  const columns = (header ?? '').replace(/^# /, '').split(',');
  const status = (fields: string[]) => fields[columns.indexOf('status')];
  const notUp = rows.map((line) => line.split(',')).filter((fields) => status(fields) !== 'UP');
  if (notUp.length > 0 || rows.length !== fleet.hosts.length) {
    throw new Error(`${who}: after deploying ${version} HAProxy does not have every server UP: ${csv.slice(0, 600)}`);
  }
}

async function shipOnce(config: string, version: string, artifact: string): Promise<number> {
  const started = performance.now();
  const result = await runCommand(process.execPath, [SHIP_BIN, 'deploy', '--config', config, '--version', version, '--artifact', artifact, '--json'], { CI: 'true' });
  const wallMs = performance.now() - started;
  const finished = result.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as ShipEvent)
    .find((event) => event.type === 'run.finished');
  if (result.code !== 0 || !finished || finished.type !== 'run.finished' || finished.status !== 'succeeded') {
    throw new Error(`ship deploy --version ${version} exited ${result.code}:\n${result.stderr.slice(-2000)}\n${result.stdout.slice(-3000)}`);
  }
  return wallMs;
}

/** The inventory for this fleet: group `app`, the fleet's key and known_hosts, HAProxy's socket. */
async function writeInventory(fleet: Fleet): Promise<string> {
  const inventory = {
    app: {
      hosts: Object.fromEntries(fleet.hosts.map((host) => [host.name, { ansible_host: host.address, app_dir: host.appDir }])),
      vars: {
        ansible_user: 'root',
        ansible_ssh_private_key_file: fleet.privateKeyPath,
        ansible_ssh_common_args: `-o UserKnownHostsFile=${fleet.knownHostsPath} -o StrictHostKeyChecking=yes`,
        haproxy_socket: fleet.haproxy.socketPath,
        haproxy_backend: BACKEND,
      },
    },
  };
  // JSON is YAML: no quoting to get wrong.
  const path = join(fleet.dir, 'ansible-inventory.yml');
  await writeFile(path, JSON.stringify(inventory, null, 2));
  return path;
}

/** Stops the ControlPersist masters a run left behind, so the next run starts cold and none outlives the bench. */
async function closeControlMasters(controlDir: string): Promise<void> {
  const sockets = await readdir(controlDir).catch(() => [] as string[]);
  await Promise.all(sockets.map((socket) => runCommand('ssh', ['-F', '/dev/null', '-o', `ControlPath=${join(controlDir, socket)}`, '-O', 'exit', 'placeholder'])));
  await rm(controlDir, { recursive: true, force: true });
}

async function ansibleOnce(inventory: string, playbook: string, version: string, artifact: string, controlDir: string): Promise<number> {
  await mkdir(controlDir, { recursive: true });
  const env = { ANSIBLE_CONFIG: join(ANSIBLE_DIR, 'ansible.cfg'), ANSIBLE_SSH_CONTROL_PATH_DIR: controlDir, ANSIBLE_NOCOLOR: '1' };
  const started = performance.now();
  const result = await runCommand('ansible-playbook', ['-i', inventory, playbook, '--extra-vars', JSON.stringify({ version, artifact })], env);
  const wallMs = performance.now() - started;
  await closeControlMasters(controlDir);
  if (result.code !== 0) throw new Error(`ansible-playbook ${playbook} (version ${version}) exited ${result.code}:\n${result.stderr.slice(-2000)}\n${result.stdout.slice(-4000)}`);
  return wallMs;
}

type Side = 'ship' | 'ansible' | 'ansibleStaged';
const SIDES: Side[] = ['ship', 'ansible', 'ansibleStaged'];

/** SSH connections the fleet's sshds accepted so far, summed over the hosts. */
async function sshConnections(fleet: Fleet): Promise<number> {
  return (await Promise.all(fleet.hosts.map((host) => host.sshd.acceptedConnections()))).reduce((a, b) => a + b, 0);
}

function summary(runsMs: number[], connections: number[], hostCount: number) {
  const medianMs = round(median(runsMs));
  return { medianMs, perHostMs: round(medianMs / hostCount), runsMs, sshConnectionsPerHost: [...new Set(connections.map((c) => round(c / hostCount)))] };
}

async function main(): Promise<void> {
  const runs = argument('runs', 5);
  const hostCount = argument('hosts', 8);
  ensureTools();
  const build = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'ignore' });
  if (!existsSync(BUILT_MAIN)) throw new Error(`the build did not produce ${BUILT_MAIN} (tsc exited ${build.status})`);

  const fleet = await startFleet({ hosts: hostCount });
  const controlDir = join(fleet.dir, 'ansible-cp');
  try {
    const config = await fleet.writeConfig();
    const inventory = await writeInventory(fleet);
    const deploy: Record<Side, (version: string, artifact: string) => Promise<number>> = {
      ship: (version, artifact) => shipOnce(config, version, artifact),
      ansible: (version, artifact) => ansibleOnce(inventory, PLAYBOOK, version, artifact, controlDir),
      ansibleStaged: (version, artifact) => ansibleOnce(inventory, STAGED_PLAYBOOK, version, artifact, controlDir),
    };
    const walls: Record<Side, number[]> = { ship: [], ansible: [], ansibleStaged: [] };
    const connections: Record<Side, number[]> = { ship: [], ansible: [], ansibleStaged: [] };
    const order: Side[][] = [];
    const load: number[] = [];
    let release = 1;
    for (let run = 0; run < runs; run++) {
      // Each side goes first, second and last in turn.
      const sides = SIDES.map((_, i) => SIDES[(i + run) % SIDES.length]!);
      order.push(sides);
      load.push(Number(loadavg()[0]!.toFixed(2)));
      for (const side of sides) {
        const version = `v${++release}`;
        const artifact = await fleet.artifact(version);
        const connectionsBefore = await sshConnections(fleet);
        const wallMs = await deploy[side](version, artifact);
        await verifyFleet(fleet, version, side);
        walls[side].push(round(wallMs));
        connections[side].push((await sshConnections(fleet)) - connectionsBefore);
        log(`run ${run + 1}/${runs}: ${side} deployed ${version} to ${hostCount} hosts in ${round(wallMs)} ms (every host serves it, HAProxy has all UP)`);
      }
    }
    const ship = summary(walls.ship, connections.ship, hostCount);
    const ansible = summary(walls.ansible, connections.ansible, hostCount);
    const ansibleStaged = summary(walls.ansibleStaged, connections.ansibleStaged, hostCount);
    const ratio = Number((ship.medianMs / ansible.medianMs).toFixed(3));
    console.log(
      JSON.stringify(
        {
          benchmark: 'ansible',
          hosts: hostCount,
          runs,
          ship: { command: 'node bin/ship.js deploy --json (compiled by tsc, as published)', ...ship },
          ansible: { command: 'ansible-playbook -i <inventory> bench/ansible/rolling-deploy.yml', ...ansible },
          ansibleStaged: {
            command: 'ansible-playbook -i <inventory> bench/ansible/rolling-deploy-staged.yml',
            ...ansibleStaged,
            shipRatio: Number((ship.medianMs / ansibleStaged.medianMs).toFixed(3)),
          },
          ratio,
          target: `ship <= ${TARGET_RATIO} x Ansible (rolling-deploy.yml)`,
          met: ratio <= TARGET_RATIO,
          tools: {
            ansible: toolVersion('ansible-playbook', ['--version']),
            ansibleConfig: 'bench/ansible/ansible.cfg (pipelining, ControlPersist, gather_facts false, forks 16); a fresh ControlPath folder per run, masters stopped after it',
            haproxyVia: `socat over the runtime API's unix socket (${toolVersion('socat', ['-V'], /^socat version/).replace(/ on .*$/, '')})`,
          },
          order,
          load1AtEachRun: load,
        },
        null,
        2,
      ),
    );
  } finally {
    await closeControlMasters(controlDir);
    await fleet.stop();
  }
}

await main();
