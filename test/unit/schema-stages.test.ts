/**
 * The schema stages' own decisions, with a runner that records what it is asked to apply (the
 * real applier and replica wait have their own tests on a real primary and replica): which files
 * run in which phase, what is journalled before and after, and where a failure stops.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SchemaStages, type MigrationRunner, type PendingMigration, type ReplicaGate } from '../../src/commands/pipeline/schema-stages.js';
import { EventBus, type ShipEvent } from '../../src/events.js';
import type { StageRecord } from '../../src/journal/state-store.js';

const expand1: PendingMigration = { file: 'V2__email.sql', version: '2', phase: 'expand' };
const expand2: PendingMigration = { file: 'V3__index.sql', version: '3', phase: 'expand' };
const contract: PendingMigration = { file: 'V4__drop_age.sql', version: '4', phase: 'contract' };

function setup(options: { pending: PendingMigration[]; failOn?: string; gate?: ReplicaGate; signal?: AbortSignal; runner?: MigrationRunner }) {
  const bus = new EventBus('run-1');
  const events: ShipEvent[] = [];
  bus.subscribe((event) => events.push(event));
  const journal: Array<Omit<StageRecord, 'runId' | 'at'>> = [];
  const log: string[] = [];
  const runner: MigrationRunner = options.runner ?? {
    kind: 'ship',
    async applyFile(migration, onRetry) {
      log.push(`apply ${migration.file}`);
      if (migration.file === options.failOn) throw new Error(`${migration.file}:3: column "x" does not exist`);
      if (migration === expand2) onRetry(1, 250, 'line 1: blocked by pid 42');
    },
  };
  const stages = new SchemaStages({
    bus,
    record: async (stage) => {
      journal.push(stage);
    },
    runner,
    ...(options.gate ? { replicaGate: options.gate } : {}),
    pending: options.pending,
    signal: options.signal ?? new AbortController().signal,
  });
  return { stages, events, journal, log };
}

test('expand files apply before the rollout and contract files after it, each journalled before and after', async () => {
  const gateCalls: string[] = [];
  const { stages, journal, log, events } = setup({
    pending: [expand1, expand2, contract],
    gate: async () => {
      gateCalls.push('wait');
      return 'replica 127.0.0.1:5433/app caught up';
    },
  });
  assert.deepEqual(await stages.beforeRollout(), { ok: true });
  assert.deepEqual(log, ['apply V2__email.sql', 'apply V3__index.sql']);
  assert.deepEqual(gateCalls, ['wait']);
  assert.deepEqual(stages.pendingContract, ['V4__drop_age.sql']);
  assert.deepEqual(await stages.afterRollout(), { ok: true });
  assert.deepEqual(log, ['apply V2__email.sql', 'apply V3__index.sql', 'apply V4__drop_age.sql']);
  assert.deepEqual(stages.pendingContract, []);
  assert.deepEqual(
    journal.map((r) => `${r.stage} ${r.name} ${r.status}`),
    [
      'migration V2__email.sql started',
      'migration V2__email.sql done',
      'migration V3__index.sql started',
      'migration V3__index.sql done',
      'replica-wait replicas and read paths started',
      'replica-wait replicas and read paths done',
      'migration V4__drop_age.sql started',
      'migration V4__drop_age.sql done',
    ],
  );
  assert.deepEqual(
    events.filter((e) => e.type.startsWith('migration.') || e.type.startsWith('replicas.')).map((e) => e.type),
    ['migration.started', 'migration.applied', 'migration.started', 'migration.retrying', 'migration.applied', 'replicas.ready', 'migration.started', 'migration.applied'],
  );
});

test('a failing expand file stops before the next file and before the wait, and is journalled as failed with the reason', async () => {
  let waited = false;
  const { stages, journal, log, events } = setup({
    pending: [expand1, expand2, contract],
    failOn: 'V2__email.sql',
    gate: async () => {
      waited = true;
      return '';
    },
  });
  const outcome = await stages.beforeRollout();
  assert.equal(outcome.ok, false);
  assert.equal(!outcome.ok && outcome.status, 'failed');
  assert.deepEqual(log, ['apply V2__email.sql']);
  assert.equal(waited, false);
  assert.deepEqual(journal.at(-1), {
    stage: 'migration',
    name: 'V2__email.sql',
    version: '2',
    phase: 'expand',
    status: 'failed',
    detail: 'V2__email.sql:3: column "x" does not exist',
  });
  assert.ok(events.some((e) => e.type === 'migration.failed' && e.error.includes(':3:')));
  assert.deepEqual(stages.pendingContract, ['V4__drop_age.sql']);
});

test('the replica wait runs even with nothing to apply (a resumed run applied them before it stopped), and its timeout is a refusal', async () => {
  const { stages, journal } = setup({
    pending: [contract],
    gate: async () => {
      throw new Error('replica 127.0.0.1:5433/app is 4 kB behind after 3 s');
    },
  });
  const outcome = await stages.beforeRollout();
  assert.equal(!outcome.ok && outcome.status, 'refused');
  assert.deepEqual(
    journal.map((r) => `${r.stage} ${r.status}`),
    ['replica-wait started', 'replica-wait failed'],
  );
});

test('Ctrl-C before a file: it does not start', async () => {
  const controller = new AbortController();
  controller.abort();
  const { stages, log } = setup({ pending: [expand1], signal: controller.signal });
  const outcome = await stages.beforeRollout();
  assert.equal(!outcome.ok && outcome.status, 'interrupted');
  assert.deepEqual(log, []);
});

test("the team's command runs once, before the rollout, and what it applied is named by file", async () => {
  let runs = 0;
  const { stages, journal, events } = setup({
    pending: [expand1, expand2],
    runner: {
      kind: 'command',
      async runCommand() {
        runs++;
        return ['2', '3'];
      },
    },
  });
  assert.deepEqual(await stages.beforeRollout(), { ok: true });
  assert.deepEqual(await stages.afterRollout(), { ok: true });
  assert.equal(runs, 1);
  assert.deepEqual(journal.at(-1), { stage: 'migration', name: 'command', phase: 'expand', status: 'done', detail: 'applied V2__email.sql, V3__index.sql' });
  assert.deepEqual(
    events.filter((e) => e.type === 'migration.applied').map((e) => (e.type === 'migration.applied' ? e.file : '')),
    ['V2__email.sql', 'V3__index.sql'],
  );
});
