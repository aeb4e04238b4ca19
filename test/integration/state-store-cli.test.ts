/**
 * The file state store refusing what it must not use, through the real CLI: a live lock that
 * `ship unlock --force` must not break (its own code, SHIP-E035), a state folder or lock log that is
 * a symbolic link (ship would chmod or append to whatever it points at), and a `state.path` on a
 * pseudo-filesystem such as /proc (Node's recursive mkdir spins there forever).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStateStore } from '../../src/journal/file-store.js';
import { runShip } from '../support/cli.js';
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
