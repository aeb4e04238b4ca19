/**
 * Running one command on a channel of the host's connection, with a deadline, and killing it for
 * real when it times out, is aborted or loses its connection.
 *
 * Killing a command: OpenSSH ignores most channel signals, and closing a channel does not stop the
 * command (a `sleep` without a tty keeps running). sshd starts every non-pty command in a new
 * session, so its shell is a process-group leader; the shell prints its pid on the first stdout
 * line and then `exec`s the real command (keeping the pid). To kill, a second channel sends
 * `kill -s KILL -- -<pid>`, which takes down the whole group, sudo and children included.
 */
import { constants as osConstants } from 'node:os';
import { StringDecoder } from 'node:string_decoder';
import type { Client, ClientChannel } from 'ssh2';
import { sh, withPipefail, withSudo, type ShellCommand } from '../shell/sh.js';
import { OutputTail } from './output.js';
import type { Connection, SshConnection } from './ssh-connect.js';
import { TransportError, type ExecOptions, type ExecResult } from './transport.js';

/** Every wait has a deadline (DESIGN principle 4); long steps pass their own timeoutMs. */
const DEFAULT_COMMAND_TIMEOUT_MS = 10 * 60_000;
/** After the kill, how long to wait for the channel to report the command gone. */
const KILL_GRACE_MS = 5_000;
const OPEN_RETRIES = 20;
const PID_LINE = /^__ship_pid__=(\d+)\n/m;
/** Before the pid line there may be output from the login shell's rc files; bound what we hold back. */
const MAX_PREAMBLE_CHARS = 64 * 1024;

export interface ExecContext {
  host: string;
  sudoUser?: string;
  commandTimeoutMs?: number;
  /** Where a command whose connection dropped is killed from. */
  connections: SshConnection;
}

export function execOverSsh(connection: Connection, command: ShellCommand, options: ExecOptions, context: ExecContext): Promise<ExecResult> {
  const { host } = context;
  const inner = options.sudo ? withSudo(command, context.sudoUser) : command;
  // The shell reports its pid (= process group id, see the header comment) and becomes the command.
  const wrapped = sh`printf '__ship_pid__=%s\n' "$$"; exec sh -c ${withPipefail(inner).text}`;
  const timeoutMs = options.timeoutMs ?? context.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
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
      killing = killProcessGroup(connection, pid, options.sudo === true, context.sudoUser).then(
        (outcome) => {
          killOutcome = outcome;
        },
        (error: Error) => {
          killOutcome = `kill failed: ${error.message}`;
        },
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
        ? new TransportError(host, `command timed out after ${timeoutMs}ms; ${what}`, 'timeout')
        : new TransportError(host, `command aborted; ${what}`, 'exec', { cause: options.signal?.reason });
    };
    const onAbort = () => stop('abort');
    const timer = setTimeout(() => stop('timeout'), timeoutMs);
    options.signal?.addEventListener('abort', onAbort, { once: true });

    openExec(connection.client, wrapped.text, (error, opened) => {
      if (error) {
        finish({ error: new TransportError(host, `cannot start a command: ${error.message}`, 'exec', { cause: error }) });
        return;
      }
      // Even when the caller was already answered (stopped before the channel opened), the
      // command has started now: the handlers below still read its pid and kill it.
      channel = opened;
      if (options.stdin !== undefined) opened.end(options.stdin);
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
          if (pid === undefined) return finish({ error: new TransportError(host, `${lost}; its process id was never reported, so it may still be running on the host`, 'closed') });
          void killOrphan(connection, pid, options.sudo === true, context).then((outcome) => finish({ error: new TransportError(host, `${lost}; ${outcome}`, 'closed') }));
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
async function killOrphan(dropped: Connection, pid: number, sudo: boolean, context: ExecContext): Promise<string> {
  try {
    const outcome = await killProcessGroup(await context.connections.afterDrop(dropped), pid, sudo, context.sudoUser);
    return outcome === 'killed' ? `killed its process group ${pid} on the host over a new connection` : `process group ${pid} on the host: ${outcome}`;
  } catch (error) {
    return `it may still be running on the host (process group ${pid}): reconnecting to kill it failed: ${(error as Error).message}`;
  }
}

/** Runs on its own channel, outside the command limit, so a full host can still be cleaned up. */
function killProcessGroup(connection: Connection, pid: number, sudo: boolean, sudoUser: string | undefined): Promise<string> {
  const kill = sh`kill -s KILL -- ${`-${pid}`}`;
  const text = (sudo ? withSudo(kill, sudoUser) : kill).text;
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
