/**
 * The journal failing at the exact moment an instance is about to leave the load balancer. On the
 * real fleet a full or read-only state folder is caught before the run starts
 * (lock-and-journal.test.ts), and a write cannot be made to fail at one chosen record, so this
 * fault drives the rollout engine with in-memory seams and a journal that refuses one record:
 * the instance whose departure could not be recorded must not depart, and nothing after it either.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventBus, type ShipEvent } from '../../src/events.js';
import type { Transition } from '../../src/journal/state-store.js';
import { definePlaybook, run } from '../../src/playbook/define.js';
import type { Target } from '../../src/rollout/instance.js';
import { runRollout } from '../../src/rollout/rollout.js';
import { sh } from '../../src/shell/sh.js';
import { MemoryLoadBalancer, MemoryTransport } from '../support/memory.js';
import { maxOutAtOnce } from '../support/fleet-assertions.js';

const NAMES = ['web1', 'web2', 'web3', 'web4'];

async function rollWithJournalFailingAt(failAt: { host: string; to: string }) {
  const lb = new MemoryLoadBalancer(NAMES);
  const targets: Target[] = NAMES.map((name) => ({
    name,
    address: '127.0.0.1',
    lbName: name,
    transport: new MemoryTransport(name),
    checks: [{ name: `memory ${name}`, successThreshold: 1, intervalMs: 1, probe: async () => ({ ok: true, detail: 'up' }) }],
    ctx: { app: 'demo', host: { name, address: '127.0.0.1', lbName: name }, vars: {}, facts: {} },
  }));
  const journal: Transition[] = [];
  let broken = false;
  const record = async (transition: Transition) => {
    // A full disk stays full: once a write failed, every later one fails too.
    if (broken || (transition.host === failAt.host && transition.to === failAt.to)) {
      broken = true;
      throw new Error('ENOSPC: no space left on device, write');
    }
    journal.push(transition);
  };
  const bus = new EventBus('journal-fault');
  const events: ShipEvent[] = [];
  bus.subscribe((event) => events.push(event));
  const result = await runRollout({
    targets,
    playbook: definePlaybook({ name: 'p', activate: [run(sh`true`)], rollback: [run(sh`true`)] }),
    lb,
    bus,
    settings: {
      batchSize: 1,
      canary: true,
      minHealthy: undefined,
      capacityWaitMs: 0,
      maxFailures: 0,
      stageConcurrency: 4,
      capacityPollMs: 5,
      drainTimeoutMs: 100,
      healthyTimeoutMs: 100,
      commandTimeoutMs: 1000,
      sudo: false,
    },
    signals: { graceful: new AbortController().signal, hard: new AbortController().signal },
    restoreCommand: (hosts) => `ship restore --hosts ${hosts.join(',')}`,
    record,
  });
  return { result, lb, journal, events };
}

/** Out of the (memory) load balancer by its own record of what it was told. */
function outOfLb(lb: MemoryLoadBalancer): string[] {
  return [...lb.admin].filter(([, admin]) => admin !== 'ready').map(([name]) => name);
}

test('the journal cannot record that an instance leaves: it never leaves, and the run stops there (status failed, exit 1)', async () => {
  const { result, lb, journal, events } = await rollWithJournalFailingAt({ host: 'web2', to: 'draining' });

  assert.equal(result.status, 'failed');
  assert.match(result.summary.error ?? '', /the journal could not be written \(ENOSPC: no space left on device, write\); no further instance is taken out/);
  assert.ok(
    !lb.log.some((entry) => entry.endsWith(' web2') || entry.endsWith(' web3') || entry.endsWith(' web4')),
    `only web1 may be touched in the load balancer: ${lb.log.join(', ')}`,
  );
  assert.deepEqual(outOfLb(lb), []);
  assert.deepEqual(result.summary.outOfRotation, []);
  assert.deepEqual(
    result.summary.hosts.map((h) => [h.host, h.outcome]),
    [
      ['web1', 'deployed'],
      ['web2', 'not-started'],
      ['web3', 'not-started'],
      ['web4', 'not-started'],
    ],
  );
  assert.deepEqual([...new Set(journal.map((t) => t.host))], ['web1']);
  assert.ok(maxOutAtOnce(events) <= 1);
});

test('the journal fails while an instance is out: that instance is finished and put back, no other one is taken out', async () => {
  const { result, lb, journal } = await rollWithJournalFailingAt({ host: 'web1', to: 'verifying' });

  assert.equal(result.status, 'failed');
  assert.deepEqual(outOfLb(lb), [], 'the instance in flight is put back even though the journal cannot say so');
  assert.deepEqual(result.summary.outOfRotation, []);
  assert.deepEqual(
    result.summary.hosts.map((h) => h.outcome),
    ['deployed', 'not-started', 'not-started', 'not-started'],
  );
  assert.ok(!lb.log.some((entry) => !entry.endsWith(' web1')), `only web1 may be touched: ${lb.log.join(', ')}`);
  // The journal's last word on web1 is the last record it could take: a person sees it was mid-way.
  assert.equal(journal.at(-1)?.to, 'activating');
});
