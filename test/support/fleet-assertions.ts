/**
 * What the fault tests check on a real fleet after every run: HAProxy's live view (through its
 * runtime API, the judge of what is in or out), the journal ship wrote (read straight from the
 * file store), and the run's own events. Also the helpers to put the fleet back in a known state
 * between tests and to follow a running `ship --json` event by event.
 */
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { readFile, readlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { ResultPromise } from 'execa';
import type { InstanceState, RunSummary, ShipEvent } from '../../src/events.js';
import { FileStateStore } from '../../src/journal/file-store.js';
import type { JournalEntry } from '../../src/journal/state-store.js';
import { HaproxyLoadBalancer } from '../../src/lb/haproxy.js';
import { ADMIN, OP_STATE, RuntimeApiClient, parseRuntimeApi } from '../../src/lb/haproxy-runtime.js';
import { restartApp, unpackRelease } from '../fleet/app/app.js';
import { FLEET_ROOT, type Fleet, type FleetHost } from '../fleet/fleet.js';
import { startSshd } from '../fleet/sshd.js';
import type { ShipRun } from './cli.js';

/** The app every fleet config names (fleetConfig). */
export const FLEET_APP = 'demo';

/** States in which ship has an instance out of rotation (the journal's word for "out"). */
const OUT_STATES: ReadonlySet<InstanceState> = new Set(['draining', 'out', 'activating', 'verifying', 'registering', 'rolling-back', 'failed-out']);

export function haproxyOf(fleet: Fleet): HaproxyLoadBalancer {
  return new HaproxyLoadBalancer({ backend: 'app', nodes: [parseRuntimeApi(fleet.runtimeApi)], pollIntervalMs: 20 });
}

export interface LbMember {
  /** Taken out by someone (drain or maintenance): what ship does to an instance it rolls. */
  adminOut: boolean;
  /** HAProxy's own health checks say it runs. */
  up: boolean;
  /** UP and fully enabled: HAProxy sends it traffic. */
  inService: boolean;
  detail: string;
}

/** HAProxy's live view of every fleet host, by name. */
export async function lbView(fleet: Fleet): Promise<Map<string, LbMember>> {
  const lb = haproxyOf(fleet);
  const client = new RuntimeApiClient(parseRuntimeApi(fleet.runtimeApi));
  try {
    const names = fleet.hosts.map((h) => h.name);
    const [members, states] = await Promise.all([lb.members(names), client.serversState('app')]);
    return new Map(
      members.map((m) => {
        const state = states.find((s) => s.name === m.name);
        assert.ok(state, `HAProxy has no server app/${m.name}`);
        const adminOut = (state.adminState & (ADMIN.drain | ADMIN.maint)) !== 0;
        return [m.name, { adminOut, up: state.opState === OP_STATE.running, inService: m.inService, detail: m.detail }];
      }),
    );
  } finally {
    await Promise.all([lb.close(), client.close()]);
  }
}

export async function versionOf(host: FleetHost): Promise<string> {
  const response = await fetch(host.appUrl);
  return ((await response.json()) as { version: string }).version;
}

export async function currentRelease(host: FleetHost): Promise<string> {
  return basename(await readlink(join(host.appDir, 'current')));
}

/**
 * Starts the host's sshd again as startFleet made it (same address, host key, authorized key and
 * HOME), with `env` added to every session; replaces `host.sshd`. Stops the running one first.
 */
export async function restartSshd(fleet: Fleet, host: FleetHost, env: Record<string, string> = {}): Promise<void> {
  await host.sshd.stop();
  const dir = join(fleet.dir, 'hosts', host.name, 'sshd');
  host.sshd = await startSshd({
    address: host.address,
    port: host.sshd.port,
    dir,
    hostKeyPath: join(dir, 'ssh_host_ed25519_key'),
    authorizedKeys: [await readFile(`${fleet.privateKeyPath}.pub`, 'utf8')],
    env: { HOME: join(fleet.dir, 'hosts', host.name, 'home'), ...env },
  });
}

/**
 * Lazily unmounts file systems a fault test mounted inside a fleet whose test process is gone (an
 * interrupted run): startFleet tears such fleets down, and a mount point in them would stop it.
 */
export async function unmountStaleFleetMounts(): Promise<void> {
  const mounts = (await readFile('/proc/mounts', 'utf8')).split('\n').map((line) => line.split(' ')[1] ?? '');
  for (const mount of mounts.filter((m) => m.startsWith(`${FLEET_ROOT}/`)).reverse()) {
    const fleetDir = join(FLEET_ROOT, mount.slice(FLEET_ROOT.length + 1).split('/')[0]!);
    const owner = Number((await readFile(join(fleetDir, 'owner.pid'), 'utf8').catch(() => '0')).trim());
    if (owner > 0 && processAlive(owner)) continue;
    await execa('umount', ['-l', mount], { reject: false });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whatever the previous test left: every host runs `baseline` from `current` and is in service. */
export async function resetFleet(fleet: Fleet, baseline: string): Promise<void> {
  const artifact = await fleet.artifact(baseline);
  await Promise.all(
    fleet.hosts.map(async (host) => {
      const serving = await versionOf(host).catch(() => 'down');
      const current = await currentRelease(host).catch(() => 'none');
      if (serving === baseline && current === baseline) return;
      await unpackRelease(host.appDir, artifact, baseline);
      await restartApp(host.appDir);
    }),
  );
  const lb = haproxyOf(fleet);
  try {
    const names = fleet.hosts.map((h) => h.name);
    for (const member of await lb.members(names)) if (!member.inService) await lb.putBack(member.name, { deadlineMs: 5_000 });
    await Promise.all(names.map((name) => lb.waitHealthy(name, { deadlineMs: 5_000 })));
  } finally {
    await lb.close();
  }
}

/** Calls `onEvent` with each NDJSON event as the child prints it. */
export function watchEvents(child: ResultPromise, onEvent: (event: ShipEvent) => void): void {
  let buffered = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) if (line.startsWith('{')) onEvent(JSON.parse(line) as ShipEvent);
  });
}

/** Most instances out of service at the same moment, from the state events (`initiallyOut`: left out by an earlier run). */
export function maxOutAtOnce(events: ShipEvent[], initiallyOut = 0): number {
  let out = initiallyOut;
  let max = out;
  for (const event of events) {
    if (event.type !== 'instance.state') continue;
    if (event.from === 'in-service') out++;
    if (event.to === 'in-service') out--;
    max = Math.max(max, out);
  }
  return max;
}

/** Hosts that changed state at all during the run. */
export function touchedHosts(events: ShipEvent[]): string[] {
  return [...new Set(events.flatMap((e) => (e.type === 'instance.state' ? [e.host] : [])))];
}

export function describeRun(run: ShipRun): string {
  return `exit ${run.code}\nstderr:\n${run.stderr}\nstdout (end):\n${run.stdout.slice(-4000)}`;
}

export function finishedEvent(run: ShipRun): Extract<ShipEvent, { type: 'run.finished' }> {
  const event = run.events.find((e) => e.type === 'run.finished');
  assert.ok(event && event.type === 'run.finished', `no run.finished event:\n${describeRun(run)}`);
  return event;
}

/** The file store of a config written next to the fleet (`.ship` beside the config file). */
export function stateStoreOf(configPath: string): FileStateStore {
  return new FileStateStore(join(dirname(configPath), '.ship'));
}

/** The newest run of the fleet's app in the journal next to `configPath`. */
export async function lastJournalRun(configPath: string): Promise<JournalEntry | undefined> {
  const store = stateStoreOf(configPath);
  try {
    return await store.lastRun(FLEET_APP);
  } finally {
    await store.close();
  }
}

/** The journal's last word on each host. */
export function journalStates(entry: JournalEntry | undefined): Map<string, InstanceState> {
  const states = new Map<string, InstanceState>();
  for (const t of entry?.transitions ?? []) states.set(t.host, t.to);
  return states;
}

export interface InvariantOptions {
  /** The documented exit code this run must end with. */
  code: number;
  /** Most instances the batch size allows out at once. */
  batchSize?: number;
  /** Where the journal is; omit when the run used another state store. */
  configPath?: string;
  /** The run's summary; taken from its run.finished event when omitted. */
  summary?: RunSummary;
  /** Instances an earlier (interrupted) run left out when this one started. */
  initiallyOut?: number;
  /**
   * Instances an earlier run left out that this run never touched (it was refused): the journal
   * must still record them out, but this run's summary does not speak for them.
   */
  leftOutBefore?: string[];
}

/**
 * The invariants every fault must keep: the documented exit code; never more instances out at
 * once than the batch allows (from the run's own `instance.state` events); and no instance taken
 * out of HAProxy (drain or maintenance, as its runtime API reports now) without being in the
 * final summary's `outOfRotation` and, by its last recorded state, out in the journal.
 */
export async function assertInvariants(fleet: Fleet, run: ShipRun, options: InvariantOptions): Promise<void> {
  assert.equal(run.code, options.code, `exit code: expected ${options.code}\n${describeRun(run)}`);
  const batchSize = options.batchSize ?? 1;
  assert.ok(maxOutAtOnce(run.events, options.initiallyOut) <= batchSize, `more than ${batchSize} instance(s) out at once:\n${describeRun(run)}`);
  const summary = options.summary ?? finishedEvent(run).summary;
  for (const [name, member] of await lbView(fleet)) {
    if (!member.adminOut) continue;
    const ownedByEarlierRun = options.leftOutBefore?.includes(name) && !touchedHosts(run.events).includes(name);
    assert.ok(
      ownedByEarlierRun || summary.outOfRotation.includes(name),
      `${name} is out of HAProxy (${member.detail}) but not in summary.outOfRotation ${JSON.stringify(summary.outOfRotation)}`,
    );
  }
  if (options.configPath) await assertJournalRecordsOut(fleet, options.configPath);
}

/** Every instance taken out of HAProxy (drain or maintenance) is out by the journal's last word on it. */
export async function assertJournalRecordsOut(fleet: Fleet, configPath: string): Promise<void> {
  const journal = journalStates(await lastJournalRun(configPath));
  for (const [name, member] of await lbView(fleet)) {
    if (!member.adminOut) continue;
    const recorded = journal.get(name) ?? 'in-service';
    assert.ok(OUT_STATES.has(recorded), `${name} is out of HAProxy (${member.detail}) but the journal's last word on it is '${recorded}'`);
  }
}

/** Every host serves `version` from `current` and HAProxy sends it traffic. */
export async function assertAllOn(fleet: Fleet, version: string, hosts: FleetHost[] = fleet.hosts): Promise<void> {
  const view = await lbView(fleet);
  for (const host of hosts) {
    assert.equal(await versionOf(host), version, `${host.name} does not serve ${version}`);
    assert.equal(await currentRelease(host), version, `${host.name}'s current release is not ${version}`);
    assert.equal(view.get(host.name)?.inService, true, `${host.name} is not UP/ready in HAProxy: ${view.get(host.name)?.detail}`);
  }
}
