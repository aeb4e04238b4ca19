/**
 * A local fleet of real hosts on loopback: per host its own 127.X.Y.n address, OpenSSH sshd
 * (own host key, key-only root login), app directory and app process; HAProxy in front with
 * its runtime API and health checks. Each fleet picks a random 127.X.Y.0/24 block so runs and
 * tests never collide, and a fleet left behind by an interrupted run (its owner process gone)
 * is torn down by the next one.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from './keys.js';
import { installApp, makeReleaseArtifact, stopApp, type AppInstance, type ReleaseOptions } from './app/app.js';
import { startHaproxy, type HaproxyHandle } from './haproxy.js';
import { killStale, startSshd, type SshdHandle } from './sshd.js';
import { cleanupContainers } from './containers.js';

export const FLEET_ROOT = '/tmp/ship-fleet';
const SSH_PORT = 22;
const APP_PORT = 8080;
const FRONTEND_PORT = 80;
const RUNTIME_API_PORT = 9999;

export interface FleetHost {
  name: string;
  address: string;
  appDir: string;
  appUrl: string;
  sshd: SshdHandle;
  app: AppInstance;
}

export interface Fleet {
  dir: string;
  hosts: FleetHost[];
  haproxy: HaproxyHandle;
  frontendUrl: string;
  runtimeApi: string;
  privateKeyPath: string;
  knownHostsPath: string;
  /** Writes a ship config for this fleet and returns its path. */
  writeConfig(overrides?: ConfigOverrides, name?: string): Promise<string>;
  /** A release tarball of the demo app for `version` (with `query`: a release that reads through readUrl). */
  artifact(version: string, options?: ReleaseOptions): Promise<string>;
  /** The PostgreSQL URL every app reads through (FleetOptions.readUrl), if any. */
  readUrl?: string;
  stop(): Promise<void>;
}

export interface ConfigOverrides {
  rollout?: Record<string, unknown>;
  health?: Record<string, unknown>;
  ssh?: Record<string, unknown>;
  vars?: Record<string, unknown>;
  loadBalancer?: Record<string, unknown>;
  hosts?: Array<Record<string, unknown>>;
  /** The config's `notify` section, as written (absent: nobody is told). */
  notify?: Record<string, unknown>;
  /** The config's `playbooks` (e.g. `patch: '/path/to/a/playbook.ts'`). */
  playbooks?: Record<string, string>;
  /** The config's `database` section, as written (absent: ship knows of no database). */
  database?: Record<string, unknown>;
}

export interface FleetOptions {
  hosts: number;
  version?: string;
  /**
   * HAProxy's own health check of the apps; `path` defaults to `/healthz` (ship's own check), `/ready`
   * makes HAProxy check what a release can break for HAProxy alone (ReleaseOptions.readyStatus);
   * `log` logs every check that moves a server's health to haproxy.log.
   */
  check?: { inter: string; fall: number; rise: number; path?: string; log?: boolean };
  /**
   * PostgreSQL URL the apps read through (written into each host's app.env): a release made with a
   * `query` runs it there on every `GET /` and answers 500 when it fails. `/healthz` never reads.
   */
  readUrl?: string;
  /** SQL the first release (`version`) runs through readUrl on every `GET /`. */
  query?: string;
  /** The port HAProxy sends to and checks on each host (default the demo app's, 8080), e.g. a container's. */
  backendPort?: number;
  /** More environment for every SSH session on a host (sshd `SetEnv`), e.g. a container engine's config files. */
  sshEnv?: (host: { name: string; address: string; hostDir: string }) => Record<string, string>;
}

function randomBlock(): string {
  const pick = () => 10 + Math.floor(Math.random() * 240);
  return `127.${pick()}.${pick()}`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Tears down fleets whose owning process is gone (an interrupted test run or demo). */
export async function reapStaleFleets(): Promise<void> {
  const entries = await readdir(FLEET_ROOT).catch(() => [] as string[]);
  for (const entry of entries) {
    const dir = join(FLEET_ROOT, entry);
    // Files beside the fleets (the demo's demo.json) are not fleets: tearing one down as a folder threw ENOTDIR.
    if (!(await stat(dir).catch(() => undefined))?.isDirectory()) continue;
    const owner = Number((await readFile(join(dir, 'owner.pid'), 'utf8').catch(() => '0')).trim());
    if (owner > 0 && alive(owner)) continue;
    await teardownDir(dir);
  }
}

async function teardownDir(dir: string): Promise<void> {
  const hostDirs = (await readdir(join(dir, 'hosts')).catch(() => [] as string[])).map((h) => join(dir, 'hosts', h));
  // Containers, the engine's processes and the registry a container test started under this fleet.
  await cleanupContainers(dir, hostDirs);
  await Promise.all(hostDirs.map((h) => stopApp(join(h, 'app')).catch(() => undefined)));
  await Promise.all(hostDirs.map((h) => killStale(join(h, 'sshd')).catch(() => undefined)));
  const haproxyPid = Number((await readFile(join(dir, 'haproxy', 'haproxy.pid'), 'utf8').catch(() => '0')).trim());
  if (haproxyPid > 0) {
    const cmdline = await readFile(`/proc/${haproxyPid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(dir)) {
      try {
        process.kill(haproxyPid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  await rm(dir, { recursive: true, force: true });
}

export async function startFleet(options: FleetOptions): Promise<Fleet> {
  await reapStaleFleets();
  let block = randomBlock();
  while (existsSync(join(FLEET_ROOT, block))) block = randomBlock();
  const dir = join(FLEET_ROOT, block);
  await mkdir(join(dir, 'hosts'), { recursive: true });
  await writeFile(join(dir, 'owner.pid'), `${process.pid}\n`);
  const stoppers: Array<() => Promise<void>> = [];
  const stop = async () => {
    await Promise.allSettled(
      stoppers
        .splice(0)
        .reverse()
        .map((s) => s()),
    );
    await teardownDir(dir);
  };
  try {
    const key = await generateKeyPair(dir, 'id_ed25519');
    const version = options.version ?? 'v1';
    const firstArtifact = await makeReleaseArtifact(join(dir, 'artifacts'), version, options.query === undefined ? {} : { query: options.query });
    const hosts = await Promise.all(
      Array.from({ length: options.hosts }, async (_, i): Promise<FleetHost> => {
        const name = `web${i + 1}`;
        const address = `${block}.${10 + i}`;
        const hostDir = join(dir, 'hosts', name);
        const appDir = join(hostDir, 'app');
        const sshd = await startSshd({
          address,
          port: SSH_PORT,
          dir: join(hostDir, 'sshd'),
          authorizedKeys: [key.publicKey],
          env: { HOME: join(hostDir, 'home'), ...options.sshEnv?.({ name, address, hostDir }) },
        });
        stoppers.push(() => sshd.stop());
        const app = await installApp({
          appDir,
          address,
          port: APP_PORT,
          name,
          artifact: firstArtifact,
          version,
          ...(options.readUrl === undefined ? {} : { readUrl: options.readUrl }),
        });
        stoppers.push(() => app.stop());
        return { name, address, appDir, appUrl: `http://${address}:${APP_PORT}/`, sshd, app };
      }),
    );
    const knownHostsPath = join(dir, 'known_hosts');
    // OpenSSH records port 22 as the bare address, and so does ship's known_hosts matching.
    await writeFile(knownHostsPath, hosts.map((h) => `${h.address} ${h.sshd.hostPublicKey}\n`).join(''));
    const haproxy = await startHaproxy({
      dir: join(dir, 'haproxy'),
      frontend: { address: `${block}.1`, port: FRONTEND_PORT },
      runtimeApi: { address: `${block}.1`, port: RUNTIME_API_PORT },
      backend: 'app',
      servers: hosts.map((h) => ({ name: h.name, address: h.address, port: options.backendPort ?? APP_PORT })),
      check: { path: '/healthz', ...(options.check ?? { inter: '100ms', fall: 2, rise: 1 }) },
    });
    stoppers.push(() => haproxy.stop());

    const fleet: Fleet = {
      dir,
      hosts,
      haproxy,
      frontendUrl: haproxy.frontendUrl,
      runtimeApi: haproxy.runtimeApi,
      privateKeyPath: key.privateKeyPath,
      knownHostsPath,
      artifact: (v, releaseOptions) => makeReleaseArtifact(join(dir, 'artifacts'), v, releaseOptions),
      ...(options.readUrl === undefined ? {} : { readUrl: options.readUrl }),
      async writeConfig(overrides = {}, name = 'ship.config.ts') {
        const path = join(dir, name);
        await writeFile(path, `export default ${JSON.stringify(fleetConfig(fleet, overrides), null, 2)};\n`);
        return path;
      },
      stop,
    };
    await writeFile(join(dir, 'fleet.json'), JSON.stringify(describeFleet(fleet), null, 2));
    return fleet;
  } catch (error) {
    await stop();
    throw error;
  }
}

/** What orchestrator.config.ts reads to drive the demo fleet. */
export function describeFleet(fleet: Fleet) {
  return {
    hosts: fleet.hosts.map((h) => ({ name: h.name, address: h.address, appDir: h.appDir })),
    runtimeApi: fleet.runtimeApi,
    privateKey: fleet.privateKeyPath,
    knownHosts: fleet.knownHostsPath,
    appPort: APP_PORT,
  };
}

/** A plain config object for the fleet (the tests write it as a .ts file with no imports). */
export function fleetConfig(fleet: Fleet, overrides: ConfigOverrides = {}) {
  return {
    app: 'demo',
    hosts: overrides.hosts ?? fleet.hosts.map((h) => ({ name: h.name, address: h.address, vars: { appDir: h.appDir, restart: `sh ${h.appDir}/restart.sh ${h.appDir}` } })),
    ssh: {
      user: 'root',
      privateKey: fleet.privateKeyPath,
      knownHosts: fleet.knownHostsPath,
      configFile: false,
      agent: false,
      connectTimeout: '5s',
      commandTimeout: '60s',
      ...overrides.ssh,
    },
    loadBalancer: { type: 'haproxy', runtimeApi: fleet.runtimeApi, backend: 'app', ...overrides.loadBalancer },
    health: overrides.health ?? { http: { port: APP_PORT, path: '/healthz', successThreshold: 1, interval: '20ms', timeout: '1s' } },
    rollout: { drainTimeout: '10s', healthyTimeout: '10s', ...overrides.rollout },
    vars: { keepReleases: 3, ...overrides.vars },
    ...(overrides.notify ? { notify: overrides.notify } : {}),
    ...(overrides.playbooks ? { playbooks: overrides.playbooks } : {}),
    ...(overrides.database ? { database: overrides.database } : {}),
  };
}
