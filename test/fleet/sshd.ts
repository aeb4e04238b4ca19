/**
 * A real OpenSSH server per test host: `/usr/sbin/sshd -D -f <config>` on its own loopback address
 * with its own host key, key-only root login and its own HOME (see shared/TEST-FLEET.md).
 *
 * Every process belonging to one sshd (listener, per-connection children, login sessions) carries
 * SHIP_TEST_SSHD=<dir> in its environment: the listener gets it from us and passes it down, and
 * `SetEnv` puts it into every session. That tag is how stop() and killStale() find processes that
 * outlived their parent, for example after an interrupted run.
 */
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { fingerprintSha256 } from '../../src/transport/known-hosts.js';
import { generateKeyPair } from './keys.js';

export interface SshdOptions {
  address: string;
  port: number;
  /** Working directory for this host: config, host key, pid file, log, HOME. */
  dir: string;
  /** authorized_keys lines for root. */
  authorizedKeys: string[];
  /** Use this host key instead of generating one (for example to simulate a re-keyed host). */
  hostKeyPath?: string;
  /** Extra environment for every session on this host (sshd `SetEnv`), e.g. PATH or HOME. */
  env?: Record<string, string>;
}

export interface SshdHandle {
  address: string;
  port: number;
  pid: number;
  /** `ssh-ed25519 AAAA...` as in the host key's .pub file (without comment). */
  hostPublicKey: string;
  hostKeyFingerprint: string;
  /** A known_hosts line for this host: `[address]:port ssh-ed25519 AAAA...`. */
  knownHostsLine: string;
  /** The sshd log (LogLevel VERBOSE): one `Accepted publickey` line per authenticated connection. */
  logPath: string;
  /** Authenticated connections so far, counted from the log. */
  acceptedConnections(): Promise<number>;
  stop(): Promise<void>;
}

const TAG = 'SHIP_TEST_SSHD';
const SSHD = '/usr/sbin/sshd';

export async function startSshd(options: SshdOptions): Promise<SshdHandle> {
  const dir = resolve(options.dir);
  await killStale(dir);
  const home = options.env?.HOME ?? join(dir, 'home');
  await mkdir(home, { recursive: true });
  await mkdir('/run/sshd', { recursive: true });

  const hostKeyPath = options.hostKeyPath ?? (await generateKeyPair(dir, 'ssh_host_ed25519_key')).privateKeyPath;
  const hostPublicKey = (await readFile(`${hostKeyPath}.pub`, 'utf8')).trim().split(/\s+/).slice(0, 2).join(' ');
  const hostKeyBlob = Buffer.from(hostPublicKey.split(' ')[1] ?? '', 'base64');

  const configPath = join(dir, 'sshd_config');
  const pidPath = join(dir, 'sshd.pid');
  const logPath = join(dir, 'sshd.log');
  const authorizedKeysPath = join(dir, 'authorized_keys');
  await writeFile(authorizedKeysPath, options.authorizedKeys.map((k) => `${k.trim()}\n`).join(''), { mode: 0o600 });
  await rm(logPath, { force: true });
  const env = { HOME: home, ...options.env, [TAG]: dir };
  const config = [
    `ListenAddress ${options.address}:${options.port}`,
    `HostKey ${hostKeyPath}`,
    `PidFile ${pidPath}`,
    `AuthorizedKeysFile ${authorizedKeysPath}`,
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'StrictModes no',
    'AllowTcpForwarding yes',
    'Subsystem sftp internal-sftp',
    'LogLevel VERBOSE',
    // sshd keeps only the first SetEnv line, so every variable goes on one line.
    `SetEnv ${Object.entries(env)
      .map(([name, value]) => `${name}="${value.replace(/["\\]/g, '')}"`)
      .join(' ')}`,
    '',
  ].join('\n');
  await writeFile(configPath, config);

  const child = spawn(SSHD, ['-D', '-f', configPath, '-E', logPath], {
    stdio: 'ignore',
    env: { ...process.env, [TAG]: dir },
  });
  child.unref();
  const exited = new Promise<string>((resolveExit) => {
    child.once('exit', (code, signal) => resolveExit(`sshd exited (code ${code}, signal ${signal})`));
    child.once('error', (error) => resolveExit(`sshd could not start: ${error.message}`));
  });
  const pid = child.pid;
  try {
    if (pid === undefined) throw new Error(await exited);
    await waitUntilListening(options.address, options.port, pid, pidPath, exited);
  } catch (error) {
    await killStale(dir);
    const log = await readFile(logPath, 'utf8').catch(() => '');
    throw new Error(`sshd on ${options.address}:${options.port} (${dir}) did not start: ${(error as Error).message}\n${log}`);
  }

  return {
    address: options.address,
    port: options.port,
    pid,
    hostPublicKey,
    hostKeyFingerprint: fingerprintSha256(hostKeyBlob),
    knownHostsLine: `[${options.address}]:${options.port} ${hostPublicKey}`,
    logPath,
    async acceptedConnections() {
      const log = await readFile(logPath, 'utf8').catch(() => '');
      return log.split('\n').filter((line) => line.includes('Accepted publickey')).length;
    },
    async stop() {
      try {
        process.kill(pid, 'SIGSTOP'); // no new connections are forked while we collect the tree
      } catch {
        // already gone; its children are still found by tag
      }
      await killStale(dir, [pid]);
    },
  };
}

/**
 * sshd writes its pid file only after binding, so "pid file names our child and the port answers"
 * means our sshd listens, not some leftover process that happens to hold the port.
 */
async function waitUntilListening(address: string, port: number, pid: number, pidPath: string, exited: Promise<string>): Promise<void> {
  const deadline = Date.now() + 10_000;
  let failure: string | undefined;
  void exited.then((reason) => (failure = reason));
  while (Date.now() < deadline) {
    if (failure) throw new Error(failure);
    const written = Number((await readFile(pidPath, 'utf8').catch(() => '')).trim());
    if (written !== pid) {
      await new Promise((r) => setTimeout(r, 20));
      continue;
    }
    const open = await new Promise<boolean>((resolveProbe) => {
      const socket = connect({ host: address, port });
      socket.once('connect', () => {
        socket.destroy();
        resolveProbe(true);
      });
      socket.once('error', () => resolveProbe(false));
    });
    if (open && !failure) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(failure ?? `port ${port} did not accept connections within 10s`);
}

interface ProcessInfo {
  pid: number;
  ppid: number;
}

async function listProcesses(): Promise<ProcessInfo[]> {
  const out: ProcessInfo[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => undefined);
    if (!stat) continue;
    // The command name (field 2) may contain spaces and parentheses; fields after the last ')' are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.push({ pid: Number(entry), ppid: Number(fields[1]) });
  }
  return out;
}

async function hasTag(pid: number, dir: string): Promise<boolean> {
  const environ = await readFile(`/proc/${pid}/environ`).catch(() => undefined);
  return environ?.toString('utf8').split('\0').includes(`${TAG}=${dir}`) ?? false;
}

/**
 * Kills every process of the sshd that lives in `dir`: anything tagged with it, the listener from a
 * stale pid file (only if its command line names our config, so a recycled pid is left alone), and
 * all descendants of those and of `roots`. Waits until they are gone.
 */
export async function killStale(dir: string, roots: number[] = []): Promise<void> {
  dir = resolve(dir);
  const targets = new Set<number>(roots);
  const stalePid = Number((await readFile(join(dir, 'sshd.pid'), 'utf8').catch(() => '')).trim());
  if (stalePid > 0) {
    const cmdline = await readFile(`/proc/${stalePid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(join(dir, 'sshd_config'))) targets.add(stalePid);
  }
  const processes = (await listProcesses()).filter((p) => p.pid !== process.pid);
  for (const p of processes) if (await hasTag(p.pid, dir)) targets.add(p.pid);
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of processes) {
      if (targets.has(p.ppid) && !targets.has(p.pid)) {
        targets.add(p.pid);
        grew = true;
      }
    }
  }
  for (const pid of targets) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // exited meanwhile
    }
  }
  const deadline = Date.now() + 5000;
  for (const pid of targets) {
    while (Date.now() < deadline && (await isRunning(pid))) await new Promise((r) => setTimeout(r, 10));
  }
  await rm(join(dir, 'sshd.pid'), { force: true });
}

async function isRunning(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (!stat) return false;
  return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'; // a zombie is dead, only not yet reaped
}
