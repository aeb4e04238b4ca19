/**
 * `database.migrate.run: { command }`: the team's own tool runs once, locally or over a transport,
 * with the database URL in its environment, its output streamed line by line with secrets
 * scrubbed, and a failure reported with its exit code and last lines.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MigrationCommandError } from '../../src/migrations/command/errors.js';
import { runMigrationCommand, type MigrationOutputLine } from '../../src/migrations/command/run-command.js';
import { LocalTransport } from '../../src/transport/local.js';
import { registerSecret } from '../../src/util/redact.js';

const PASSWORD = 's3cret-Passw0rd';
const DATABASE_URL = `postgresql://deployer:${PASSWORD}@db.internal:5432/app`;

function collect(): { lines: MigrationOutputLine[]; onOutput: (line: MigrationOutputLine) => void } {
  const lines: MigrationOutputLine[] = [];
  return { lines, onOutput: (line) => lines.push(line) };
}

test('locally: DATABASE_URL reaches the tool in its environment, not on a command line; output is streamed line by line with the password scrubbed', async () => {
  const { lines, onOutput } = collect();
  registerSecret('tok-registered-0123456789');
  await runMigrationCommand({
    command: [
      'echo "tool: connecting to $DATABASE_URL"',
      'echo "warning: password $(echo $DATABASE_URL | sed "s/.*:\\(.*\\)@.*/\\1/") rejected, token tok-registered-0123456789" >&2',
      `echo "argv: $(tr '\\0' ' ' < /proc/$$/cmdline)"`,
      "printf 'last line without newline'",
    ].join('\n'),
    on: 'local',
    env: { DATABASE_URL },
    onOutput,
    timeoutMs: 20_000,
  });
  const text = lines.map((line) => `${line.stream}: ${line.line}`);
  assert.ok(text.includes('stdout: tool: connecting to postgresql://deployer:***@db.internal:5432/app'), text.join('\n'));
  assert.ok(text.includes('stderr: warning: password *** rejected, token ***'), text.join('\n'));
  assert.ok(text.includes('stdout: last line without newline'), text.join('\n'));
  const argv = lines.find((line) => line.line.startsWith('argv: '));
  assert.ok(argv && !argv.line.includes('db.internal'), `the shell's command line holds no URL: ${argv?.line}`);
  for (const line of lines) assert.ok(!line.line.includes(PASSWORD), line.line);
});

test('locally: a non-zero exit is an error with the exit code and the last lines of output', async () => {
  await assert.rejects(
    runMigrationCommand({
      command: `for i in $(seq 1 30); do echo "step $i"; done; echo "FATAL: password authentication failed for $DATABASE_URL" >&2; exit 3`,
      on: 'local',
      env: { DATABASE_URL },
      timeoutMs: 20_000,
    }),
    (error: Error) => {
      assert.ok(error instanceof MigrationCommandError);
      assert.equal(error.shipCode.code, 'SHIP-E042');
      assert.equal(error.exitCode, 3);
      assert.match(error.message, /^migration command ".*" exited with code 3 locally after/);
      assert.match(error.message, /\| step 30\n/);
      assert.match(error.message, /\| FATAL: password authentication failed for postgresql:\/\/deployer:\*\*\*@db\.internal:5432\/app$/);
      assert.doesNotMatch(error.message, /\| step 10\n/, 'only the last lines');
      assert.ok(!error.message.includes(PASSWORD));
      return true;
    },
  );
});

/**
 * The process is gone or a zombie within a few seconds: a killed orphan is reparented to pid 1, and
 * where that is not a real init (a container, this sandbox) it may stay a zombie, already dead.
 */
async function exitsSoon(pid: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
    if (stat === undefined || stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

test('locally: a command that outlives its timeout is stopped with everything it started', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ship-migrate-command-'));
  try {
    const pidFile = join(dir, 'child.pid');
    const started = Date.now();
    await assert.rejects(
      runMigrationCommand({ command: `sleep 60 & echo $! > '${pidFile}'; wait`, on: 'local', env: {}, timeoutMs: 500 }),
      (error: Error) => error instanceof MigrationCommandError && /timed out after 500ms and was stopped locally/.test(error.message),
    );
    assert.ok(Date.now() - started < 10_000);
    const child = Number((await readFile(pidFile, 'utf8')).trim());
    assert.ok(await exitsSoon(child), 'the sleep the command started is gone too');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('locally: an abort stops the command', async () => {
  const stop = new AbortController();
  await assert.rejects(
    runMigrationCommand({
      command: 'echo ready; sleep 60',
      on: 'local',
      env: {},
      timeoutMs: 60_000,
      signal: stop.signal,
      onOutput: () => stop.abort(),
    }),
    /was interrupted and stopped locally/,
  );
});

test('over a transport: the environment is quoted into the command, output is streamed and scrubbed, a failure names the host and exit code', async () => {
  const transport = new LocalTransport({ host: 'migrator-1' });
  const { lines, onOutput } = collect();
  const awkward = `it's "quoted"; $(touch /tmp/ship-should-not-exist) \`x\``;
  await runMigrationCommand({
    command: 'echo "url=$DATABASE_URL"; echo "name=$APP_LABEL"; echo "to stderr" >&2',
    on: transport,
    env: { DATABASE_URL, APP_LABEL: awkward },
    onOutput,
    timeoutMs: 20_000,
  });
  assert.deepEqual(
    lines.map((line) => `${line.stream}: ${line.line}`),
    ['stdout: url=postgresql://deployer:***@db.internal:5432/app', `stdout: name=${awkward}`, 'stderr: to stderr'],
  );

  await assert.rejects(
    runMigrationCommand({ command: 'echo "applying 0007"; exit 4', on: transport, env: { DATABASE_URL }, timeoutMs: 20_000 }),
    (error: Error) => error instanceof MigrationCommandError && error.exitCode === 4 && /exited with code 4 on migrator-1 after .*\n {4}\| applying 0007$/.test(error.message),
  );
});
