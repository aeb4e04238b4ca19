/**
 * Transport over one ssh2 connection per host, opened once (through jump hosts when configured)
 * and reused for every command and upload, with the host key checked against known_hosts.
 *
 * Killing a command: OpenSSH ignores most channel signals, and closing a channel does not stop the
 * command (a `sleep` without a tty keeps running). sshd starts every non-pty command in a new
 * session, so its shell is a process-group leader; the shell prints its pid on the first stdout
 * line and then `exec`s the real command (keeping the pid). To kill, a second channel sends
 * `kill -s KILL -- -<pid>`, which takes down the whole group, sudo and children included.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { posix } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import pLimit from 'p-limit';
import ssh2 from 'ssh2';
import type { Client, ClientChannel, ConnectConfig, SFTPWrapper } from 'ssh2';
import { sh, withSudo, type ShellCommand } from '../shell/sh.js';
import { planConnection, type ConnectPlan, type Hop, type SshTransportOptions } from './connect-options.js';
import { appendKnownHost, checkHostKey, fingerprintSha256, keyTypeOf, knownHostsName, knownKeyTypes, readKnownHosts } from './known-hosts.js';
import { OutputTail } from './output.js';
import { TransportError, type ExecOptions, type ExecResult, type Transport, type UploadResult } from './transport.js';

export type { SshTransportOptions } from './connect-options.js';

const DEFAULT_CONNECT_TIMEOUT_MS = 20_000;
/** Every wait has a deadline (DESIGN principle 4); long steps pass their own timeoutMs. */
const DEFAULT_COMMAND_TIMEOUT_MS = 10 * 60_000;
const DEFAULT_KEEPALIVE_INTERVAL_MS = 15_000;
const KEEPALIVE_COUNT_MAX = 3;
/**
 * OpenSSH allows 10 sessions per connection (MaxSessions). One is the SFTP session and one is kept
 * free for kill channels, so a timeout can always be enforced.
 */
const MAX_CONCURRENT_COMMANDS = 8;
/** After the kill, how long to wait for the channel to report the command gone. */
const KILL_GRACE_MS = 5_000;
const OPEN_RETRIES = 20;
const UPLOAD_WRITES_IN_FLIGHT = 32;
const UPLOAD_CHUNK_BYTES = 32 * 1024;
const PID_LINE = /^__ship_pid__=(\d+)\n/m;
/** Before the pid line there may be output from the login shell's rc files; bound what we hold back. */
const MAX_PREAMBLE_CHARS = 64 * 1024;

/** ssh-rsa keys are negotiated under the rsa-sha2 signature algorithms. */
const HOST_KEY_ALGORITHMS: Record<string, string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

/** ssh2 has no public "is closed" flag; ending an already closed client would wait for nothing. */
const closedClients = new WeakSet<Client>();

interface Connection {
  client: Client;
  /** Jump host connections, in dialing order; closed with the target. */
  hops: Client[];
  sftp?: Promise<SFTPWrapper>;
}

export class SshTransport implements Transport {
  readonly host: string;
  private plan?: Promise<ConnectPlan>;
  private current?: Promise<Connection>;
  private closed = false;
  private readonly limit = pLimit(MAX_CONCURRENT_COMMANDS);

  constructor(private readonly options: SshTransportOptions) {
    this.host = options.host;
  }

  async connect(): Promise<void> {
    await this.connection();
  }

  exec(command: ShellCommand, options: ExecOptions = {}): Promise<ExecResult> {
    return this.limit(async () => {
      const connection = await this.connection();
      // Checked after waiting for a free session, so a command aborted while queued never starts.
      if (options.signal?.aborted) {
        throw new TransportError(this.host, 'command aborted before it started', 'exec', { cause: options.signal.reason });
      }
      return this.run(connection, command, options);
    });
  }

  async upload(localPath: string, remotePath: string, options: { signal?: AbortSignal; mode?: number } = {}): Promise<UploadResult> {
    const local = await stat(localPath).catch((error: NodeJS.ErrnoException) => {
      throw new TransportError(this.host, `cannot upload ${localPath}: ${error.code === 'ENOENT' ? 'no such local file' : error.message}`, 'upload');
    });
    if (!local.isFile()) throw new TransportError(this.host, `cannot upload ${localPath}: not a regular file`, 'upload');
    const sftp = await this.sftp(await this.connection());
    const temp = `${remotePath}.ship-upload-${randomBytes(6).toString('hex')}`;
    let written: UploadResult;
    try {
      written = await writeFile(sftp, localPath, temp, options.mode ?? 0o644, options.signal);
    } catch (error) {
      await new Promise<void>((resolve) => sftp.unlink(temp, () => resolve()));
      const reason = error instanceof Error ? error.message : String(error);
      const shortage = options.signal?.aborted ? '' : await this.spaceShortage(remotePath, local.size);
      throw new TransportError(this.host, `upload of ${localPath} to ${remotePath} failed: ${reason}${shortage}`, 'upload', { cause: error });
    }
    await this.verifyAndMove(localPath, temp, remotePath, written, options);
    return written;
  }

  /**
   * SFTP reports a full disk as a bare "Failure". Asks the host whether space ran out, so the error
   * can say so; an empty string when it did not or the host cannot tell.
   */
  private async spaceShortage(remotePath: string, bytes: number): Promise<string> {
    const dir = posix.dirname(remotePath);
    try {
      const result = await this.exec(sh`df -Pk ${dir} | tail -n 1`, { timeoutMs: 5_000 });
      const availableKiB = Number(result.stdout.trim().split(/\s+/)[3]);
      if (result.code !== 0 || !Number.isFinite(availableKiB) || availableKiB * 1024 >= bytes) return '';
      return `; no space left on the host: the file system of ${dir} has ${availableKiB} KiB free and the file needs ${Math.ceil(bytes / 1024)} KiB; free some space there`;
    } catch {
      return '';
    }
  }

  /**
   * The live ssh2 connection (dialed on first use, re-dialed after a drop), for forwarding that the
   * Transport interface does not cover, such as reaching HAProxy's unix socket on the host.
   * End it with close(), not directly.
   */
  async client(): Promise<Client> {
    return (await this.connection()).client;
  }

  async close(): Promise<void> {
    this.closed = true;
    const pending = this.current;
    this.current = undefined;
    const connection = await pending?.catch(() => undefined);
    if (connection) await endConnection(connection);
  }

  private connection(): Promise<Connection> {
    if (this.closed) return Promise.reject(new TransportError(this.host, 'transport is closed', 'closed'));
    // A connection that dropped (a reboot, a network blip) is re-dialed on next use, host key checked again.
    this.current ??= this.open().catch((error: unknown) => {
      this.current = undefined;
      throw error;
    });
    return this.current;
  }

  private async open(): Promise<Connection> {
    this.plan ??= planConnection(this.options).catch((error: unknown) => {
      this.plan = undefined;
      throw error;
    });
    const plan = await this.plan;
    const hops: Client[] = [];
    try {
      let previous: { client: Client; hop: Hop } | undefined;
      for (const hop of plan.jumps) {
        const client = await this.dial(hop, previous);
        hops.push(client);
        previous = { client, hop };
      }
      const client = await this.dial(plan.target, previous);
      const connection: Connection = { client, hops };
      client.on('close', () => {
        for (const hop of hops) hop.end();
        if (this.current) {
          void this.current.then((open) => {
            if (open === connection) this.current = undefined;
          }, () => undefined);
        }
      });
      return connection;
    } catch (error) {
      for (const hop of hops) hop.end();
      throw error;
    }
  }

  private async dial(hop: Hop, via: { client: Client; hop: Hop } | undefined): Promise<Client> {
    const sock = via ? await forward(via, hop) : undefined;
    const entries = await readKnownHosts(this.options.knownHostsPath);
    const name = knownHostsName(hop.address, hop.port);
    const client = new ssh2.Client();
    client.once('close', () => closedClients.add(client));
    let refusal: TransportError | undefined;
    const timeoutMs = this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const config: ConnectConfig = {
      host: hop.address,
      port: hop.port,
      username: hop.user,
      readyTimeout: timeoutMs,
      keepaliveInterval: this.options.keepaliveIntervalMs ?? DEFAULT_KEEPALIVE_INTERVAL_MS,
      keepaliveCountMax: KEEPALIVE_COUNT_MAX,
      // Ask for a key type we have on record, so a host with several keys is not reported as unknown.
      algorithms: { serverHostKey: preferredHostKeyAlgorithms(knownKeyTypes(entries, name)) as never },
      hostVerifier: (key: Buffer, verify: (valid: boolean) => void) => {
        this.verifyHostKey(hop, name, key, entries).then(
          () => verify(true),
          (error: unknown) => {
            refusal =
              error instanceof TransportError
                ? error
                : new TransportError(hop.label, `cannot check the host key of ${name} against ${this.options.knownHostsPath}: ${(error as Error).message}`, 'host-key', { cause: error });
            verify(false);
          },
        );
      },
      ...(sock ? { sock } : {}),
      ...(hop.credentials.privateKey ? { privateKey: hop.credentials.privateKey } : {}),
      ...(hop.credentials.passphrase !== undefined ? { passphrase: hop.credentials.passphrase } : {}),
      ...(hop.credentials.agent ? { agent: hop.credentials.agent } : {}),
    };
    return new Promise<Client>((resolve, reject) => {
      let settled = false;
      const settle = (error?: TransportError) => {
        if (settled) return;
        settled = true;
        if (error) {
          client.destroy();
          reject(error);
        } else {
          resolve(client);
        }
      };
      client.once('ready', () => settle());
      // ssh2 emits 'error' on a live connection too (keepalive timeout); without a listener it would throw.
      client.on('error', (error: Error & { level?: string }) => settle(refusal ?? this.connectError(hop, error, timeoutMs)));
      client.once('close', () => settle(refusal ?? new TransportError(hop.label, `${hop.address}:${hop.port} closed the connection during the SSH handshake`, 'connect')));
      client.connect(config);
      // Commands are small request/response exchanges; Nagle's algorithm would delay them.
      client.setNoDelay(true);
    });
  }

  private connectError(hop: Hop, error: Error & { level?: string }, timeoutMs: number): TransportError {
    const where = `${hop.user}@${hop.address}:${hop.port}`;
    if (error.level === 'client-authentication') {
      const tried = [hop.credentials.privateKeyPath && `key ${hop.credentials.privateKeyPath}`, hop.credentials.agent && 'ssh-agent']
        .filter(Boolean)
        .join(' and ');
      return new TransportError(hop.label, `authentication to ${where} failed (tried ${tried || 'nothing'}); check that the public key is in the host's authorized_keys for ${hop.user}`, 'auth', { cause: error });
    }
    if (error.level === 'client-timeout') {
      return new TransportError(hop.label, `no SSH handshake with ${where} within ${timeoutMs}ms`, 'connect', { cause: error });
    }
    return new TransportError(hop.label, `cannot connect to ${where}: ${error.message}`, 'connect', { cause: error });
  }

  private async verifyHostKey(hop: Hop, name: string, key: Buffer, entries: Awaited<ReturnType<typeof readKnownHosts>>): Promise<void> {
    const path = this.options.knownHostsPath;
    const type = keyTypeOf(key);
    const fingerprint = fingerprintSha256(key);
    const check = checkHostKey(entries, name, key);
    const remedy = `If the host was really re-keyed, confirm the new fingerprint with its administrator, then remove the old entry (ssh-keygen -R '${name}' -f ${path}). --accept-new-host-keys never accepts a changed key.`;
    switch (check.status) {
      case 'trusted':
        return;
      case 'revoked':
        throw new TransportError(hop.label, `host key ${type} ${fingerprint} of ${name} is marked @revoked in ${path} (line ${check.line}); refusing to connect`, 'host-key');
      case 'changed':
        throw new TransportError(
          hop.label,
          `HOST KEY CHANGED for ${name}: it presented ${type} ${fingerprint}, but ${path} (line ${check.lines.join(', ')}) records a different ${type} key. Someone may be intercepting the connection (man in the middle). ${remedy}`,
          'host-key',
        );
      case 'other-type':
        throw new TransportError(
          hop.label,
          `HOST KEY CHANGED for ${name}: it presented ${type} ${fingerprint}, but ${path} (line ${check.lines.join(', ')}) only records ${check.knownTypes.join(', ')} keys for it. Someone may be intercepting the connection (man in the middle). ${remedy}`,
          'host-key',
        );
      case 'unknown':
        if (!this.options.acceptNewHostKeys) {
          throw new TransportError(
            hop.label,
            `unknown host key for ${name}: ${type} ${fingerprint}. Check this fingerprint with the host's administrator, then run again with --accept-new-host-keys to record it in ${path}.`,
            'host-key',
          );
        }
        await appendKnownHost(path, name, key);
        return;
    }
  }

  private run(connection: Connection, command: ShellCommand, options: ExecOptions): Promise<ExecResult> {
    const inner = options.sudo ? withSudo(command, this.options.sudoUser) : command;
    // The shell reports its pid (= process group id, see the header comment) and becomes the command.
    const wrapped = sh`printf '__ship_pid__=%s\n' "$$"; exec sh -c ${inner.text}`;
    const timeoutMs = options.timeoutMs ?? this.options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    const started = performance.now();
    const stdout = new OutputTail();
    const stderr = new OutputTail();

    return new Promise<ExecResult>((resolve, reject) => {
      let pid: number | undefined;
      let preamble: string | undefined = '';
      let stopReason: 'timeout' | 'abort' | undefined;
      let killOutcome = 'not yet killed';
      let killing: Promise<void> | undefined;
      let exit: { code: number } | undefined;
      let channel: ClientChannel | undefined;
      let settled = false;
      let graceTimer: NodeJS.Timeout | undefined;

      const finish = (outcome: { error: TransportError } | { result: ExecResult }) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearTimeout(graceTimer);
        options.signal?.removeEventListener('abort', onAbort);
        if ('error' in outcome) reject(outcome.error);
        else resolve(outcome.result);
      };
      const deliverStdout = (text: string) => {
        if (text === '') return;
        stdout.push(text);
        options.onStdout?.(text);
      };
      const kill = () => {
        if (pid === undefined || killing) return; // without a pid yet, this runs again when the pid line arrives
        killing = this.killProcessGroup(connection, pid, options.sudo === true).then(
          (outcome) => void (killOutcome = outcome),
          (error: Error) => void (killOutcome = `kill failed: ${error.message}`),
        );
      };
      const stop = (reason: 'timeout' | 'abort') => {
        if (stopReason || settled) return;
        stopReason = reason;
        kill();
        graceTimer = setTimeout(() => {
          channel?.close();
          finish({ error: stoppedError() });
        }, KILL_GRACE_MS);
      };
      const stoppedError = () => {
        const what =
          pid === undefined
            ? 'its process id was never reported, so it may still run on the host'
            : killOutcome === 'killed'
              ? `killed process group ${pid} on the host`
              : `process group ${pid} on the host: ${killOutcome}`;
        return stopReason === 'timeout'
          ? new TransportError(this.host, `command timed out after ${timeoutMs}ms; ${what}`, 'timeout')
          : new TransportError(this.host, `command aborted; ${what}`, 'exec', { cause: options.signal?.reason });
      };
      const onAbort = () => stop('abort');
      const timer = setTimeout(() => stop('timeout'), timeoutMs);
      options.signal?.addEventListener('abort', onAbort, { once: true });

      openExec(connection.client, wrapped.text, (error, opened) => {
        if (error) {
          finish({ error: new TransportError(this.host, `cannot start a command: ${error.message}`, 'exec', { cause: error }) });
          return;
        }
        // Even when the caller was already answered (stopped before the channel opened), the
        // command has started now: the handlers below still read its pid and kill it.
        channel = opened;
        const outDecoder = new StringDecoder('utf8');
        const errDecoder = new StringDecoder('utf8');
        const takeStdout = (text: string) => {
          if (preamble === undefined) return deliverStdout(text);
          preamble += text;
          const match = PID_LINE.exec(preamble);
          if (!match && preamble.length < MAX_PREAMBLE_CHARS) return;
          const held = preamble;
          preamble = undefined;
          if (!match) return deliverStdout(held);
          pid = Number(match[1]);
          deliverStdout(held.slice(0, match.index) + held.slice(match.index + match[0].length));
          if (stopReason) kill();
        };
        opened.on('data', (chunk: Buffer) => takeStdout(outDecoder.write(chunk)));
        opened.stderr.on('data', (chunk: Buffer) => {
          const text = errDecoder.write(chunk);
          if (text === '') return;
          stderr.push(text);
          options.onStderr?.(text);
        });
        opened.on('exit', (code: number | null, signalName?: string) => {
          exit = { code: code ?? 128 + (osConstants.signals[`SIG${signalName}` as NodeJS.Signals] ?? 127) };
        });
        opened.on('close', () => {
          takeStdout(outDecoder.end());
          if (preamble) deliverStdout(preamble);
          preamble = undefined;
          const rest = errDecoder.end();
          if (rest) {
            stderr.push(rest);
            options.onStderr?.(rest);
          }
          if (stopReason) {
            void (killing ?? Promise.resolve()).then(() => finish({ error: stoppedError() }));
            return;
          }
          if (!exit) {
            // A command outlives its connection (no tty, no SIGHUP): left alone it would go on behind
            // the rollback, e.g. restart an app that is back in service. Kill it over a new connection.
            const lost = 'the connection closed while a command was running';
            if (pid === undefined) return finish({ error: new TransportError(this.host, `${lost}; its process id was never reported, so it may still be running on the host`, 'closed') });
            void this.killOrphan(connection, pid, options.sudo === true).then((outcome) => finish({ error: new TransportError(this.host, `${lost}; ${outcome}`, 'closed') }));
            return;
          }
          finish({ result: { code: exit.code, stdout: stdout.text(), stderr: stderr.text(), durationMs: performance.now() - started } });
        });
      });
    });
  }

  /**
   * Kills the process group of a command whose connection dropped, over the connection the transport
   * has now (re-dialed if the old one is closed). Says what became of it, for the error message.
   */
  private async killOrphan(dropped: Connection, pid: number, sudo: boolean): Promise<string> {
    // The client reports its own close right after its channels': let that land first.
    await new Promise((resolve) => setImmediate(resolve));
    try {
      if (closedClients.has(dropped.client) && this.current && (await this.current.catch(() => undefined)) === dropped) this.current = undefined;
      const outcome = await this.killProcessGroup(await this.connection(), pid, sudo);
      return outcome === 'killed' ? `killed its process group ${pid} on the host over a new connection` : `process group ${pid} on the host: ${outcome}`;
    } catch (error) {
      return `it may still be running on the host (process group ${pid}): reconnecting to kill it failed: ${(error as Error).message}`;
    }
  }

  /** Runs on its own channel, outside the command limit, so a full host can still be cleaned up. */
  private killProcessGroup(connection: Connection, pid: number, sudo: boolean): Promise<string> {
    const kill = sh`kill -s KILL -- ${`-${pid}`}`;
    const text = (sudo ? withSudo(kill, this.options.sudoUser) : kill).text;
    return new Promise((resolve, reject) => {
      openExec(connection.client, text, (error, channel) => {
        if (error) return reject(error);
        let stderr = '';
        let code: number | null = null;
        channel.resume();
        channel.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
        channel.on('exit', (exitCode: number | null) => (code = exitCode));
        channel.on('close', () => resolve(code === 0 ? 'killed' : `kill exited ${code}: ${stderr.trim() || 'group already gone'}`));
      });
    });
  }

  private sftp(connection: Connection): Promise<SFTPWrapper> {
    connection.sftp ??= new Promise<SFTPWrapper>((resolve, reject) => {
      connection.client.sftp((error, sftp) => {
        if (error) {
          connection.sftp = undefined;
          return reject(new TransportError(this.host, `cannot open an SFTP session: ${error.message}`, 'upload', { cause: error }));
        }
        sftp.on('close', () => (connection.sftp = undefined));
        resolve(sftp);
      });
    });
    return connection.sftp;
  }

  /**
   * One round trip: hash and measure the temp file on the host, and only if both match move it into
   * place; otherwise delete it. The file at `remotePath` is therefore never a partial upload.
   */
  private async verifyAndMove(
    localPath: string,
    temp: string,
    remotePath: string,
    expected: UploadResult,
    options: { signal?: AbortSignal; mode?: number },
  ): Promise<void> {
    const mode = (options.mode ?? 0o644).toString(8);
    const script = sh`tmp=${temp}
if command -v sha256sum >/dev/null 2>&1; then sum=$(sha256sum "$tmp"); else sum=$(shasum -a 256 "$tmp"); fi
sum=$(printf '%s' "$sum" | cut -d ' ' -f 1)
size=$(wc -c < "$tmp" | tr -d ' ')
if [ "$size" = ${String(expected.bytes)} ] && [ "$sum" = ${expected.sha256} ]; then
  chmod ${mode} "$tmp" && mv -f "$tmp" ${remotePath} && echo verified
else
  rm -f "$tmp"; echo "mismatch $size $sum"; exit 3
fi`;
    const result = await this.exec(script, options.signal ? { signal: options.signal } : {}).catch(async (error: unknown) => {
      await this.exec(sh`rm -f ${temp}`).catch(() => undefined);
      throw error;
    });
    if (result.code === 0 && result.stdout.trim() === 'verified') return;
    const mismatch = /^mismatch (\S*) (\S*)$/m.exec(result.stdout);
    if (mismatch) {
      throw new TransportError(
        this.host,
        `upload of ${localPath} to ${remotePath} is corrupt on the host: it has ${mismatch[1] || '?'} bytes with sha256 ${mismatch[2] || '?'}, expected ${expected.bytes} bytes with sha256 ${expected.sha256}; the partial file was removed`,
        'upload',
      );
    }
    await this.exec(sh`rm -f ${temp}`).catch(() => undefined);
    throw new TransportError(
      this.host,
      `upload of ${localPath} to ${remotePath}: verifying or moving the file failed (exit ${result.code}): ${result.stderr.trim() || result.stdout.trim()}`,
      'upload',
    );
  }
}

/**
 * sshd frees a session slot only after our CLOSE reaches it, so right after a burst of commands
 * ends a new channel can be refused for a moment (MaxSessions). The command never started, so
 * trying again is safe.
 */
function openExec(client: Client, text: string, callback: (error: Error | undefined, channel: ClientChannel) => void, attempt = 0): void {
  client.exec(text, (error, channel) => {
    const refused = error && /open failed|administratively prohibited/i.test(error.message);
    if (refused && attempt < OPEN_RETRIES) {
      setTimeout(() => openExec(client, text, callback, attempt + 1), 5 * (attempt + 1));
      return;
    }
    callback(error, channel);
  });
}

function preferredHostKeyAlgorithms(knownTypes: string[]): string[] {
  const all = Object.values(HOST_KEY_ALGORITHMS).flat();
  const preferred = knownTypes.flatMap((type) => HOST_KEY_ALGORITHMS[type] ?? []);
  return [...new Set([...preferred, ...all])];
}

/** A TCP stream to the next hop, opened by the previous hop (what ProxyJump does). */
function forward(via: { client: Client; hop: Hop }, hop: Hop): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    via.client.forwardOut('127.0.0.1', 0, hop.address, hop.port, (error, stream) => {
      if (error) {
        reject(new TransportError(hop.label, `jump host ${via.hop.address}:${via.hop.port} could not reach ${hop.address}:${hop.port}: ${error.message}`, 'connect', { cause: error }));
      } else {
        resolve(stream);
      }
    });
  });
}

/**
 * Streams the local file into `remote` with several SFTP writes in flight (ssh2's write stream
 * keeps only one, which crawls over a long round trip), hashing the bytes as they are read.
 */
async function writeFile(sftp: SFTPWrapper, localPath: string, remote: string, mode: number, signal?: AbortSignal): Promise<UploadResult> {
  const handle = await new Promise<Buffer>((resolve, reject) =>
    sftp.open(remote, 'w', { mode }, (error, opened) => (error ? reject(error) : resolve(opened))),
  );
  const hash = createHash('sha256');
  let position = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const stream = createReadStream(localPath, { highWaterMark: UPLOAD_CHUNK_BYTES });
      let inFlight = 0;
      let ended = false;
      let failed = false;
      const fail = (error: unknown) => {
        if (failed) return;
        failed = true;
        signal?.removeEventListener('abort', onAbort);
        stream.destroy();
        reject(error);
      };
      const onAbort = () => fail(new Error('aborted'));
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      stream.on('data', (chunk: Buffer | string) => {
        const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        hash.update(data);
        const offset = position;
        position += data.length;
        inFlight++;
        if (inFlight >= UPLOAD_WRITES_IN_FLIGHT) stream.pause();
        sftp.write(handle, data, 0, data.length, offset, (error) => {
          inFlight--;
          if (error) return fail(error);
          if (failed) return;
          if (!ended && stream.isPaused()) stream.resume();
          if (ended && inFlight === 0) {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          }
        });
      });
      stream.on('end', () => {
        ended = true;
        if (inFlight === 0 && !failed) {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        }
      });
      stream.on('error', (error) => fail(new Error(`cannot read ${localPath}: ${error.message}`)));
    });
  } finally {
    await new Promise<void>((resolve) => sftp.close(handle, () => resolve()));
  }
  return { bytes: position, sha256: hash.digest('hex') };
}

async function endConnection(connection: Connection): Promise<void> {
  const clients = [connection.client, ...[...connection.hops].reverse()].filter((client) => !closedClients.has(client));
  await Promise.all(
    clients.map(
      (client) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            client.destroy();
            resolve();
          }, 2000);
          client.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
          client.end();
        }),
    ),
  );
}
