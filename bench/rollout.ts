/**
 * Rollout benchmark (issue 2, item 12; issue 17, item 1): per-host time out of rotation and total
 * rollout time of `ship deploy` on a local fleet of real hosts (sshd + app each) behind a real
 * HAProxy checking `inter 500ms fall 2 rise 2` (a common production setting), under steady load,
 * against the floor: the same drain, activate and becoming-healthy operations done directly on
 * the same fleet with the least overhead possible (runtime API over the local unix socket,
 * restart.sh run locally without SSH, /healthz and HAProxy polled every millisecond). ship
 * confirms a host with one HAProxy check that started after its restart (loadBalancer.confirm
 * 'one-check', the default), and so does the floor; ship with confirm 'rise' (HAProxy counts its
 * own `rise` checks, as ship did before) is measured alongside, for the trade-off.
 *
 * ship runs as users run it: `node bin/ship.js` (package.json's bin) after `npm run build`, which
 * this script runs first: tsc, then esbuild's bundle of the CLI that bin/ship.js loads; with `--json`. In each run: a rollout with 'one-check', one with 'rise', then a
 * floor round, each under its own load generator, so background noise hits all of them. Every
 * request the load sends is counted: none may fail. Prints one JSON object.
 *
 *   node --import tsx bench/rollout.ts [--runs 5] [--hosts 8]
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, readlink, rename, symlink } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '../src/config/load.js';
import type { ShipEvent } from '../src/events.js';
import { parseServersState } from '../src/lb/haproxy-runtime.js';
import { startFleet, type Fleet, type FleetHost } from '../test/fleet/fleet.js';
import { startLoad, type LoadHandle, type LoadTally } from '../test/fleet/loadgen.js';
import { argument, buildAsPublished, median, runCommand, runtimeApi, SHIP_AS_PUBLISHED, SHIP_BIN } from './lib/common.js';

const BACKEND = 'app';
/** How often the floor asks HAProxy and the app again: as tight as is useful on loopback. */
const FLOOR_POLL_MS = 1;
const FLOOR_DEADLINE_MS = 10_000;
const HEALTH = { http: { port: 8080, path: '/healthz', successThreshold: 1, interval: '10ms', timeout: '1s' } };
/** HAProxy's health checks of the fleet: a common production setting, where `rise` used to cost a second per host. */
const HAPROXY_CHECK = { inter: '500ms', fall: 2, rise: 2 } as const;
/** Requests per second through HAProxy during every rollout and floor round. */
const LOAD_RPS = 300;
const TARGETS = { outOfRotationRatio: 1.5, outOfRotationMs: 600 };

const execFileAsync = promisify(execFile);

const round = (value: number) => Math.round(value * 10) / 10;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function runtimeApiSilent(socketPath: string, command: string): Promise<void> {
  const answer = (await runtimeApi(socketPath, command)).trim();
  if (answer !== '') throw new Error(`haproxy refused '${command}': ${answer}`);
}

/** scur and status of one server, from `show stat` CSV. */
async function serverStat(socketPath: string, server: string): Promise<{ sessions: number; status: string }> {
  const csv = await runtimeApi(socketPath, `show stat ${BACKEND} 4 -1`);
  const [header, ...rows] = csv.split('\n');
  const columns = (header ?? '').replace(/^# /, '').split(',');
  const row = rows.map((line) => line.split(',')).find((fields) => fields[columns.indexOf('svname')] === server);
  if (!row) throw new Error(`haproxy has no server ${BACKEND}/${server}: ${csv.slice(0, 200)}`);
  return { sessions: Number(row[columns.indexOf('scur')]), status: row[columns.indexOf('status')] ?? '' };
}

async function serverState(socketPath: string, server: string) {
  const row = parseServersState(await runtimeApi(socketPath, `show servers state ${BACKEND}`)).find((r) => r.name === server);
  if (!row) throw new Error(`haproxy has no server ${BACKEND}/${server}`);
  return row;
}

async function pollUntil(what: string, probe: () => Promise<boolean>): Promise<void> {
  const started = performance.now();
  while (!(await probe())) {
    if (performance.now() - started > FLOOR_DEADLINE_MS) throw new Error(`floor: ${what} not reached within ${FLOOR_DEADLINE_MS}ms`);
    await sleep(FLOOR_POLL_MS);
  }
}

function healthzOk(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const request = http.get(url, { agent: false, timeout: 1000, headers: { connection: 'close' } }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode === 200));
      response.on('error', () => resolve(false));
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(false));
  });
}

interface Split {
  drain: number;
  activate: number;
  health: number;
  lbHealthy: number;
  total: number;
}

/**
 * The floor for one host: exactly what ship does while the host is out of rotation, done directly.
 * The release it switches to is `release` (an existing directory under releases/).
 */
async function floorOnce(fleet: Fleet, host: FleetHost, release: string): Promise<Split> {
  const socket = fleet.haproxy.socketPath;
  const server = `${BACKEND}/${host.name}`;
  const started = performance.now();
  await runtimeApiSilent(socket, `set server ${server} state drain`);
  await pollUntil(`${host.name} drained`, async () => (await serverStat(socket, host.name)).sessions === 0);
  await runtimeApiSilent(socket, `set server ${server} state maint`);
  const drained = performance.now();
  const current = join(host.appDir, 'current');
  await symlink(release, `${current}.next`);
  await rename(`${current}.next`, current);
  await execFileAsync('sh', [join(host.appDir, 'restart.sh'), host.appDir]);
  const activated = performance.now();
  await pollUntil(`${host.name} /healthz`, () => healthzOk(`${host.appUrl}healthz`));
  const healthy = performance.now();
  // What HAProxyLoadBalancer.putBack does with confirm 'one-check': leave maintenance only once no
  // check from before the restart runs, forced down, then up as soon as one check passed.
  await pollUntil(`${host.name} no check running`, async () => !(await serverState(socket, host.name)).checkInProgress);
  await runtimeApiSilent(socket, `set server ${server} state drain; set server ${server} health down`);
  await pollUntil(`${host.name} one check passed`, async () => {
    const state = await serverState(socket, host.name);
    return state.checkHealth > 0 && !state.checkInProgress;
  });
  await runtimeApiSilent(socket, `set server ${server} health up; set server ${server} state ready`);
  await pollUntil(`${host.name} UP in haproxy`, async () => (await serverStat(socket, host.name)).status === 'UP');
  const up = performance.now();
  return { drain: drained - started, activate: activated - drained, health: healthy - activated, lbHealthy: up - healthy, total: up - started };
}

interface RolloutRun {
  /** The whole command, from spawn to exit. */
  wallMs: number;
  /** ship's own figure: config loaded to run finished (pre-flight, stage, every batch). */
  durationMs: number;
  /** Spawn to ship's first event: node start, module loading, config loading. */
  startupMs: number;
  /** ship's last event to process exit: closing connections. */
  exitMs: number;
  hosts: Array<Split & { host: string; other: number; restartStep: number; switchStep: number }>;
  /** The run summary's note on the load balancer's wait, when ship gave one. */
  note?: string;
}

/** Per-host split of ship's time out of rotation, from the state transitions in the event stream. */
function splitFromEvents(events: ShipEvent[]): RolloutRun['hosts'] {
  const finished = events.find((e) => e.type === 'run.finished');
  if (finished?.type !== 'run.finished') throw new Error('no run.finished event');
  return finished.summary.hosts.map((summary) => {
    const host = summary.host;
    const at = (state: string) => {
      const event = events.find((e) => e.type === 'instance.state' && e.host === host && e.to === state);
      if (!event) throw new Error(`${host}: no transition to ${state} in the events`);
      return Date.parse(event.time);
    };
    const step = (name: string) => {
      const event = events.find((e) => e.type === 'step.finished' && e.host === host && e.phase === 'activate' && e.step === name);
      return event && event.type === 'step.finished' ? event.durationMs : Number.NaN;
    };
    const lbHealthy = events.find((e) => e.type === 'lb.healthy' && e.host === host);
    const drain = at('out') - at('draining');
    const activate = at('verifying') - at('out');
    const health = at('registering') - at('verifying');
    const lb = lbHealthy && lbHealthy.type === 'lb.healthy' ? lbHealthy.durationMs : at('in-service') - at('registering');
    const total = summary.outOfRotationMs;
    return { host, drain, activate, health, lbHealthy: lb, total, other: total - drain - activate - health - lb, restartStep: step('restart'), switchStep: step('switch current') };
  });
}

async function rolloutOnce(config: string, version: string, artifact: string, fleet: Fleet): Promise<RolloutRun> {
  const spawned = Date.now();
  const started = performance.now();
  const result = await runCommand(process.execPath, [SHIP_BIN, 'deploy', '--config', config, '--version', version, '--artifact', artifact, '--json'], { CI: 'true' });
  const wallMs = performance.now() - started;
  const exited = Date.now();
  const events = result.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as ShipEvent);
  const first = events[0];
  const finished = events.find((e) => e.type === 'run.finished');
  if (result.code !== 0 || !first || !finished || finished.type !== 'run.finished' || finished.status !== 'succeeded') {
    throw new Error(`ship deploy --version ${version} exited ${result.code}:\n${result.stderr.slice(-2000)}\n${result.stdout.slice(-3000)}`);
  }
  for (const host of fleet.hosts) {
    const served = (await (await fetch(host.appUrl)).json()) as { version: string };
    if (served.version !== version) throw new Error(`${host.name} serves ${served.version} after deploying ${version}`);
  }
  const note = finished.summary.loadBalancerWait?.line;
  return {
    wallMs,
    durationMs: finished.durationMs,
    startupMs: Date.parse(first.time) - spawned,
    exitMs: exited - Date.parse(finished.time),
    hosts: splitFromEvents(events),
    ...(note ? { note } : {}),
  };
}

/** Runs `work` under steady load through HAProxy and returns its result with the load's tally. */
async function underLoad<T>(fleet: Fleet, work: () => Promise<T>): Promise<{ result: T; load: LoadTally }> {
  const load: LoadHandle = await startLoad({ url: fleet.frontendUrl, rps: LOAD_RPS, durationMs: 120_000 });
  try {
    await sleep(300);
    const result = await work();
    await sleep(300);
    return { result, load: await load.stop() };
  } catch (error) {
    await load.stop().catch(() => undefined);
    throw error;
  }
}

interface LoadRecord {
  sent: number;
  failed: number;
}

function loadRecord(tally: LoadTally): LoadRecord {
  return { sent: tally.sent, failed: tally.failed };
}

function summarize<T extends object>(samples: T[], keys: Array<keyof T>): Record<string, number> {
  return Object.fromEntries(keys.map((key) => [key, round(median(samples.map((s) => Number(s[key]))))]));
}

/** The health-check settings HAProxy actually runs with, from its config file. */
async function haproxyCheckLine(fleet: Fleet): Promise<string> {
  const config = await readFile(fleet.haproxy.configPath, 'utf8');
  return /^\s*default-server (.*)$/m.exec(config)?.[1]?.trim() ?? 'unknown';
}

async function main(): Promise<void> {
  const runs = argument('runs', 5);
  const hostCount = argument('hosts', 8);
  buildAsPublished();

  const fleet = await startFleet({ hosts: hostCount, check: HAPROXY_CHECK });
  try {
    const config = await fleet.writeConfig({ health: HEALTH });
    const riseConfig = await fleet.writeConfig({ health: HEALTH, loadBalancer: { confirm: 'rise' } }, 'ship-rise.config.ts');
    // The settings as ship resolves them (defaults included), for the record.
    const loaded = await loadConfig(config);
    const rollouts: RolloutRun[] = [];
    const riseRollouts: RolloutRun[] = [];
    const floors: Split[] = [];
    const loads: { ship: LoadRecord[]; rise: LoadRecord[]; floor: LoadRecord[] } = { ship: [], rise: [], floor: [] };
    for (let run = 0; run < runs; run++) {
      const version = `v${2 * run + 2}`;
      const riseVersion = `v${2 * run + 3}`;
      const one = await underLoad(fleet, async () => rolloutOnce(config, version, await fleet.artifact(version), fleet));
      rollouts.push(one.result);
      loads.ship.push(loadRecord(one.load));
      const rise = await underLoad(fleet, async () => rolloutOnce(riseConfig, riseVersion, await fleet.artifact(riseVersion), fleet));
      riseRollouts.push(rise.result);
      loads.rise.push(loadRecord(rise.load));
      // The floor switches every host back to the release it ran before (still on disk) and restarts it.
      const floor = await underLoad(fleet, async () => {
        const round: Split[] = [];
        for (const host of fleet.hosts) {
          const previous = `releases/${version}`;
          if (!existsSync(join(host.appDir, previous))) {
            throw new Error(`${host.name}: ${previous} is no longer on disk for the floor to switch to (current -> ${await readlink(join(host.appDir, 'current'))})`);
          }
          round.push(await floorOnce(fleet, host, previous));
        }
        return round;
      });
      floors.push(...floor.result);
      loads.floor.push(loadRecord(floor.load));
      console.error(
        `run ${run + 1}/${runs}: ${version} in ${round(one.result.durationMs)} ms (wall ${round(one.result.wallMs)} ms), ` +
          `out of rotation median ${round(median(one.result.hosts.map((h) => h.total)))} ms; with confirm 'rise' ${round(rise.result.durationMs)} ms, ` +
          `${round(median(rise.result.hosts.map((h) => h.total)))} ms; floor ${round(median(floor.result.map((f) => f.total)))} ms; ` +
          `failed requests ${one.load.failed}/${one.load.sent}, ${rise.load.failed}/${rise.load.sent}, ${floor.load.failed}/${floor.load.sent}`,
      );
    }

    const hostSamples = rollouts.flatMap((r) => r.hosts);
    const riseSamples = riseRollouts.flatMap((r) => r.hosts);
    const splitKeys: Array<keyof Split> = ['drain', 'activate', 'health', 'lbHealthy', 'total'];
    const ship = summarize(hostSamples, [...splitKeys, 'other', 'switchStep', 'restartStep']);
    const rise = summarize(riseSamples, [...splitKeys, 'other', 'switchStep', 'restartStep']);
    const floor = summarize(floors, splitKeys);
    const ratio = Number((ship.total! / floor.total!).toFixed(3));
    const durationMs = round(median(rollouts.map((r) => r.durationMs)));
    const wallMs = round(median(rollouts.map((r) => r.wallMs)));
    const spread = (samples: Split[]) => {
      const waits = samples.map((s) => s.lbHealthy).sort((a, b) => a - b);
      return { min: round(waits[0]!), p90: round(waits[Math.min(waits.length - 1, Math.floor(waits.length * 0.9))]!), max: round(waits.at(-1)!) };
    };
    const failed = (records: LoadRecord[]) => records.reduce((sum, r) => sum + r.failed, 0);
    const sent = (records: LoadRecord[]) => records.reduce((sum, r) => sum + r.sent, 0);
    console.log(
      JSON.stringify(
        {
          benchmark: 'rollout',
          hosts: hostCount,
          runs,
          ship: `${SHIP_AS_PUBLISHED}: deploy --json`,
          settings: {
            health: loaded.config.health,
            loadBalancerPollIntervalMs: loaded.config.loadBalancer.type === 'haproxy' ? loaded.config.loadBalancer.pollInterval : undefined,
            loadBalancerConfirm: loaded.config.loadBalancer.type === 'haproxy' ? loaded.config.loadBalancer.confirm : undefined,
            rollout: { batchSize: loaded.config.rollout.batchSize, canary: loaded.config.rollout.canary },
            haproxyCheck: await haproxyCheckLine(fleet),
            floorPollMs: FLOOR_POLL_MS,
            loadRps: LOAD_RPS,
          },
          outOfRotation: {
            samples: hostSamples.length,
            shipMedianMs: ship.total,
            floorMedianMs: floor.total,
            floorSamples: floors.length,
            ratio,
            target: `ship <= ${TARGETS.outOfRotationRatio} x floor`,
            met: ratio <= TARGETS.outOfRotationRatio,
            absoluteTarget: `ship <= ${TARGETS.outOfRotationMs} ms`,
            absoluteMet: ship.total! <= TARGETS.outOfRotationMs,
            shipSplitMedianMs: ship,
            floorSplitMedianMs: floor,
            rise: { samples: riseSamples.length, medianMs: rise.total, splitMedianMs: rise },
            lbHealthySpreadMs: { ship: spread(hostSamples), rise: spread(riseSamples), floor: spread(floors) },
          },
          rollout: {
            durationMedianMs: durationMs,
            wallMedianMs: wallMs,
            startupMedianMs: round(median(rollouts.map((r) => r.startupMs))),
            exitMedianMs: round(median(rollouts.map((r) => r.exitMs))),
            durationsMs: rollouts.map((r) => round(r.durationMs)),
            wallsMs: rollouts.map((r) => round(r.wallMs)),
            riseDurationMedianMs: round(median(riseRollouts.map((r) => r.durationMs))),
            riseDurationsMs: riseRollouts.map((r) => round(r.durationMs)),
            note: rollouts.find((r) => r.note)?.note,
            notesGiven: rollouts.filter((r) => r.note).length,
            riseNote: riseRollouts.find((r) => r.note)?.note,
          },
          load: {
            rps: LOAD_RPS,
            target: 'zero failed requests',
            met: failed(loads.ship) + failed(loads.rise) + failed(loads.floor) === 0,
            ship: { sent: sent(loads.ship), failed: failed(loads.ship) },
            rise: { sent: sent(loads.rise), failed: failed(loads.rise) },
            floor: { sent: sent(loads.floor), failed: failed(loads.floor) },
          },
        },
        null,
        2,
      ),
    );
  } finally {
    await fleet.stop();
  }
}

await main();
