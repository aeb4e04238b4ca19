/**
 * The behaviour every StateStore must have, run against each implementation (files, PostgreSQL):
 * the journal round-trips, the newest run wins, and the deploy lock refuses, waits, goes stale,
 * is broken with a recorded reason, stays fresh while heartbeating, and has exactly one winner
 * when several runs race for it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Actor } from '../../src/journal/actor.js';
import {
  DeployLock,
  LockAliveError,
  LockHeldError,
  LockLostError,
  LockWaitExpiredError,
  MAX_STALE_AFTER_MS,
  type BreakLockOptions,
  type LockBreak,
  type LockHolder,
  type LockStatus,
} from '../../src/journal/lock.js';
import type { JournalEntry, StageRecord, RunRecord, StateStore, Transition } from '../../src/journal/state-store.js';
import type { InstanceState } from '../../src/events.js';
import { registerSecret } from '../../src/util/redact.js';

/** What both stores offer beyond the StateStore interface. */
export interface TestableStore extends StateStore {
  currentLock(app: string): Promise<LockStatus | undefined>;
  breakLock(app: string, by: Actor, reason: string, options?: BreakLockOptions): Promise<LockHolder | undefined>;
  lockBreaks(app: string): Promise<LockBreak[]>;
  lastRun(app: string): Promise<(JournalEntry & { warnings?: string[] }) | undefined>;
}

export interface SuiteOptions {
  /** A new, independent store on the same state (its own connections or file handles), as another ship would have. */
  open: () => TestableStore;
  /** Makes the app's lock look as if its last heartbeat was `ageMs` ago, by the store's own clock. */
  ageHeartbeat: (app: string, ageMs: number) => Promise<void>;
}

const alice: Actor = { osUser: 'alice', gitUser: 'alice@example.com', hostname: 'laptop-7' };
const ci: Actor = { osUser: 'runner', hostname: 'ci-box', ci: 'github-actions shop/web run 42 job deploy' };

function uniqueApp(): string {
  return `app-${randomBytes(4).toString('hex')}`;
}

function runRecord(app: string, runId: string, startedAt = new Date().toISOString()): RunRecord {
  return {
    runId,
    app,
    command: 'deploy',
    version: 'v2',
    hosts: ['web1', 'web2', 'web3'],
    resume: { playbook: 'deploy-release', batches: [['web1'], ['web2', 'web3']], vars: { region: 'eu' } },
    actor: alice,
    startedAt,
  };
}

function holder(app: string, runId: string, actor: Actor = alice): LockHolder {
  const now = new Date().toISOString();
  return { runId, pid: process.pid, app, command: 'deploy --version v2', actor, acquiredAt: now, heartbeatAt: now };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const PATH: InstanceState[] = ['in-service', 'draining', 'out', 'activating', 'verifying', 'registering', 'in-service'];

/** Registers the shared tests; `open` is called inside each test, after the caller's `before` hooks ran. */
export function stateStoreBehaviour(options: SuiteOptions): void {
  const stores: TestableStore[] = [];
  const open = () => {
    const store = options.open();
    stores.push(store);
    return store;
  };
  const closeAll = async () => {
    await Promise.all(stores.splice(0).map((store) => store.close().catch(() => undefined)));
  };

  test('a run, its transitions in order and its outcome round-trip through another store', async (t) => {
    t.after(closeAll);
    const app = uniqueApp();
    const writer = open();
    const run = runRecord(app, 'run-roundtrip');
    await writer.beginRun(run);
    const written: Transition[] = [];
    for (const host of run.hosts) {
      for (let i = 1; i < PATH.length; i++) {
        const transition: Transition = { runId: run.runId, host, from: PATH[i - 1]!, to: PATH[i]!, at: new Date(Date.now() + written.length).toISOString() };
        if (PATH[i] === 'out') transition.detail = `drained in ${i * 10}ms`;
        await writer.recordTransition(transition);
        written.push(transition);
      }
    }
    const outcome = {
      status: 'succeeded' as const,
      summary: { hosts: run.hosts.map((host) => ({ host, outcome: 'deployed' as const, outOfRotationMs: 120, timeToHealthyMs: 80 })), outOfRotation: [] },
      finishedAt: new Date().toISOString(),
    };
    const stages: StageRecord[] = [
      { runId: run.runId, stage: 'migration', name: 'V2__email.sql', status: 'started', at: new Date().toISOString(), version: '2', phase: 'expand' },
      { runId: run.runId, stage: 'migration', name: 'V2__email.sql', status: 'done', at: new Date().toISOString(), version: '2', phase: 'expand', detail: 'applied in 12 ms' },
      { runId: run.runId, stage: 'replica-wait', name: 'replicas', status: 'failed', at: new Date().toISOString(), detail: 'replica db2:5432/app lags' },
      { runId: run.runId, stage: 'analysis', name: 'batch 1 (canary)', status: 'failed', at: new Date().toISOString(), detail: 'canary web1: FAIL: 48 errors in 240 requests' },
      {
        runId: run.runId,
        stage: 'rollback',
        name: 'web1',
        status: 'started',
        at: new Date().toISOString(),
        version: 'v1',
        detail: 'canary analysis failed',
        facts: { previousRelease: '/srv/app/releases/v1' },
      },
    ];
    for (const stage of stages) await writer.recordStage(stage);
    await writer.finishRun(run.runId, outcome);

    const reader = open();
    const expected: JournalEntry = { run, transitions: written, stages, outcome };
    const last = await reader.lastRun(app);
    assert.ok(last);
    const { warnings, ...entry } = last;
    assert.equal(warnings, undefined);
    assert.deepEqual(entry, expected);
    assert.deepEqual(await reader.run(run.runId), expected);
  });

  test("one host's transitions are stored in the order of the calls, each handed over before the one before it is durable", async (t) => {
    t.after(closeAll);
    const app = uniqueApp();
    const writer = open();
    const run = { ...runRecord(app, 'run-unawaited'), hosts: Array.from({ length: 12 }, (_, i) => `web${i + 1}`) };
    await writer.beginRun(run);
    // As the rollout does with what it writes behind: no call waits for the last one, and hosts interleave.
    const calls: Array<Promise<void>> = [];
    const written: Transition[] = [];
    for (let i = 1; i < PATH.length; i++) {
      for (const host of run.hosts) {
        const transition: Transition = { runId: run.runId, host, from: PATH[i - 1]!, to: PATH[i]!, at: new Date().toISOString() };
        written.push(transition);
        calls.push(writer.recordTransition(transition));
      }
    }
    await Promise.all(calls);
    const stored = (await open().run(run.runId))?.transitions ?? [];
    for (const host of run.hosts) {
      assert.deepEqual(
        stored.filter((tr) => tr.host === host).map((tr) => tr.to),
        written.filter((tr) => tr.host === host).map((tr) => tr.to),
        host,
      );
    }
  });

  test('lastRun is the newest run of the app; an unfinished run has no outcome; unknown runs and apps are undefined', async (t) => {
    t.after(closeAll);
    const app = uniqueApp();
    const store = open();
    // startedAt deliberately out of order: "newest" means begun last, whatever the clocks said.
    await store.beginRun(runRecord(app, 'run-a', '2030-01-01T00:00:00.000Z'));
    await store.finishRun('run-a', { status: 'failed', summary: { hosts: [], outOfRotation: ['web2'] }, finishedAt: new Date().toISOString() });
    await store.beginRun(runRecord(app, 'run-b', '2020-01-01T00:00:00.000Z'));
    await store.recordTransition({ runId: 'run-b', host: 'web1', from: 'in-service', to: 'draining', at: new Date().toISOString() });
    const other = uniqueApp();
    await store.beginRun(runRecord(other, 'run-other'));

    const reader = open();
    const last = await reader.lastRun(app);
    assert.equal(last?.run.runId, 'run-b');
    assert.equal(last?.outcome, undefined);
    assert.deepEqual(
      last?.transitions.map((t) => t.to),
      ['draining'],
    );
    assert.equal((await reader.run('run-a'))?.outcome?.status, 'failed');
    assert.equal((await reader.lastRun(other))?.run.runId, 'run-other');
    assert.equal(await reader.lastRun(uniqueApp()), undefined);
    assert.equal(await reader.run('run-never'), undefined);
  });

  test('a run that goes on after its outcome (resumed) is unfinished again until its next outcome', async (t) => {
    t.after(closeAll);
    const app = uniqueApp();
    const store = open();
    await store.beginRun(runRecord(app, 'run-resumed'));
    await store.recordTransition({ runId: 'run-resumed', host: 'web1', from: 'in-service', to: 'draining', at: new Date().toISOString() });
    await store.finishRun('run-resumed', { status: 'interrupted', summary: { hosts: [], outOfRotation: ['web1'] }, finishedAt: new Date().toISOString() });
    assert.equal((await open().lastRun(app))?.outcome?.status, 'interrupted');
    await store.recordTransition({ runId: 'run-resumed', host: 'web1', from: 'draining', to: 'verifying', at: new Date().toISOString() });
    assert.equal((await open().lastRun(app))?.outcome, undefined);
    await store.finishRun('run-resumed', { status: 'succeeded', summary: { hosts: [], outOfRotation: [] }, finishedAt: new Date().toISOString() });
    const last = await open().lastRun(app);
    assert.equal(last?.outcome?.status, 'succeeded');
    assert.equal(last?.transitions.length, 2);
    // A resumption that only applies a contract migration goes on after the outcome too.
    await store.recordStage({ runId: 'run-resumed', stage: 'migration', name: 'V3__drop.sql', status: 'started', at: new Date().toISOString(), phase: 'contract' });
    assert.equal((await open().lastRun(app))?.outcome, undefined);
  });

  test('a transition for a run never begun, and a run id used twice, are refused', async (t) => {
    t.after(closeAll);
    const app = uniqueApp();
    const store = open();
    await assert.rejects(store.recordTransition({ runId: 'run-ghost', host: 'web1', from: 'in-service', to: 'draining', at: new Date().toISOString() }), /run-ghost/);
    await assert.rejects(store.recordStage({ runId: 'run-ghost', stage: 'migration', name: 'V2__x.sql', status: 'started', at: new Date().toISOString() }), /run-ghost/);
    await store.beginRun(runRecord(app, 'run-once'));
    await assert.rejects(open().beginRun(runRecord(app, 'run-once')), /run-once.*used once|already/);
  });

  test('secrets registered from the config are scrubbed from what is stored', async (t) => {
    t.after(closeAll);
    const secret = `pw-${randomBytes(8).toString('hex')}`;
    registerSecret(secret);
    const app = uniqueApp();
    const store = open();
    const run = runRecord(app, 'run-secret');
    run.resume = { vars: { token: secret } };
    await store.beginRun(run);
    await store.recordTransition({
      runId: run.runId,
      host: 'web1',
      from: 'out',
      to: 'failed-out',
      at: new Date().toISOString(),
      detail: `connect to postgres://u:${secret}@db failed`,
    });
    const stored = JSON.stringify(await open().lastRun(app));
    assert.ok(!stored.includes(secret), stored);
    assert.match(stored, /postgres:\/\/u:\*\*\*@db/);
  });

  test('a held lock refuses another run, naming the holder, its command and start time', async (t) => {
    t.after(closeAll);
    const app = uniqueApp();
    const laptop = open();
    const fromCi = open();
    const held = holder(app, 'run-laptop');
    await laptop.acquireLock(held, { staleAfterMs: 30_000 });
    const current = await fromCi.currentLock(app);
    assert.equal(current?.runId, 'run-laptop');
    assert.equal(current?.pid, process.pid);
    assert.equal(current?.command, 'deploy --version v2');
    assert.deepEqual(current?.actor, alice);
    assert.equal(current?.stale, false);
    assert.equal(current?.staleAfterMs, 30_000);

    const refusal = await fromCi.acquireLock(holder(app, 'run-ci', ci), { staleAfterMs: 30_000 }).then(
      () => assert.fail('a second run took a held lock'),
      (error: unknown) => error,
    );
    assert.ok(refusal instanceof LockHeldError);
    assert.equal(refusal.stale, false);
    assert.equal(refusal.holder.runId, 'run-laptop');
    assert.match(refusal.message, /alice@laptop-7 \(alice@example\.com\)/);
    assert.match(refusal.message, /'deploy --version v2' \(run run-laptop\)/);
    assert.ok(refusal.message.includes(`since ${current!.acquiredAt}`), refusal.message);
    assert.match(refusal.message, /--lock-wait/);

    // Releasing someone else's lock does nothing; the holder's release frees it.
    await fromCi.releaseLock(app, 'run-ci');
    assert.equal((await fromCi.currentLock(app))?.runId, 'run-laptop');
    await laptop.releaseLock(app, 'run-laptop');
    assert.equal(await fromCi.currentLock(app), undefined);
    await fromCi.acquireLock(holder(app, 'run-ci', ci), { staleAfterMs: 30_000 });
    assert.equal((await laptop.currentLock(app))?.runId, 'run-ci');
  });

  test('--lock-wait: a waiting run takes the lock as soon as the holder lets go, and gives up when it does not', async (t) => {
    const locks: DeployLock[] = [];
    // Locks are released before their stores close (after-hooks run in the order they were added).
    t.after(() => Promise.all(locks.map((lock) => lock.release())));
    t.after(closeAll);
    const app = uniqueApp();
    const first = await DeployLock.acquire(open(), { runId: 'run-first', app, command: 'deploy', actor: alice }, { staleAfterMs: 5_000 });
    locks.push(first);
    const waitingFor: LockHolder[] = [];
    const started = Date.now();
    setTimeout(() => void first.release(), 300);
    const second = await DeployLock.acquire(
      open(),
      { runId: 'run-second', app, command: 'deploy', actor: ci },
      {
        staleAfterMs: 5_000,
        waitMs: 10_000,
        pollIntervalMs: 25,
        onWaiting: (h) => waitingFor.push(h),
      },
    );
    locks.push(second);
    const waited = Date.now() - started;
    assert.ok(waited >= 280 && waited < 3_000, `waited ${waited}ms`);
    assert.deepEqual(
      waitingFor.map((h) => h.runId),
      ['run-first'],
    );
    assert.equal((await open().currentLock(app))?.runId, 'run-second');

    const expired = await DeployLock.acquire(open(), { runId: 'run-third', app, command: 'deploy', actor: alice }, { waitMs: 300, pollIntervalMs: 25 }).then(
      () => assert.fail('took a lock held by a live run'),
      (error: unknown) => error,
    );
    assert.ok(expired instanceof LockWaitExpiredError && expired instanceof LockHeldError);
    assert.equal(expired.holder.runId, 'run-second');
    assert.match(expired.message, /still locked after waiting .* \(--lock-wait\).*run-second/);
  });

  test('a lock whose heartbeat stopped is stale, and breaking it records who and why', async (t) => {
    t.after(closeAll);
    const app = uniqueApp();
    const crashed = open();
    await crashed.acquireLock(holder(app, 'run-crashed'), { staleAfterMs: 200 });
    await sleep(400);
    const other = open();
    const refusal = await other.acquireLock(holder(app, 'run-next', ci), { staleAfterMs: 30_000 }).then(
      () => assert.fail('a stale lock was taken over silently'),
      (error: unknown) => error,
    );
    assert.ok(refusal instanceof LockHeldError);
    assert.equal(refusal.stale, true);
    assert.match(refusal.message, /stale: break it with `ship unlock --force/);
    const status = await other.currentLock(app);
    assert.equal(status?.stale, true);
    assert.ok(status!.heartbeatAgeMs >= 200, `heartbeat age ${status?.heartbeatAgeMs}`);

    await assert.rejects(other.breakLock(app, ci, '  '), /needs a reason/);
    const broken = await other.breakLock(app, ci, 'laptop lost in a taxi');
    assert.equal(broken?.runId, 'run-crashed');
    assert.equal(await other.currentLock(app), undefined);
    const breaks = await open().lockBreaks(app);
    assert.equal(breaks.length, 1);
    assert.equal(breaks[0]!.reason, 'laptop lost in a taxi');
    assert.deepEqual(breaks[0]!.by, ci);
    assert.equal(breaks[0]!.holder.runId, 'run-crashed');
    assert.equal(breaks[0]!.evenIfAlive, false);
    assert.ok(breaks[0]!.heartbeatAgeMs >= 200);
    assert.equal(await other.breakLock(app, ci, 'nothing to break'), undefined);

    // The broken run, if it comes back, finds out at its next heartbeat; the new holder is untouched.
    await other.acquireLock(holder(app, 'run-next', ci), { staleAfterMs: 30_000 });
    const before = await other.currentLock(app);
    await assert.rejects(crashed.heartbeat(app, 'run-crashed'), (error: unknown) => error instanceof LockLostError && /run-next/.test(error.message));
    await crashed.releaseLock(app, 'run-crashed');
    assert.equal((await other.currentLock(app))?.runId, 'run-next');
    assert.equal((await other.currentLock(app))?.heartbeatAt, before?.heartbeatAt);
  });

  test('a live lock is not broken unless asked to break it even though it is alive, and that is recorded', async (t) => {
    t.after(closeAll);
    const app = uniqueApp();
    const store = open();
    await store.acquireLock(holder(app, 'run-alive'), { staleAfterMs: 30_000 });
    await assert.rejects(open().breakLock(app, ci, 'impatient'), (error: unknown) => error instanceof LockAliveError && /is alive.*run-alive/.test(error.message));
    assert.equal((await store.currentLock(app))?.runId, 'run-alive');
    assert.equal((await open().breakLock(app, ci, 'its host is wedged', { evenIfAlive: true }))?.runId, 'run-alive');
    assert.equal(await store.currentLock(app), undefined);
    const breaks = await store.lockBreaks(app);
    assert.deepEqual(
      breaks.map((b) => [b.reason, b.evenIfAlive]),
      [['its host is wedged', true]],
    );
  });

  test('a lock recorded with an absurd stale age is judged by the maximum, says so, and can be broken once that has passed', async (t) => {
    t.after(closeAll);
    const app = uniqueApp();
    const store = open();
    // No ship records such an age (DeployLock refuses it); another tool or a hand edit could.
    await store.acquireLock(holder(app, 'run-forever'), { staleAfterMs: Number.MAX_SAFE_INTEGER });
    const fresh = await open().currentLock(app);
    assert.equal(fresh?.stale, false);
    assert.equal(fresh?.staleAfterMs, MAX_STALE_AFTER_MS);
    assert.match(fresh?.staleAgeNote ?? '', /records a stale age of 9007199254740991ms, beyond the maximum of 10m0s; judged by that maximum/);
    await assert.rejects(open().breakLock(app, ci, 'impatient'), (error: unknown) => error instanceof LockAliveError && /beyond the maximum of 10m0s/.test(error.message));

    await options.ageHeartbeat(app, MAX_STALE_AFTER_MS + 60_000);
    const aged = await open().currentLock(app);
    assert.equal(aged?.stale, true, JSON.stringify(aged));
    assert.equal((await open().breakLock(app, ci, 'its holder died long ago'))?.runId, 'run-forever');
    assert.equal(await store.currentLock(app), undefined);
  });

  test('the deploy lock refuses to record a stale age the stores would not honour', async (t) => {
    t.after(closeAll);
    const app = uniqueApp();
    for (const staleAfterMs of [0, -1, Number.POSITIVE_INFINITY, Number.NaN, MAX_STALE_AFTER_MS + 1]) {
      await assert.rejects(
        DeployLock.acquire(open(), { runId: 'run-x', app, command: 'deploy', actor: alice }, { staleAfterMs }),
        /the stale age .* must be more than 0 and at most 10m0s/,
      );
    }
    assert.equal(await open().currentLock(app), undefined);
  });

  test("heartbeats keep a lock fresh, whatever the holder's clock said when it took it", async (t) => {
    t.after(closeAll);
    const app = uniqueApp();
    const store = open();
    const longAgo = '2001-01-01T00:00:00.000Z';
    await store.acquireLock({ ...holder(app, 'run-beating'), heartbeatAt: longAgo }, { staleAfterMs: 600 });
    const other = open();
    // Beating for longer than the stale age proves the heartbeat, not the acquire, keeps it fresh.
    for (let i = 0; i < 6; i++) {
      await sleep(150);
      await store.heartbeat(app, 'run-beating');
      const status = await other.currentLock(app);
      assert.equal(status?.stale, false, `stale after ${i + 1} heartbeats: ${JSON.stringify(status)}`);
      await assert.rejects(other.acquireLock(holder(app, 'run-other', ci), { staleAfterMs: 600 }), (error: unknown) => error instanceof LockHeldError && !error.stale);
    }
    await sleep(800);
    assert.equal((await other.currentLock(app))?.stale, true);
    await assert.rejects(store.heartbeat(app, 'run-someone-else'), LockLostError);
  });

  test('two runs racing for a free lock: exactly one wins, every time', async (t) => {
    t.after(closeAll);
    for (let round = 0; round < 5; round++) {
      const app = uniqueApp();
      const racers = Array.from({ length: 6 }, () => open());
      await Promise.all(racers.map((store) => store.currentLock(app))); // connections open, tables ready
      const results = await Promise.allSettled(racers.map((store, i) => store.acquireLock(holder(app, `run-${i}`), { staleAfterMs: 30_000 })));
      const winners = results.flatMap((result, i) => (result.status === 'fulfilled' ? [`run-${i}`] : []));
      assert.equal(winners.length, 1, `round ${round}: winners ${winners.join(', ')}`);
      for (const result of results) {
        if (result.status === 'rejected') {
          assert.ok(result.reason instanceof LockHeldError, String(result.reason));
          assert.equal(result.reason.holder.runId, winners[0]);
        }
      }
      assert.equal((await open().currentLock(app))?.runId, winners[0]);
      await Promise.all(racers.map((store) => store.close()));
    }
  });
}
