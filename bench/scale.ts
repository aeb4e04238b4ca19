/**
 * Scale on real hosts (issue 17, item 4): a rolling deploy of 32 and 64 hosts on loopback (sshd
 * and app each, one HAProxy in front with `check inter 500ms fall 2 rise 2`), a quarter of them at
 * a time, under steady HTTP load, by
 *   - ship: `node bin/ship.js deploy --json` as package.json's bin runs it, after `npm run build`
 *     (tsc, then the esbuild bundle bin/ship.js loads), `rollout.batchSize:
 *     '25%'`, `canary: false` (Ansible's `serial: "25%"` has no canary either);
 *   - Ansible: bench/ansible/rolling-deploy-25.yml, `serial: "25%"` (upload and unpack while each
 *     host is out: the usual layout), and rolling-deploy-staged-25.yml (upload and unpack on every
 *     host first, as ship does: the same procedure). Same tasks as bench/ansible.ts.
 * Recorded: wall time, requests that failed under the load (the load generator's own tally), ship's
 * peak RSS and CPU (GNU time), and where ship's time goes per batch (from its events). Sides
 * alternate; after every run each host serves the new version and HAProxy has every server UP.
 * Prints one JSON object. `--sides ship` runs ship alone (no ratio then), to look at ship's time.
 *
 *   node --import tsx bench/scale.ts [--runs 3] [--sizes 32,64] [--rps 200] [--sides ship,ansible,ansibleStaged]
 */
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { ShipEvent } from '../src/events.js';
import { startFleet, type Fleet } from '../test/fleet/fleet.js';
import { startLoad, type LoadTally } from '../test/fleet/loadgen.js';
import { ANSIBLE_DIR, ansibleOnce, closeControlMasters, writeInventory } from './lib/ansible-fleet.js';
import { argument, buildAsPublished, median, runCommand, runtimeApi, SHIP_AS_PUBLISHED, SHIP_BIN } from './lib/common.js';

const PLAYBOOKS = { ansible: join(ANSIBLE_DIR, 'rolling-deploy-25.yml'), ansibleStaged: join(ANSIBLE_DIR, 'rolling-deploy-staged-25.yml') };
const HAPROXY_CHECK = { inter: '500ms', fall: 2, rise: 2 };
const BACKEND = 'app';
const TARGETS = { ratio: 0.12, peakRssMb: 150, failedRequests: 0 };

type Side = 'ship' | 'ansible' | 'ansibleStaged';
const ALL_SIDES: Side[] = ['ship', 'ansible', 'ansibleStaged'];

function sidesArgument(): Side[] {
  const at = process.argv.indexOf('--sides');
  if (at === -1) return ALL_SIDES;
  const sides = process.argv[at + 1]!.split(',');
  const unknown = sides.filter((side) => !ALL_SIDES.includes(side as Side));
  if (unknown.length > 0 || !sides.includes('ship')) throw new Error(`--sides takes ship and any of ansible, ansibleStaged (got ${process.argv[at + 1]})`);
  return sides as Side[];
}
const SIDES = sidesArgument();

const round = (value: number) => Math.round(value * 10) / 10;

function log(line: string): void {
  process.stderr.write(`scale bench: ${line}\n`);
}

function listArgument(name: string, fallback: number[]): number[] {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : process.argv[at + 1]!.split(',').map(Number);
}

async function verifyFleet(fleet: Fleet, version: string, who: string): Promise<void> {
  for (const host of fleet.hosts) {
    const served = (await (await fetch(host.appUrl)).json()) as { version: string };
    if (served.version !== version) throw new Error(`${who}: ${host.name} serves ${served.version} after deploying ${version}`);
  }
  const csv = await runtimeApi(fleet.haproxy.socketPath, `show stat ${BACKEND} 4 -1`);
  const [header, ...rows] = csv.trim().split('\n');
  const columns = (header ?? '').replace(/^# /, '').split(',');
  const notUp = rows.map((line) => line.split(',')).filter((fields) => fields[columns.indexOf('status')] !== 'UP');
  if (notUp.length > 0 || rows.length !== fleet.hosts.length) throw new Error(`${who}: after deploying ${version} HAProxy does not have every server UP`);
}

/** One host's time out of rotation, split by the states ship went through. */
interface HostSplit {
  host: string;
  /** Batch started to this host's drain: the journal write before it, and waiting for a turn. */
  startMs: number;
  /** Drain: sessions at 0, maintenance. */
  drainMs: number;
  /** activate: switch + restart on the host (two SSH commands). */
  activateMs: number;
  /** ship's own health check (/healthz). */
  healthMs: number;
  /** Put back, until HAProxy confirms it. */
  lbHealthyMs: number;
  /** Between those: journal writes and bookkeeping. */
  otherMs: number;
  totalMs: number;
}

interface BatchSplit {
  index: number;
  hosts: number;
  durationMs: number;
  /** Previous batch finished (or stage) to this one starting: the capacity check. */
  beforeMs: number;
  /** Medians over the batch's hosts. */
  drainMs: number;
  activateMs: number;
  healthMs: number;
  lbHealthyMs: number;
  /** The batch's slowest host, drain to back UP. */
  slowestOutOfRotationMs: number;
  /** The slowest host's split: it sets the batch's pace. */
  slowest: HostSplit;
}

/** Where ship's time goes before the first batch (from its events). */
interface RunPhases {
  /** Spawned to its first event: node start, module and config loading. */
  startupMs?: number;
  /** Run started to stage started: pre-flight (lock, SSH to every host, load balancer). */
  preflightMs: number;
  /** Upload and unpack on every host while they serve. */
  stageMs: number;
  /** Every batch, first started to last finished. */
  batchesMs: number;
}

interface ShipRun {
  wallMs: number;
  durationMs: number;
  startupMs: number;
  peakRssMb: number;
  cpuMs: number;
  /** Node warnings ship printed (MaxListenersExceededWarning and the like): a wide batch printed two before. */
  warnings: string[];
  phases: RunPhases;
  batches: BatchSplit[];
}

function phasesFromEvents(events: ShipEvent[]): RunPhases {
  const time = (type: ShipEvent['type'], last = false) => {
    const matching = events.filter((e) => e.type === type);
    const event = last ? matching.at(-1) : matching[0];
    return event ? Date.parse(event.time) : Number.NaN;
  };
  return {
    preflightMs: time('stage.started') - time('run.started'),
    stageMs: time('stage.finished') - time('stage.started'),
    batchesMs: time('batch.finished', true) - time('batch.started'),
  };
}

function batchesFromEvents(events: ShipEvent[]): BatchSplit[] {
  const at = (host: string, state: string) => {
    const event = events.find((e) => e.type === 'instance.state' && e.host === host && e.to === state);
    return event ? Date.parse(event.time) : Number.NaN;
  };
  const finished = new Map<number, { durationMs: number; time: number }>();
  for (const event of events) if (event.type === 'batch.finished') finished.set(event.index, { durationMs: event.durationMs, time: Date.parse(event.time) });
  const stageFinished = events.find((e) => e.type === 'stage.finished');
  return events.flatMap((event): BatchSplit[] => {
    if (event.type !== 'batch.started') return [];
    const started = Date.parse(event.time);
    const split = (host: string): HostSplit => {
      const e = events.find((x) => x.type === 'lb.healthy' && x.host === host);
      const lbHealthyMs = e && e.type === 'lb.healthy' ? e.durationMs : at(host, 'in-service') - at(host, 'registering');
      const drainMs = at(host, 'out') - at(host, 'draining');
      const activateMs = at(host, 'verifying') - at(host, 'activating');
      const healthMs = at(host, 'registering') - at(host, 'verifying');
      const totalMs = at(host, 'in-service') - at(host, 'draining');
      return {
        host,
        startMs: at(host, 'draining') - started,
        drainMs,
        activateMs,
        healthMs,
        lbHealthyMs: round(lbHealthyMs),
        otherMs: round(totalMs - drainMs - activateMs - healthMs - lbHealthyMs),
        totalMs,
      };
    };
    const splits = event.hosts.map(split);
    const per = (key: keyof Omit<HostSplit, 'host'>) => round(median(splits.map((s) => s[key])));
    const slowest = splits.reduce((a, b) => (b.startMs + b.totalMs > a.startMs + a.totalMs ? b : a));
    const previous = event.index === 1 ? (stageFinished ? Date.parse(stageFinished.time) : Number.NaN) : (finished.get(event.index - 1)?.time ?? Number.NaN);
    return [
      {
        index: event.index,
        hosts: event.hosts.length,
        durationMs: round(finished.get(event.index)?.durationMs ?? Number.NaN),
        beforeMs: started - previous,
        drainMs: per('drainMs'),
        activateMs: per('activateMs'),
        healthMs: per('healthMs'),
        lbHealthyMs: per('lbHealthyMs'),
        slowestOutOfRotationMs: slowest.totalMs,
        slowest,
      },
    ];
  });
}

async function shipOnce(config: string, version: string, artifact: string): Promise<ShipRun> {
  const spawned = Date.now();
  const started = performance.now();
  // GNU time's last stderr line: peak RSS (KB), user and system CPU (s).
  const result = await runCommand(
    '/usr/bin/time',
    ['-f', 'ship-rusage %M %U %S', process.execPath, SHIP_BIN, 'deploy', '--config', config, '--version', version, '--artifact', artifact, '--json'],
    {
      CI: 'true',
    },
  );
  const wallMs = performance.now() - started;
  const events = result.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as ShipEvent);
  const done = events.find((event) => event.type === 'run.finished');
  if (result.code !== 0 || !done || done.type !== 'run.finished' || done.status !== 'succeeded') {
    // Kept for a look at what happened: the fleet's own folder goes with it.
    const kept = `/tmp/ship-scale-failed-${version}-${process.pid}.ndjson`;
    await writeFile(kept, result.stdout);
    const why = done?.type === 'run.finished' ? `${done.status}: ${done.summary.error ?? ''}` : 'no run.finished';
    throw new Error(`ship deploy --version ${version} exited ${result.code} (${why}); its events are in ${kept}:\n${result.stderr.slice(-2000)}`);
  }
  const usage = /ship-rusage (\d+) ([\d.]+) ([\d.]+)/.exec(result.stderr);
  if (!usage) throw new Error(`no resource usage from /usr/bin/time: ${result.stderr.slice(-500)}`);
  return {
    wallMs,
    durationMs: done.durationMs,
    startupMs: Date.parse(events[0]!.time) - spawned,
    peakRssMb: round(Number(usage[1]) / 1024),
    cpuMs: round((Number(usage[2]) + Number(usage[3])) * 1000),
    warnings: result.stderr.split('\n').filter((line) => /^\(node:\d+\) \w*Warning/.test(line)),
    phases: { startupMs: Date.parse(events[0]!.time) - spawned, ...phasesFromEvents(events) },
    batches: batchesFromEvents(events),
  };
}

async function size(hosts: number, runs: number, rps: number) {
  const fleet = await startFleet({ hosts, check: HAPROXY_CHECK });
  const controlDir = join(fleet.dir, 'ansible-cp');
  try {
    const config = await fleet.writeConfig({ rollout: { batchSize: '25%', canary: false } });
    const inventory = await writeInventory(fleet, BACKEND);
    const walls: Record<Side, number[]> = { ship: [], ansible: [], ansibleStaged: [] };
    const failed: Record<Side, number[]> = { ship: [], ansible: [], ansibleStaged: [] };
    const sent: Record<Side, number[]> = { ship: [], ansible: [], ansibleStaged: [] };
    const shipRuns: ShipRun[] = [];
    const firstFailures: Record<Side, LoadTally['firstFailures']> = { ship: [], ansible: [], ansibleStaged: [] };
    const load1: number[] = [];
    let release = 1;
    for (let run = 0; run < runs; run++) {
      for (const side of SIDES.map((_, i) => SIDES[(i + run) % SIDES.length]!)) {
        const version = `v${++release}`;
        const artifact = await fleet.artifact(version);
        load1.push(Number(loadavg()[0]!.toFixed(2)));
        const load = await startLoad({ url: fleet.frontendUrl, rps, durationMs: 280_000 });
        let wallMs: number;
        try {
          if (side === 'ship') {
            const shipRun = await shipOnce(config, version, artifact);
            shipRuns.push(shipRun);
            wallMs = shipRun.wallMs;
          } else {
            wallMs = await ansibleOnce(inventory, PLAYBOOKS[side], version, artifact, controlDir);
          }
        } finally {
          const tally = await load.stop();
          failed[side].push(tally.failed);
          sent[side].push(tally.sent);
          firstFailures[side].push(...tally.firstFailures.slice(0, 3));
        }
        await verifyFleet(fleet, version, side);
        walls[side].push(round(wallMs));
        log(`${hosts} hosts, run ${run + 1}/${runs}: ${side} ${round(wallMs)} ms, ${failed[side].at(-1)} of ${sent[side].at(-1)} requests failed`);
      }
    }
    const medianShip = [...shipRuns].sort((a, b) => a.wallMs - b.wallMs)[shipRuns.length >> 1]!;
    const side = (name: Side) => ({
      medianMs: round(median(walls[name])),
      runsMs: walls[name],
      failedRequests: failed[name],
      requestsSent: sent[name],
      firstFailures: firstFailures[name].slice(0, 5),
    });
    const ship = side('ship');
    const ansible = side('ansible');
    const ansibleStaged = side('ansibleStaged');
    const ratio = Number((ship.medianMs / ansible.medianMs).toFixed(3));
    const peakRssMb = Math.max(...shipRuns.map((r) => r.peakRssMb));
    return {
      hosts,
      batches: medianShip.batches.length,
      ship: {
        ...ship,
        peakRssMb: shipRuns.map((r) => r.peakRssMb),
        cpuMs: shipRuns.map((r) => r.cpuMs),
        durationMs: shipRuns.map((r) => round(r.durationMs)),
        startupMs: shipRuns.map((r) => r.startupMs),
        warnings: shipRuns.map((r) => r.warnings),
        medianRunPhases: medianShip.phases,
        medianRunBatches: medianShip.batches,
      },
      ansible,
      ansibleStaged: { ...ansibleStaged, shipRatio: Number((ship.medianMs / ansibleStaged.medianMs).toFixed(3)) },
      ratio,
      met: {
        ratio: ratio <= TARGETS.ratio,
        failedRequests: [...failed.ship].every((n) => n <= TARGETS.failedRequests),
        peakRss: peakRssMb <= TARGETS.peakRssMb,
      },
      load1,
    };
  } finally {
    await closeControlMasters(controlDir);
    await fleet.stop();
  }
}

async function main(): Promise<void> {
  const runs = argument('runs', 3);
  const rps = argument('rps', 200);
  const sizes = listArgument('sizes', [32, 64]);
  if (spawnSync('sh', ['-c', 'command -v ansible-playbook && command -v socat && test -x /usr/bin/time'], { stdio: 'ignore' }).status !== 0) {
    throw new Error('the scale benchmark needs ansible-playbook, socat and GNU time (/usr/bin/time); bench/ansible.ts installs the first two');
  }
  buildAsPublished();
  const results = [];
  for (const hosts of sizes) results.push(await size(hosts, runs, rps));
  console.log(
    JSON.stringify(
      {
        benchmark: 'scale',
        runs,
        rps,
        haproxyCheck: `check inter ${HAPROXY_CHECK.inter} fall ${HAPROXY_CHECK.fall} rise ${HAPROXY_CHECK.rise}`,
        targets: { ratio: `ship <= ${TARGETS.ratio} x Ansible serial 25%`, failedRequests: 'zero failed requests', peakRss: `ship <= ${TARGETS.peakRssMb} MB peak RSS` },
        ship: `${SHIP_AS_PUBLISHED}: deploy --json, rollout.batchSize '25%', canary false; its peak RSS and CPU from GNU time`,
        ansible: 'ansible-playbook bench/ansible/rolling-deploy-25.yml (serial: "25%", upload and unpack while out)',
        ansibleStaged: 'ansible-playbook bench/ansible/rolling-deploy-staged-25.yml (stage every host first, then serial: "25%")',
        load: `${rps} requests/s through HAProxy's frontend during every run (half keep-alive, half a fresh connection each), counted by the load generator`,
        sizes: results,
      },
      null,
      2,
    ),
  );
}

await main();
