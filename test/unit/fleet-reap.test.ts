/**
 * The harness reaps what an interrupted run left in /tmp/ship-fleet before it starts a fleet; a
 * file there (the demo's demo.json, after `npm run demo`) is not a fleet and must not stop it.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { FLEET_ROOT, reapStaleFleets } from '../fleet/fleet.js';

test('a file beside the fleets is left alone, and a stale fleet folder (its owner gone) is removed', async () => {
  await mkdir(FLEET_ROOT, { recursive: true });
  const file = join(FLEET_ROOT, `leftover-${process.pid}.json`);
  const stale = join(FLEET_ROOT, `stale-${process.pid}`);
  await writeFile(file, '{}');
  await mkdir(join(stale, 'hosts'), { recursive: true });
  // A pid no process has: the run that owned this fleet is gone.
  await writeFile(join(stale, 'owner.pid'), '2147483646\n');
  try {
    await reapStaleFleets();
    assert.equal(await readFile(file, 'utf8'), '{}');
    await assert.rejects(readFile(join(stale, 'owner.pid')), { code: 'ENOENT' });
  } finally {
    await rm(file, { force: true });
    await rm(stale, { recursive: true, force: true });
  }
});
