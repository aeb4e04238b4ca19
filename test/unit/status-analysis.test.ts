/** `ship status` shows each bake of the last run by its verdict, and how far a rollback got. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { analysisLines } from '../../src/commands/status.js';
import type { JournalEntry, StageRecord } from '../../src/journal/state-store.js';

const at = '2026-12-05T01:00:00.000Z';
const entry = (stages: Array<Omit<StageRecord, 'runId' | 'at'>>): JournalEntry => ({
  run: { runId: 'r1', app: 'shop', command: 'deploy', hosts: ['web1'], resume: {}, actor: { osUser: 'a', hostname: 'h' } as never, startedAt: at },
  transitions: [],
  stages: stages.map((stage) => ({ ...stage, runId: 'r1', at })),
});

test('each bake by its last record, then each host rollback; an unjudged bake and an unfinished rollback say so', () => {
  const lines = analysisLines(
    entry([
      { stage: 'analysis', name: 'batch 1 (canary)', status: 'started', detail: 'web1: bake 5.00s' },
      { stage: 'analysis', name: 'batch 1 (canary)', status: 'done', detail: 'canary web1: pass: 0 errors in 240 requests (0.00%) within maxErrorRate 1.00%' },
      { stage: 'analysis', name: 'batch 2', status: 'started', detail: 'web2: bake 5.00s' },
      { stage: 'analysis', name: 'batch 2', status: 'failed', detail: 'batch 2 web2: FAIL: 48 errors in 240 requests (20.00%) above maxErrorRate 1.00%' },
      { stage: 'rollback', name: 'web2', status: 'started', version: 'v1', facts: { previousRelease: '/srv/app/releases/v1' } },
      { stage: 'rollback', name: 'web1', status: 'started', version: 'v1' },
      { stage: 'rollback', name: 'web2', status: 'done', version: 'v1' },
      { stage: 'migration', name: 'V2__email.sql', status: 'done' },
    ]),
  );
  assert.deepEqual(lines, [
    'batch 1 (canary): canary web1: pass: 0 errors in 240 requests (0.00%) within maxErrorRate 1.00%',
    'batch 2: batch 2 web2: FAIL: 48 errors in 240 requests (20.00%) above maxErrorRate 1.00%',
    'rollback of web2 to v1: done',
    'rollback of web1 to v1: STARTED, not finished: `ship resume` finishes it',
  ]);
  assert.deepEqual(analysisLines(entry([{ stage: 'analysis', name: 'batch 3', status: 'started', detail: 'web3: bake 5.00s' }])), [
    'batch 3: baking, not judged (the run stopped during its bake): web3: bake 5.00s',
  ]);
  assert.deepEqual(analysisLines(undefined), []);
});
