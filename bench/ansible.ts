/**
 * ship against Ansible (issue 7, item 6; issue 17, item 1): wall time of a rolling deploy of the
 * same release over the same local fleet (real sshd + app hosts behind a real HAProxy on loopback
 * checking `inter 500ms fall 2 rise 2`, a common production setting), one host at a time, under
 * steady HTTP load through HAProxy, by
 *   - ship: `node bin/ship.js deploy --json`, as package.json's bin runs it, after `npm run build`
 *     (tsc, then the esbuild bundle bin/ship.js loads);
 *   - Ansible stock: bench/ansible/rolling-deploy-stock.yml, `serial: 1`, HAProxy driven by
 *     `community.general.haproxy` (disabled with drain + wait, then enabled + wait), deploying while
 *     each host is out: Ansible's stock rolling update (issue 17's target is against this one);
 *   - Ansible: bench/ansible/rolling-deploy.yml with `serial: 1`, driving HAProxy's runtime API
 *     with the commands ship sends over its unix socket (socat), deploying with the same steps while
 *     each host is out (issue 7's target is against this one);
 *   - Ansible staged: bench/ansible/rolling-deploy-staged.yml, the same tasks with upload and
 *     unpack moved into a first play on every host at once, as ship does: a stronger baseline.
 * Runs alternate (each side goes first in turn), so background load hits every side alike; the
 * load generator counts every request that failed during each side's run; after every run each
 * host must serve the new version and HAProxy must have every server UP. Installs Debian's
 * `ansible` (ansible-core with the community collections, community.general.haproxy among them)
 * and socat when missing. Prints one JSON object.
 *
 *   node --import tsx bench/ansible.ts [--runs 5] [--hosts 8] [--rps 200]
 */
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { ShipEvent } from '../src/events.js';
import { startFleet, type Fleet } from '../test/fleet/fleet.js';
import { startLoad, type LoadTally } from '../test/fleet/loadgen.js';
import { ANSIBLE_DIR, ansibleOnce, closeControlMasters, writeInventory } from './lib/ansible-fleet.js';
import { argument, buildAsPublished, median, runCommand, runtimeApi, SHIP_AS_PUBLISHED, SHIP_BIN } from './lib/common.js';

const PLAYBOOKS = {
  ansibleStock: join(ANSIBLE_DIR, 'rolling-deploy-stock.yml'),
  ansible: join(ANSIBLE_DIR, 'rolling-deploy.yml'),
  ansibleStaged: join(ANSIBLE_DIR, 'rolling-deploy-staged.yml'),
};
const BACKEND = 'app';
/** HAProxy's health checks of the fleet: what users run (issue 17), not the tests' fast 100 ms. */
const HAPROXY_CHECK = { inter: '500ms', fall: 2, rise: 2 } as const;
/** Issue 7: ship against the socat playbook; issue 17: against Ansible's stock rolling update. */
const TARGETS = { ratio: 0.15, stockRatio: 0.25 };

const round = (value: number) => Math.round(value * 10) / 10;

function log(line: string): void {
  process.stderr.write(`ansible bench: ${line}\n`);
}

function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', name], { stdio: 'ignore' }).status === 0;
}

/** Whether Ansible finds the module the stock playbook uses (Debian's `ansible` ships it; `ansible-core` alone does not). */
function hasHaproxyModule(): boolean {
  return spawnSync('ansible-doc', ['-t', 'module', 'community.general.haproxy'], { stdio: 'ignore' }).status === 0;
}

/**
 * Debian's `ansible` (ansible-core and the community collections, community.general.haproxy
 * among them) and socat, installed only when missing (`npm run bench` alone needs them).
 */
function ensureTools(): void {
  const missing = [hasCommand('ansible-playbook') && hasCommand('ansible-doc') && hasHaproxyModule() ? undefined : 'ansible', hasCommand('socat') ? undefined : 'socat'].filter(
    (p): p is string => p !== undefined,
  );
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
  if (!hasHaproxyModule()) throw new Error("Debian's ansible is installed but Ansible does not find community.general.haproxy");
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
  // The stock module's enable returns before HAProxy has checked the restarted server (it is UP at
  // once when it leaves maintenance), so its first real check may come after the playbook ended: a
  // few checks' time (inter 500 ms) to settle, then every server must be UP.
  const settleUntil = performance.now() + 3_000;
  for (;;) {
    const csv = await runtimeApi(fleet.haproxy.socketPath, `show stat ${BACKEND} 4 -1`);
    const [header, ...rows] = csv.trim().split('\n');
    const columns = (header ?? '').replace(/^# /, '').split(',');
    const statuses = rows.map((line) => line.split(',')).map((fields) => `${fields[columns.indexOf('svname')]} ${fields[columns.indexOf('status')]}`);
    const notUp = statuses.filter((line) => !line.endsWith(' UP'));
    if (notUp.length === 0 && rows.length === fleet.hosts.length) return;
    if (performance.now() > settleUntil)
      throw new Error(`${who}: after deploying ${version} HAProxy does not have every server UP: ${notUp.join(', ') || `${rows.length} servers`}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
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

type Side = 'ship' | 'ansibleStock' | 'ansible' | 'ansibleStaged';
const SIDES: Side[] = ['ship', 'ansibleStock', 'ansible', 'ansibleStaged'];
const PLAYBOOK_PATHS: Record<Exclude<Side, 'ship'>, string> = {
  ansibleStock: 'bench/ansible/rolling-deploy-stock.yml',
  ansible: 'bench/ansible/rolling-deploy.yml',
  ansibleStaged: 'bench/ansible/rolling-deploy-staged.yml',
};

/** SSH connections the fleet's sshds accepted so far, summed over the hosts. */
async function sshConnections(fleet: Fleet): Promise<number> {
  return (await Promise.all(fleet.hosts.map((host) => host.sshd.acceptedConnections()))).reduce((a, b) => a + b, 0);
}

interface SideRecord {
  walls: number[];
  connections: number[];
  failed: number[];
  sent: number[];
  firstFailures: LoadTally['firstFailures'];
}

function summary(record: SideRecord, hostCount: number) {
  const medianMs = round(median(record.walls));
  return {
    medianMs,
    perHostMs: round(medianMs / hostCount),
    runsMs: record.walls,
    sshConnectionsPerHost: [...new Set(record.connections.map((c) => round(c / hostCount)))],
    failedRequests: record.failed,
    requestsSent: record.sent,
    firstFailures: record.firstFailures.slice(0, 5),
  };
}

async function main(): Promise<void> {
  const runs = argument('runs', 5);
  const hostCount = argument('hosts', 8);
  const rps = argument('rps', 200);
  ensureTools();
  buildAsPublished();

  const fleet = await startFleet({ hosts: hostCount, check: HAPROXY_CHECK });
  const controlDir = join(fleet.dir, 'ansible-cp');
  try {
    const config = await fleet.writeConfig();
    const inventory = await writeInventory(fleet, BACKEND);
    const deploy: Record<Side, (version: string, artifact: string) => Promise<number>> = {
      ship: (version, artifact) => shipOnce(config, version, artifact),
      ansibleStock: (version, artifact) => ansibleOnce(inventory, PLAYBOOKS.ansibleStock, version, artifact, controlDir),
      ansible: (version, artifact) => ansibleOnce(inventory, PLAYBOOKS.ansible, version, artifact, controlDir),
      ansibleStaged: (version, artifact) => ansibleOnce(inventory, PLAYBOOKS.ansibleStaged, version, artifact, controlDir),
    };
    const records = Object.fromEntries(SIDES.map((side) => [side, { walls: [], connections: [], failed: [], sent: [], firstFailures: [] }])) as unknown as Record<Side, SideRecord>;
    const order: Side[][] = [];
    const load: number[] = [];
    let release = 1;
    for (let run = 0; run < runs; run++) {
      // Each side goes first, second, third and last in turn.
      const sides = SIDES.map((_, i) => SIDES[(i + run) % SIDES.length]!);
      order.push(sides);
      load.push(Number(loadavg()[0]!.toFixed(2)));
      for (const side of sides) {
        const version = `v${++release}`;
        const artifact = await fleet.artifact(version);
        const connectionsBefore = await sshConnections(fleet);
        const record = records[side];
        // Long enough for the slowest side; it stops when the run ends.
        const traffic = await startLoad({ url: fleet.frontendUrl, rps, durationMs: 280_000 });
        let wallMs: number;
        try {
          wallMs = await deploy[side](version, artifact);
        } finally {
          const tally = await traffic.stop();
          record.failed.push(tally.failed);
          record.sent.push(tally.sent);
          record.firstFailures.push(...tally.firstFailures.slice(0, 3));
        }
        await verifyFleet(fleet, version, side);
        record.walls.push(round(wallMs));
        record.connections.push((await sshConnections(fleet)) - connectionsBefore);
        log(
          `run ${run + 1}/${runs}: ${side} deployed ${version} to ${hostCount} hosts in ${round(wallMs)} ms, ${record.failed.at(-1)} of ${record.sent.at(-1)} requests failed (every host serves it, HAProxy has all UP)`,
        );
      }
    }
    const ship = summary(records.ship, hostCount);
    const ansibleStock = summary(records.ansibleStock, hostCount);
    const ansible = summary(records.ansible, hostCount);
    const ansibleStaged = summary(records.ansibleStaged, hostCount);
    const ratio = Number((ship.medianMs / ansible.medianMs).toFixed(3));
    const stockRatio = Number((ship.medianMs / ansibleStock.medianMs).toFixed(3));
    const socat = toolVersion('socat', ['-V'], /^socat version/).replace(/ on .*$/, '');
    console.log(
      JSON.stringify(
        {
          benchmark: 'ansible',
          hosts: hostCount,
          runs,
          rps,
          haproxyCheck: `check inter ${HAPROXY_CHECK.inter} fall ${HAPROXY_CHECK.fall} rise ${HAPROXY_CHECK.rise}`,
          ship: { command: `${SHIP_AS_PUBLISHED}: deploy --json`, ...ship },
          ansibleStock: {
            command: `ansible-playbook -i <inventory> ${PLAYBOOK_PATHS.ansibleStock}`,
            haproxyVia: 'community.general.haproxy (state disabled + drain + wait, then state enabled + wait; wait_interval 1 s, the default is 5 s)',
            ...ansibleStock,
          },
          ansible: { command: `ansible-playbook -i <inventory> ${PLAYBOOK_PATHS.ansible}`, haproxyVia: `runtime API commands with ${socat}`, ...ansible },
          ansibleStaged: {
            command: `ansible-playbook -i <inventory> ${PLAYBOOK_PATHS.ansibleStaged}`,
            haproxyVia: `runtime API commands with ${socat}`,
            ...ansibleStaged,
            shipRatio: Number((ship.medianMs / ansibleStaged.medianMs).toFixed(3)),
          },
          stockRatio,
          stockTarget: `ship <= ${TARGETS.stockRatio} x Ansible's stock rolling update (${PLAYBOOK_PATHS.ansibleStock}), issue 17`,
          stockMet: stockRatio <= TARGETS.stockRatio,
          ratio,
          target: `ship <= ${TARGETS.ratio} x Ansible (${PLAYBOOK_PATHS.ansible}), issue 7`,
          met: ratio <= TARGETS.ratio,
          failedRequestsMet: SIDES.every((side) => records[side].failed.every((n) => n === 0)),
          load: `${rps} requests/s through HAProxy's frontend during every run of every side (half keep-alive, half a fresh connection each), counted by the load generator`,
          tools: {
            ansible: toolVersion('ansible-playbook', ['--version']),
            communityGeneral: toolVersion('ansible-galaxy', ['collection', 'list', 'community.general'], /^community\.general\s/).replace(/\s+/g, ' '),
            ansibleConfig: 'bench/ansible/ansible.cfg (pipelining, ControlPersist, gather_facts false, forks 16); a fresh ControlPath folder per run, masters stopped after it',
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
