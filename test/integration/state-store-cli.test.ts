/**
 * The file state store refusing what it must not use, through the real CLI: a live lock that
 * `ship unlock --force` must not break (its own code, SHIP-E035), a state folder or lock log that is
 * a symbolic link (ship would chmod or append to whatever it points at), and a `state.path` on a
 * pseudo-filesystem such as /proc (Node's recursive mkdir spins there forever).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ShipEvent } from '../../src/events.js';
import { FileStateStore } from '../../src/journal/file-store.js';
import { finished, REPO_ROOT, runShip } from '../support/cli.js';
import { describeRun } from '../support/fleet-assertions.js';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ship-state-cli-'));
  dirs.push(dir);
  return dir;
}

/** A config for app `shop` with nothing to reach: status and unlock only need the state store. */
async function writeConfig(dir: string, statePath: string): Promise<string> {
  const file = join(dir, 'ship.config.ts');
  const config = {
    app: 'shop',
    hosts: [{ name: 'web1', address: '127.0.0.1' }],
    loadBalancer: { type: 'none' },
    health: { tcp: { port: 80 } },
    state: { store: 'file', path: statePath },
  };
  await writeFile(file, `export default ${JSON.stringify(config, null, 2)};\n`);
  return file;
}

function holder(runId: string) {
  const now = new Date().toISOString();
  return { runId, pid: process.pid, app: 'shop', command: 'deploy --version v2', actor: { osUser: 'alice', hostname: 'laptop' }, acquiredAt: now, heartbeatAt: now };
}

test('ship unlock --force on a live lock is refused with its own code (SHIP-E035, exit 1), and the lock stays', async () => {
  const dir = await tempDir();
  const config = await writeConfig(dir, '.ship');
  const store = new FileStateStore(join(dir, '.ship'));
  try {
    await store.acquireLock(holder('run-alive'), { staleAfterMs: 60_000 });
    const unlock = await runShip(['unlock', '--config', config, '--force', '--reason', 'impatient']);
    assert.equal(unlock.code, 1, describeRun(unlock));
    assert.match(unlock.stderr, /the deploy lock of app shop is alive: held by alice@laptop: 'deploy --version v2' \(run run-alive\)/);
    assert.match(unlock.stderr, /SHIP-E035 The deploy lock is alive and was not broken: docs\/runbook\.md#ship-e035-the-deploy-lock-is-alive-and-was-not-broken/);
    assert.doesNotMatch(unlock.stderr, /SHIP-E099/);
    assert.equal((await store.currentLock('shop'))?.runId, 'run-alive');
    assert.deepEqual(await store.lockBreaks('shop'), []);
  } finally {
    await store.close();
  }
});

test('ship unlock --force refuses a log of broken locks that is a symbolic link (SHIP-E036): the file it points at is untouched, the lock stays', async () => {
  const dir = await tempDir();
  const config = await writeConfig(dir, '.ship');
  const store = new FileStateStore(join(dir, '.ship'));
  try {
    await store.acquireLock({ ...holder('run-dead'), pid: 0 }, { staleAfterMs: 10 });
    await new Promise((resolve) => setTimeout(resolve, 30));
    const victim = join(dir, 'authorized_keys');
    await writeFile(victim, 'ssh-ed25519 AAAA... ops\n');
    const breaks = join(dir, '.ship', 'locks', 'shop.breaks.jsonl');
    await symlink(victim, breaks);
    const unlock = await runShip(['unlock', '--config', config, '--force', '--reason', 'holder died']);
    assert.equal(unlock.code, 1, describeRun(unlock));
    assert.ok(unlock.stderr.includes(`${breaks}: is a symbolic link, and ship follows none in its state folder`), unlock.stderr);
    assert.match(unlock.stderr, /SHIP-E036 State store unreachable or unusable/);
    assert.equal(await readFile(victim, 'utf8'), 'ssh-ed25519 AAAA... ops\n');
    assert.equal((await store.currentLock('shop'))?.runId, 'run-dead');
  } finally {
    await store.close();
  }
});

test('a deploy with state.path under /proc is refused at once, naming state.path (exit 3, SHIP-E036), instead of spinning', async () => {
  const dir = await tempDir();
  const config = await writeConfig(dir, '/proc/ship-state');
  const artifact = join(dir, 'app.tgz');
  await writeFile(artifact, 'not really a tarball');
  const started = Date.now();
  // Its own deadline, shorter than the CLI helper's: the old code never returned.
  const child = execa(
    process.execPath,
    ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli', 'main.ts'), 'deploy', '--config', config, '--version', 'v2', '--artifact', artifact, '--json'],
    {
      cwd: REPO_ROOT,
      env: { CI: 'true' },
      reject: false,
      stdin: 'ignore',
      timeout: 30_000,
      killSignal: 'SIGKILL',
    },
  );
  const run = await finished(child);
  assert.ok(Date.now() - started < 25_000, `took ${Date.now() - started} ms`);
  assert.equal(run.code, 3, describeRun(run));
  const done = run.events.find((event): event is Extract<ShipEvent, { type: 'run.finished' }> => event.type === 'run.finished');
  assert.equal(done?.status, 'refused');
  assert.equal(done?.summary.code, 'SHIP-E036', describeRun(run));
  assert.match(done?.summary.error ?? '', /\/proc\/ship-state: state\.path is on a pseudo-filesystem \(proc mounted at \/proc\)/);
});
