/** `ship status` names each migration of the last run by its last journal record. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { migrationLines } from '../../src/commands/status.js';
import type { JournalEntry, StageRecord } from '../../src/journal/state-store.js';

const at = '2026-12-05T01:00:00.000Z';
const entry = (stages: Array<Omit<StageRecord, 'runId' | 'at'>>): JournalEntry => ({
  run: { runId: 'r1', app: 'shop', command: 'deploy', hosts: ['web1'], resume: {}, actor: { osUser: 'a', hostname: 'h' } as never, startedAt: at },
  transitions: [],
  stages: stages.map((stage) => ({ ...stage, runId: 'r1', at })),
});

test('a migration is shown by its last record; other stages are not migrations', () => {
  const lines = migrationLines(
    entry([
      { stage: 'migration', name: 'V2__email.sql', status: 'started', phase: 'expand' },
      { stage: 'migration', name: 'V2__email.sql', status: 'done', phase: 'expand', detail: 'applied in 12 ms' },
      { stage: 'replica-wait', name: 'replicas', status: 'done' },
      { stage: 'migration', name: 'V3__drop_age.sql', status: 'started', phase: 'contract' },
    ]),
  );
  assert.deepEqual(lines, ['V2__email.sql (expand): applied', 'V3__drop_age.sql (contract): STARTED, not finished (the run stopped while applying it)']);
});

test('a failed migration carries its reason; a run without migrations shows none', () => {
  assert.deepEqual(migrationLines(entry([{ stage: 'migration', name: 'V4__bad.sql', status: 'failed', phase: 'expand', detail: 'V4__bad.sql:3: syntax error' }])), [
    'V4__bad.sql (expand): FAILED: V4__bad.sql:3: syntax error',
  ]);
  assert.deepEqual(migrationLines(entry([])), []);
  assert.deepEqual(migrationLines(undefined), []);
});
