import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { FileStateStore } from '../../src/journal/file-store.js';
import type { Actor } from '../../src/journal/actor.js';
import { DeployLock, LockHeldError, LockLostError, type LockRequest } from '../../src/journal/lock.js';
import type { StateStore } from '../../src/journal/state-store.js';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

async function newStore(): Promise<FileStateStore> {
  const dir = await mkdtemp(join(tmpdir(), 'ship-lock-'));
  dirs.push(dir);
  return new FileStateStore(join(dir, '.ship'));
}

const alice: Actor = { osUser: 'alice', hostname: 'laptop' };
const request = (runId: string): LockRequest => ({ runId, app: 'shop', command: 'deploy --version v2', actor: alice });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function lostWithin(lock: DeployLock, ms: number): Promise<unknown> {
  if (lock.lost.aborted) return Promise.resolve(lock.lost.reason);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the lock was not reported lost within ${ms}ms`)), ms);
    lock.lost.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve(lock.lost.reason);
    });
  });
}

test('the heartbeat keeps a held lock fresh long past its stale age; release frees it, twice is harmless', async () => {
  const store = await newStore();
  const lock = await DeployLock.acquire(store, request('run-1'), { staleAfterMs: 400 });
  await sleep(1_000);
  const status = await store.currentLock('shop');
  assert.equal(status?.stale, false, JSON.stringify(status));
  assert.equal(status?.pid, process.pid);
  await assert.rejects(DeployLock.acquire(store, request('run-2')), (error: unknown) => error instanceof LockHeldError && !error.stale);
  assert.equal(lock.lost.aborted, false);
  await lock.release();
  await lock.release();
  assert.equal(await store.currentLock('shop'), undefined);
});

test('a lock broken under a live run is reported through `lost`; its release leaves the new holder alone', async () => {
  const store = await newStore();
  const lock = await DeployLock.acquire(store, request('run-1'), { staleAfterMs: 5_000, heartbeatIntervalMs: 40 });
  await store.breakLock('shop', { osUser: 'bob', hostname: 'desk' }, 'testing', { evenIfAlive: true });
  const reason = await lostWithin(lock, 2_000);
  assert.ok(reason instanceof LockLostError);
  assert.match(reason.message, /run run-1 lost the deploy lock of app shop: .*gone.*starts no new batch/);
  const next = await DeployLock.acquire(store, request('run-2'), { staleAfterMs: 5_000 });
  await lock.release();
  assert.equal((await store.currentLock('shop'))?.runId, 'run-2');
  await next.release();
});

test('heartbeats failing are warnings at first, and lose the lock once others may call it stale', async () => {
  const store = await newStore();
  let failing = false;
  const flaky: StateStore = new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'heartbeat' && failing) return () => Promise.reject(new Error('state database unreachable'));
      const value = Reflect.get(target, property, receiver) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const warnings: string[] = [];
  const started = Date.now();
  const lock = await DeployLock.acquire(flaky, request('run-1'), { staleAfterMs: 600, heartbeatIntervalMs: 40, onWarning: (message) => warnings.push(message) });
  failing = true;
  await sleep(250);
  assert.equal(lock.lost.aborted, false);
  assert.ok(warnings.length >= 1);
  assert.match(warnings[0]!, /heartbeat failed, retrying: state database unreachable/);
  const reason = await lostWithin(lock, 2_000);
  assert.ok(reason instanceof LockLostError);
  assert.match(reason.message, /no heartbeat reached the state store for .*state database unreachable.*may break the lock as stale/);
  assert.ok(Date.now() - started >= 600);
  await lock.release();
});

test('a stale holder is refused at once, even with a long --lock-wait: a dead run never lets go', async () => {
  const store = await newStore();
  const now = new Date().toISOString();
  await store.acquireLock({ ...request('run-dead'), pid: 1, acquiredAt: now, heartbeatAt: now }, { staleAfterMs: 50 });
  await sleep(120);
  const started = Date.now();
  await assert.rejects(
    DeployLock.acquire(store, request('run-2'), { waitMs: 10_000, pollIntervalMs: 20 }),
    (error: unknown) => error instanceof LockHeldError && error.stale && /ship unlock --force/.test(error.message),
  );
  assert.ok(Date.now() - started < 1_000);
});

test('Ctrl-C while waiting for the lock stops the wait', async () => {
  const store = await newStore();
  const holder = await DeployLock.acquire(store, request('run-1'), { staleAfterMs: 5_000 });
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error('interrupted')), 100);
  const started = Date.now();
  await assert.rejects(DeployLock.acquire(store, request('run-2'), { waitMs: 10_000, pollIntervalMs: 20, signal: controller.signal }), /interrupted/);
  assert.ok(Date.now() - started < 1_000);
  await holder.release();
});

test('a heartbeat interval that does not fit in the stale age is refused', async () => {
  const store = await newStore();
  await assert.rejects(DeployLock.acquire(store, request('run-1'), { staleAfterMs: 100, heartbeatIntervalMs: 100 }), /must be shorter than the stale age/);
  assert.equal(await store.currentLock('shop'), undefined);
});

test('the heartbeat never keeps the process alive; a run that dies holding the lock leaves it to go stale', async () => {
  const store = await newStore();
  const lockModule = fileURLToPath(new URL('../../src/journal/lock.ts', import.meta.url));
  const storeModule = fileURLToPath(new URL('../../src/journal/file-store.ts', import.meta.url));
  const script = `
    const { DeployLock } = await import(${JSON.stringify(lockModule)});
    const { FileStateStore } = await import(${JSON.stringify(storeModule)});
    await DeployLock.acquire(new FileStateStore(${JSON.stringify(store.root)}), { runId: 'run-child', app: 'shop', command: 'deploy', actor: { osUser: 'c', hostname: 'h' } }, { staleAfterMs: 300 });
    console.log('held');`;
  const child = await execa(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { reject: false, timeout: 20_000 });
  assert.equal(child.timedOut, false, 'the heartbeat timer kept the process alive');
  assert.equal(child.exitCode, 0, child.stderr);
  assert.equal(child.stdout.trim(), 'held');
  const left = await store.currentLock('shop');
  assert.equal(left?.runId, 'run-child');
  await sleep(Math.max(0, 350 - left!.heartbeatAgeMs));
  assert.equal((await store.currentLock('shop'))?.stale, true);
});
