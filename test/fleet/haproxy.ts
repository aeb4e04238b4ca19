/**
 * A real HAProxy in front of the test fleet's app servers, on loopback.
 *
 * Configured so a missed drain shows up as failed requests (TEST-FLEET.md): `retries 0` and no
 * `option redispatch`, so a request sent to an app that went away is an error rather than being
 * silently retried elsewhere; keep-alive on both sides with `http-reuse safe`, as in production.
 * The runtime API listens on a TCP address and on a unix socket, both at `level admin`.
 *
 * HAProxy runs in the foreground (`-db`) as a child of the test process and logs to
 * `<dir>/haproxy.log` (server state changes at notice level). Its pid goes to `<dir>/haproxy.pid`;
 * a later start in the same directory stops a haproxy left behind by an interrupted run, and so
 * does a start that finds its addresses held by a stray haproxy.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { sleep } from '../../src/util/deadline.js';

export interface HaproxyServer {
  name: string;
  address: string;
  port: number;
}

export interface StartHaproxyOptions {
  /** Working directory: config, pid file, log and (by default) the admin socket. */
  dir: string;
  frontend: { address: string; port: number };
  runtimeApi: { address: string; port: number };
  /** Unix socket for the runtime API; default `<dir>/admin.sock`. */
  socketPath?: string;
  backend: string;
  servers: HaproxyServer[];
  /** HAProxy's own health check of the servers; `log` adds `option log-health-checks` (every check that moves a server's health is logged). */
  check: { path: string; inter: string; fall: number; rise: number; log?: boolean };
}

export interface HaproxyHandle {
  pid: number;
  frontendUrl: string;
  /** `address:port` of the runtime API, in the form `parseRuntimeApi` reads. */
  runtimeApi: string;
  socketPath: string;
  configPath: string;
  logPath: string;
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

export async function startHaproxy(options: StartHaproxyOptions): Promise<HaproxyHandle> {
  const dir = options.dir;
  await mkdir(dir, { recursive: true });
  const configPath = join(dir, 'haproxy.cfg');
  const pidPath = join(dir, 'haproxy.pid');
  const logPath = join(dir, 'haproxy.log');
  const socketPath = options.socketPath ?? join(dir, 'admin.sock');
  if (Buffer.byteLength(socketPath) > 100) throw new Error(`haproxy socket path is too long for a unix socket: ${socketPath}`);

  await stopStaleFromPidFile(pidPath);
  await stopStaleListener(options.frontend.address, options.frontend.port);
  await stopStaleListener(options.runtimeApi.address, options.runtimeApi.port);
  await rm(socketPath, { force: true });

  await writeFile(configPath, renderConfig(options, socketPath, await maxConnections()));
  const logFd = openSync(logPath, 'a');
  const child = spawn('haproxy', ['-db', '-f', configPath], { stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`haproxy did not start (is it installed? see test/install-deps.sh); log: ${logPath}`);
  await writeFile(pidPath, `${pid}\n`);

  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    }),
  );

  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      const escalate = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exit;
      clearTimeout(escalate);
    }
    await rm(pidPath, { force: true });
  };

  const started = Date.now();
  for (;;) {
    if (exited) {
      await rm(pidPath, { force: true });
      const log = await readFile(logPath, 'utf8').catch(() => '');
      throw new Error(`haproxy exited at start (code ${exited.code}, signal ${exited.signal}); ${configPath}; log:\n${log.split('\n').slice(-20).join('\n')}`);
    }
    // Listeners are all bound before the CLI answers, so an answer means the frontend is up too.
    if (await answers(options.runtimeApi.address, options.runtimeApi.port)) break;
    if (Date.now() - started > START_TIMEOUT_MS) {
      await stop();
      throw new Error(`haproxy did not answer on ${options.runtimeApi.address}:${options.runtimeApi.port} within ${START_TIMEOUT_MS}ms; log: ${logPath}`);
    }
    await sleep(20);
  }

  return {
    pid,
    frontendUrl: `http://${options.frontend.address}:${options.frontend.port}/`,
    runtimeApi: `${options.runtimeApi.address}:${options.runtimeApi.port}`,
    socketPath,
    configPath,
    logPath,
    stop,
  };
}

function renderConfig(options: StartHaproxyOptions, socketPath: string, maxconn: number): string {
  const { frontend, runtimeApi, backend, check } = options;
  const servers = options.servers.map((server) => `  server ${server.name} ${server.address}:${server.port}`);
  return [
    'global',
    `  maxconn ${maxconn}`,
    `  stats socket ipv4@${runtimeApi.address}:${runtimeApi.port} level admin`,
    `  stats socket ${socketPath} mode 600 level admin`,
    '  stats timeout 10s',
    '  log stderr format raw local0 notice',
    // A stop must not wait for long keep-alive connections to close.
    '  hard-stop-after 2s',
    '',
    'defaults',
    '  mode http',
    '  log global',
    '  timeout connect 1s',
    '  timeout client 30s',
    '  timeout server 30s',
    '  timeout http-keep-alive 30s',
    '  timeout queue 5s',
    // No retry and no redispatch: a request that hits a vanished app must fail visibly.
    '  retries 0',
    '',
    'frontend web',
    `  bind ${frontend.address}:${frontend.port}`,
    `  default_backend ${backend}`,
    '',
    `backend ${backend}`,
    '  balance roundrobin',
    `  option httpchk GET ${check.path}`,
    ...(check.log ? ['  option log-health-checks'] : []),
    '  http-reuse safe',
    `  default-server check inter ${check.inter} fall ${check.fall} rise ${check.rise}`,
    ...servers,
    '',
  ].join('\n');
}

/**
 * HAProxy refuses to start when maxconn needs more file descriptors than it may open (it needs
 * about two per connection), so stay well under this process's limit.
 */
async function maxConnections(): Promise<number> {
  const limits = await readFile('/proc/self/limits', 'utf8').catch(() => '');
  const soft = Number(/^Max open files\s+(\d+)/m.exec(limits)?.[1] ?? 1024);
  return Math.max(64, Math.min(4096, Math.floor((soft - 200) / 2)));
}

function answers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let answer = '';
    socket.setTimeout(1000, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    socket.on('error', () => resolve(false));
    socket.on('close', () => resolve(answer.includes('Name: HAProxy')));
    socket.end('show info\n');
  });
}

/** A haproxy whose pid file an interrupted run left behind, if it still runs this directory's config. */
async function stopStaleFromPidFile(pidPath: string): Promise<void> {
  const pid = Number((await readFile(pidPath, 'utf8').catch(() => '')).trim());
  if (Number.isInteger(pid) && pid > 0 && (await processName(pid)) === 'haproxy') await killAndWait(pid);
  await rm(pidPath, { force: true });
}

/** Frees an address held by a stray haproxy; anything else holding it is an error to report, not to kill. */
async function stopStaleListener(address: string, port: number): Promise<void> {
  const inode = await listeningInode(address, port);
  if (inode === undefined) return;
  const pid = await socketOwner(inode);
  if (pid === undefined) return;
  const name = await processName(pid);
  if (name !== 'haproxy') throw new Error(`${address}:${port} is in use by ${name ?? 'a process'} (pid ${pid}); pick another address for the test haproxy`);
  await killAndWait(pid);
}

async function listeningInode(address: string, port: number): Promise<string | undefined> {
  const table = await readFile('/proc/net/tcp', 'utf8').catch(() => '');
  const octets = address.split('.').map(Number);
  // /proc/net/tcp writes an IPv4 address as one little-endian hex word, then the port in hex.
  const local = `${octets
    .reverse()
    .map((n) => n.toString(16).padStart(2, '0'))
    .join('')}:${port.toString(16).padStart(4, '0')}`.toUpperCase();
  for (const line of table.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields[1] === local && fields[3] === '0A') return fields[9];
  }
  return undefined;
}

async function socketOwner(inode: string): Promise<number | undefined> {
  const target = `socket:[${inode}]`;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fds = await readdir(`/proc/${entry}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      if ((await readlink(`/proc/${entry}/fd/${fd}`).catch(() => '')) === target) return Number(entry);
    }
  }
  return undefined;
}

/** The command name of a live process; undefined when it is gone or a zombie (which holds nothing). */
async function processName(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const match = /^\d+ \((.*)\) (\S)/.exec(stat);
  if (!match || match[2] === 'Z') return undefined;
  return match[1];
}

async function killAndWait(pid: number): Promise<void> {
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(pid, name);
    } catch {
      // Already gone.
    }
  };
  signal('SIGTERM');
  const started = Date.now();
  while ((await processName(pid)) !== undefined) {
    const waited = Date.now() - started;
    if (waited > 2 * STOP_TIMEOUT_MS) throw new Error(`stale haproxy pid ${pid} did not exit after SIGKILL`);
    if (waited > STOP_TIMEOUT_MS) signal('SIGKILL');
    await sleep(20);
  }
}
