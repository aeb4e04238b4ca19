/**
 * `database.migrate.run: { command, on }`: the team's own migration tool, run once, on this
 * machine or on one host over its transport. The database URL reaches it in the environment:
 * locally through execa's env, never on a command line (visible in `ps` to every user); over a
 * transport, which can only send command text, through `exec env NAME=value sh -c <command>`,
 * where the value sits on a command line only until env has started the command.
 */
import { sh, unsafeRaw, withPipefail } from '../../shell/sh.js';
import type { Transport } from '../../transport/transport.js';
import { formatDuration } from '../../util/duration.js';
import { MigrationCommandError } from './errors.js';
import { OutputLines, secretScrubber } from './output-lines.js';

export interface MigrationOutputLine {
  readonly stream: 'stdout' | 'stderr';
  /** One line, secrets scrubbed. */
  readonly line: string;
}

export interface MigrationCommandOptions {
  /** A shell script, as the team wrote it in the config: `npx prisma migrate deploy`. */
  readonly command: string;
  readonly on: 'local' | Transport;
  /** Environment for the command (DATABASE_URL above all); every value is also scrubbed from its output. */
  readonly env: Readonly<Record<string, string>>;
  readonly onOutput?: (line: MigrationOutputLine) => void;
  /** Aborting stops the command (its whole process group, locally). */
  readonly signal?: AbortSignal;
  readonly timeoutMs: number;
  /** Working directory for a local run; ship's own by default. */
  readonly cwd?: string;
}

export interface MigrationCommandResult {
  readonly durationMs: number;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** The end of the output is where a tool says why it failed. */
const TAIL_LINES = 20;

export async function runMigrationCommand(options: MigrationCommandOptions): Promise<MigrationCommandResult> {
  for (const name of Object.keys(options.env)) {
    if (!ENV_NAME.test(name)) throw new MigrationCommandError(`migration command: ${JSON.stringify(name)} is not an environment variable name`, {});
  }
  const scrub = secretScrubber(Object.values(options.env));
  const tail: string[] = [];
  const lines = (stream: MigrationOutputLine['stream']) =>
    new OutputLines((raw) => {
      const line = scrub(raw);
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
      options.onOutput?.({ stream, line });
    });
  const stdout = lines('stdout');
  const stderr = lines('stderr');
  const where = options.on === 'local' ? 'locally' : `on ${options.on.host}`;
  const shown = scrub(options.command);
  const started = performance.now();
  const exit = options.on === 'local' ? await runLocally(options, stdout, stderr) : await runOver(options.on, options, stdout, stderr);
  stdout.flush();
  stderr.flush();
  const durationMs = performance.now() - started;
  if (exit.stopped !== undefined || exit.code !== 0) {
    const how = exit.stopped ?? `exited with code ${exit.code}`;
    throw new MigrationCommandError(
      `migration command ${JSON.stringify(shown)} ${how} ${where} after ${formatDuration(durationMs)}; read the version table before running it again${tail.length ? `\n${tail.map((line) => `    | ${line}`).join('\n')}` : ''}`,
      exit.code === undefined ? {} : { exitCode: exit.code },
    );
  }
  return { durationMs };
}

interface Exit {
  readonly code?: number;
  /** Why ship stopped it: timed out, aborted. */
  readonly stopped?: string;
}

/** Under pipefail, as every shell ship starts: a failing tool piped into `tee` still fails the step. */
function script(command: string): string {
  return withPipefail(unsafeRaw(command)).text;
}

async function runOver(transport: Transport, options: MigrationCommandOptions, stdout: OutputLines, stderr: OutputLines): Promise<Exit> {
  const assignments = Object.entries(options.env).map(([name, value]) => `${name}=${value}`);
  const command = sh`exec env ${assignments} sh -c ${script(options.command)}`;
  const result = await transport.exec(command, {
    timeoutMs: options.timeoutMs,
    ...(options.signal ? { signal: options.signal } : {}),
    onStdout: (chunk) => stdout.push(chunk),
    onStderr: (chunk) => stderr.push(chunk),
  });
  return { code: result.code };
}

const KILL_GRACE_MS = 5000;

async function runLocally(options: MigrationCommandOptions, stdout: OutputLines, stderr: OutputLines): Promise<Exit> {
  const { execa } = await import('execa');
  if (options.signal?.aborted) return { stopped: 'was aborted before it started' };
  const child = execa('sh', ['-c', script(options.command)], {
    env: options.env,
    // Its own process group: stopping it stops the tool it started too, not only the shell.
    detached: true,
    buffer: false,
    reject: false,
    stdin: 'ignore',
    encoding: 'utf8',
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => stdout.push(chunk));
  child.stderr.on('data', (chunk: string) => stderr.push(chunk));
  let stopped: string | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  const stop = (why: string) => {
    if (stopped !== undefined || child.pid === undefined) return;
    stopped = why;
    // TERM first: a migration tool may still roll back its transaction and release its lock.
    signalGroup(child.pid, 'SIGTERM');
    killTimer = setTimeout(() => signalGroup(child.pid as number, 'SIGKILL'), KILL_GRACE_MS);
  };
  const timer = setTimeout(() => stop(`timed out after ${formatDuration(options.timeoutMs)} and was stopped`), options.timeoutMs);
  const onAbort = () => stop('was interrupted and stopped');
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const result = await child;
    if (stopped !== undefined) return { stopped };
    if (result.exitCode === undefined) return { stopped: result.signal ? `was killed by ${result.signal}` : `could not start: ${result.shortMessage}` };
    return { code: result.exitCode };
  } finally {
    clearTimeout(timer);
    clearTimeout(killTimer);
    options.signal?.removeEventListener('abort', onAbort);
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}
