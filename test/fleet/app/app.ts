/**
 * The demo app as the test fleet deploys it. One host's app directory looks like a real one:
 *
 *   <appDir>/releases/<version>/{server.mjs,VERSION[,QUERY]}   unpacked release artifacts
 *   <appDir>/current -> releases/<version>              what runs
 *   <appDir>/restart.sh                                 stop the running app, start `current`
 *   <appDir>/app.env, app.pid, app.log                  listen address and name (and the read
 *                                                       URL, when it reads), pid, output
 *
 * A deploy uploads the artifact from makeReleaseArtifact, unpacks it under releases/, switches
 * `current` and runs `sh <appDir>/restart.sh <appDir>`.
 */
import { execa } from 'execa';
import { createRequire } from 'node:module';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { quote } from '../../../src/shell/sh.js';
import { sleep } from '../../../src/util/deadline.js';

const SOURCE_DIR = dirname(fileURLToPath(import.meta.url));
export const APP_SERVER_SOURCE = join(SOURCE_DIR, 'server.mjs');
export const APP_RESTART_SCRIPT = join(SOURCE_DIR, 'restart.sh');
const STOP_TIMEOUT_MS = 35_000;
/**
 * The entry file of the repository's own `pg`, for an app that reads from the database. The app
 * runs with plain node from its release directory, where no node_modules is found, so it is told
 * the absolute path (APP_PG_MODULE) and loads it only when it has a read URL.
 */
export const PG_MODULE_PATH = createRequire(import.meta.url).resolve('pg');

export interface ReleaseOptions {
  /** SQL the release runs on every `GET /` through APP_READ_URL (written to the release's QUERY file). */
  query?: string;
  /** The status the release answers on `/ready` (its READY_STATUS file), while `/healthz` stays 200. */
  readyStatus?: number;
}

/**
 * Writes `<dir>/app-<version>.tgz` holding server.mjs, VERSION and, with `query`, QUERY at its top
 * level; returns its path. The same version made again with other options replaces the tarball.
 */
export async function makeReleaseArtifact(dir: string, version: string, options: ReleaseOptions = {}): Promise<string> {
  if (!/^[A-Za-z0-9._-]+$/.test(version)) throw new Error(`release version '${version}' must be letters, digits, '.', '_' or '-'`);
  await mkdir(dir, { recursive: true });
  const staging = await mkdtemp(join(tmpdir(), 'ship-app-release-'));
  try {
    await copyFile(APP_SERVER_SOURCE, join(staging, 'server.mjs'));
    await writeFile(join(staging, 'VERSION'), `${version}\n`);
    const files = ['server.mjs', 'VERSION'];
    if (options.query !== undefined) {
      await writeFile(join(staging, 'QUERY'), `${options.query}\n`);
      files.push('QUERY');
    }
    if (options.readyStatus !== undefined) {
      await writeFile(join(staging, 'READY_STATUS'), `${options.readyStatus}\n`);
      files.push('READY_STATUS');
    }
    const artifact = join(dir, `app-${version}.tgz`);
    await execa('tar', ['-czf', artifact, '-C', staging, ...files]);
    return artifact;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

export interface InstallAppOptions {
  appDir: string;
  /** Loopback address and port the app listens on. */
  address: string;
  port: number;
  /** Host name the app reports, e.g. 'web1'. */
  name: string;
  /** Release artifact (from makeReleaseArtifact) to unpack and start. */
  artifact: string;
  version: string;
  /**
   * PostgreSQL URL the app reads through (a replica, say): with it, a release holding a QUERY file
   * runs that query on every `GET /`. Without it the app never loads `pg`.
   */
  readUrl?: string;
}

export interface AppInstance {
  appDir: string;
  url: string;
  /** Runs the host's restart.sh, as a deploy over SSH would. */
  restart(): Promise<void>;
  /** The running app's pid, from app.pid. */
  pid(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Sets up an app directory with one release and starts it; returns once it listens. An app left
 * running in the same directory by an interrupted run is stopped by the restart first.
 */
export async function installApp(options: InstallAppOptions): Promise<AppInstance> {
  const { appDir } = options;
  await unpackRelease(appDir, options.artifact, options.version);
  await copyFile(APP_RESTART_SCRIPT, join(appDir, 'restart.sh'));
  const env: Record<string, string> = { APP_ADDRESS: options.address, APP_PORT: String(options.port), APP_NAME: options.name, NODE: process.execPath };
  if (options.readUrl !== undefined) Object.assign(env, { APP_READ_URL: options.readUrl, APP_PG_MODULE: PG_MODULE_PATH });
  await writeFile(
    join(appDir, 'app.env'),
    Object.entries(env)
      .map(([key, value]) => `${key}=${quote(value)}\n`)
      .join(''),
  );
  const instance: AppInstance = {
    appDir,
    url: `http://${options.address}:${options.port}/`,
    restart: () => restartApp(appDir),
    pid: () => appPid(appDir),
    stop: () => stopApp(appDir),
  };
  await instance.restart();
  return instance;
}

/**
 * Unpacks an artifact into releases/<version> and points `current` at it (one rename, so there is
 * never a moment without `current`). The running app is untouched until the next restart.
 */
export async function unpackRelease(appDir: string, artifact: string, version: string): Promise<void> {
  const release = join(appDir, 'releases', version);
  await mkdir(release, { recursive: true });
  await execa('tar', ['-xzf', artifact, '-C', release]);
  const current = join(appDir, 'current');
  await rm(`${current}.new`, { force: true });
  await symlink(join('releases', version), `${current}.new`);
  await rename(`${current}.new`, current);
}

export async function restartApp(appDir: string): Promise<void> {
  await execa('sh', [join(appDir, 'restart.sh'), appDir], { stdin: 'ignore' });
}

export async function appPid(appDir: string): Promise<number> {
  const pid = Number((await readFile(join(appDir, 'app.pid'), 'utf8')).trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`${appDir}/app.pid holds no pid`);
  return pid;
}

/** SIGTERM to the running app (graceful, as restart.sh does), then waits until it is gone. */
export async function stopApp(appDir: string): Promise<void> {
  const pid = await appPid(appDir).catch(() => undefined);
  if (pid === undefined || !(await isApp(pid))) return;
  signal(pid, 'SIGTERM');
  const started = Date.now();
  while (await isApp(pid)) {
    const waited = Date.now() - started;
    if (waited > STOP_TIMEOUT_MS + 5000) throw new Error(`app pid ${pid} in ${appDir} did not exit after SIGKILL`);
    if (waited > STOP_TIMEOUT_MS) signal(pid, 'SIGKILL');
    await sleep(20);
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // It exited between the check and the signal.
  }
}

/** Alive, not a zombie, and running server.mjs (a recycled pid is someone else's process). */
async function isApp(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const state = /\) (\S)/.exec(stat)?.[1];
  if (state === undefined || state === 'Z') return false;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmdline.includes('server.mjs');
}
