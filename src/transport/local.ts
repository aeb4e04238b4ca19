/**
 * Transport for the machine ship runs on (`transport: 'local'`, and tests): `sh -c` through execa,
 * with the same contract as SshTransport. Each command gets its own process group (detached), so a
 * timeout or an abort kills the command and everything it started, not only the shell.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, rename, rm, stat } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
// execa loads about a hundred modules; only local-transport runs pay for it.
const loadExeca = () => import('execa');
import { sh, withPipefail, withSudo, type ShellCommand } from '../shell/sh.js';
import { OutputTail } from './output.js';
import { TransportError, type ExecOptions, type ExecResult, type Transport, type UploadResult } from './transport.js';

const DEFAULT_COMMAND_TIMEOUT_MS = 10 * 60_000;
const KILL_GRACE_MS = 5_000;

export interface LocalTransportOptions {
  /** Name used in messages; defaults to `localhost`. */
  host?: string;
  commandTimeoutMs?: number;
  /** The user `exec(..., { sudo: true })` runs as; root when unset. */
  sudoUser?: string;
  /** Working directory for commands; defaults to ship's own. */
  cwd?: string;
}

export class LocalTransport implements Transport {
  readonly host: string;
  private closed = false;

  constructor(private readonly options: LocalTransportOptions = {}) {
    this.host = options.host ?? 'localhost';
  }

  async connect(): Promise<void> {
    if (this.closed) throw new TransportError(this.host, 'transport is closed', 'closed');
  }

  async exec(command: ShellCommand, options: ExecOptions = {}): Promise<ExecResult> {
    await this.connect();
    if (options.signal?.aborted) throw new TransportError(this.host, 'command aborted before it started', 'exec', { cause: options.signal.reason });
    const text = withPipefail(options.sudo ? withSudo(command, this.options.sudoUser) : command).text;
    const timeoutMs = options.timeoutMs ?? this.options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    const started = performance.now();
    const { execa } = await loadExeca();
    const child = execa('sh', ['-c', text], {
      detached: true, // its own process group, killed as a whole
      buffer: false,
      reject: false,
      ...(options.stdin === undefined ? { stdin: 'ignore' as const } : { input: options.stdin }),
      encoding: 'utf8',
      ...(this.options.cwd ? { cwd: this.options.cwd } : {}),
    });
    const pid = child.pid;
    const stdout = new OutputTail();
    const stderr = new OutputTail();
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout.push(chunk);
      options.onStdout?.(chunk);
    });
    child.stderr.on('data', (chunk: string) => {
      stderr.push(chunk);
      options.onStderr?.(chunk);
    });

    let stopReason: 'timeout' | 'abort' | undefined;
    let killOutcome = 'not killed';
    let killing: Promise<void> | undefined;
    let giveUp!: () => void;
    let graceTimer: NodeJS.Timeout | undefined;
    // A background process that escaped the group and keeps the pipes open must not hold the caller.
    const killedAndWaited = new Promise<undefined>((resolve) => (giveUp = () => resolve(undefined)));
    const stop = (reason: 'timeout' | 'abort') => {
      if (stopReason) return;
      stopReason = reason;
      killing =
        pid === undefined
          ? Promise.resolve()
          : this.killGroup(pid, options.sudo === true).then((outcome) => {
              killOutcome = outcome;
            });
      void killing.then(() => {
        graceTimer = setTimeout(giveUp, KILL_GRACE_MS);
      });
    };
    const timer = setTimeout(() => stop('timeout'), timeoutMs);
    const onAbort = () => stop('abort');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const result = await Promise.race([child, killedAndWaited]);
      if (stopReason) {
        await killing;
        child.stdout.destroy();
        child.stderr.destroy();
        const what = killOutcome === 'killed' ? `killed process group ${pid}` : `process group ${pid}: ${killOutcome}`;
        throw stopReason === 'timeout'
          ? new TransportError(this.host, `command timed out after ${timeoutMs}ms; ${what}`, 'timeout')
          : new TransportError(this.host, `command aborted; ${what}`, 'exec', { cause: options.signal?.reason });
      }
      if (!result) throw new TransportError(this.host, 'command ended without a result', 'exec');
      if (result.failed && result.exitCode === undefined && result.signal === undefined) {
        throw new TransportError(this.host, `cannot run sh: ${result.message}`, 'exec', { cause: result.cause });
      }
      const code = result.exitCode ?? 128 + (result.signal ? (osConstants.signals[result.signal] ?? 127) : 127);
      return { code, stdout: stdout.text(), stderr: stderr.text(), durationMs: performance.now() - started };
    } finally {
      clearTimeout(timer);
      clearTimeout(graceTimer);
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Copies to a temp name next to the target, re-reads it to check size and sha256, then renames. */
  async upload(localPath: string, remotePath: string, options: { signal?: AbortSignal; mode?: number } = {}): Promise<UploadResult> {
    await this.connect();
    const source = await stat(localPath).catch((error: NodeJS.ErrnoException) => {
      throw new TransportError(this.host, `cannot upload ${localPath}: ${error.code === 'ENOENT' ? 'no such local file' : error.message}`, 'upload');
    });
    if (!source.isFile()) throw new TransportError(this.host, `cannot upload ${localPath}: not a regular file`, 'upload');
    const temp = `${remotePath}.ship-upload-${randomBytes(6).toString('hex')}`;
    const mode = options.mode ?? 0o644;
    try {
      const hash = createHash('sha256');
      let bytes = 0;
      const hashing = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          hash.update(chunk);
          bytes += chunk.length;
          callback(null, chunk);
        },
      });
      await pipeline(createReadStream(localPath), hashing, createWriteStream(temp, { mode }), options.signal ? { signal: options.signal } : {});
      const written = { bytes, sha256: hash.digest('hex') };
      const copied = await sha256File(temp);
      if (copied.bytes !== written.bytes || copied.sha256 !== written.sha256) {
        throw new TransportError(
          this.host,
          `copy of ${localPath} to ${remotePath} is corrupt: it has ${copied.bytes} bytes with sha256 ${copied.sha256}, expected ${written.bytes} bytes with sha256 ${written.sha256}; the partial file was removed`,
          'upload',
        );
      }
      await chmod(temp, mode); // the umask applied to createWriteStream's mode
      await rename(temp, remotePath);
      return written;
    } catch (error) {
      await rm(temp, { force: true });
      if (error instanceof TransportError) throw error;
      throw new TransportError(this.host, `copy of ${localPath} to ${remotePath} failed: ${(error as Error).message}`, 'upload', { cause: error });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private async killGroup(pid: number, sudo: boolean): Promise<string> {
    if (!sudo) {
      try {
        process.kill(-pid, 'SIGKILL');
        return 'killed';
      } catch (error) {
        return `kill failed: ${(error as Error).message}`;
      }
    }
    // The command runs as another user under sudo; only sudo can kill it.
    const { execa } = await loadExeca();
    const result = await execa('sh', ['-c', withSudo(sh`kill -s KILL -- ${`-${pid}`}`, this.options.sudoUser).text], { reject: false, stdin: 'ignore' });
    return result.exitCode === 0 ? 'killed' : `kill exited ${result.exitCode}: ${String(result.stderr).trim()}`;
  }
}

async function sha256File(path: string): Promise<UploadResult> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { bytes, sha256: hash.digest('hex') };
}
