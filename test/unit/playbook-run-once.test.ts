import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classifyError } from '../../src/errors/codes.js';
import { definePlaybook, reboot, run, upload, type Step } from '../../src/playbook/define.js';
import { loadPlaybook, PlaybookError } from '../../src/playbook/load.js';
import { checkRunOnceHosts } from '../../src/playbook/run-once.js';
import { sh } from '../../src/shell/sh.js';

const activate = [run(sh`true`)];

test('run-once phases: a list of steps runs where ship runs; { on, steps } on that host; absent phases stay absent', () => {
  const warm = run(sh`./bin/warm-cache`, { name: 'warm cache' });
  const flip = run(sh`bin/flags enable new-checkout`, { name: 'flip flag' });
  const playbook = definePlaybook({ name: 'release', activate, beforeRollout: [warm], afterRollout: { on: 'web1', steps: [flip] } });
  assert.deepEqual(playbook.beforeRollout, { steps: [warm] });
  assert.deepEqual(playbook.afterRollout, { on: 'web1', steps: [flip] });
  const plain = definePlaybook({ name: 'plain', activate });
  assert.equal('beforeRollout' in plain, false);
  assert.equal('afterRollout' in plain, false);
  assert.deepEqual(definePlaybook({ name: 'here', activate, afterRollout: { steps: [flip] } }).afterRollout, { steps: [flip] });
});

test('a reboot cannot run once: on this machine it reboots ship, on a host of the fleet an instance still serving', () => {
  assert.throws(
    () => definePlaybook({ name: 'release', activate, beforeRollout: [run(sh`true`), reboot()] }),
    /^Error: playbook release: beforeRollout step 'reboot': a reboot cannot run once outside the rollout; reboot hosts in activate/,
  );
  assert.throws(() => definePlaybook({ name: 'release', activate, afterRollout: { on: 'web1', steps: [reboot({ name: 'restart box' })] } }), /afterRollout step 'restart box'/);
});

test('on must name a host when given; steps must be steps', () => {
  assert.throws(
    () => definePlaybook({ name: 'release', activate, beforeRollout: { on: ' ', steps: activate } }),
    /playbook release: beforeRollout on " ": name a host of the fleet/,
  );
  assert.throws(
    () => definePlaybook({ name: 'release', activate, afterRollout: { steps: [{ kind: 'shell' } as unknown as Step] } }),
    /afterRollout steps: each must be made with run\(\) or upload\(\)/,
  );
  // Uploads are steps too: a file to this machine's or the host's disk.
  assert.doesNotThrow(() => definePlaybook({ name: 'release', activate, beforeRollout: [upload('a', 'b')] }));
});

test('a playbook file with a bad run-once phase is a PlaybookError naming the file and the phase', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ship-run-once-'));
  try {
    const plain = join(dir, 'plain.ts');
    await writeFile(plain, "export default { name: 'plain', stage: [], activate: [], verify: [], rollback: [], requires: [], requiredVars: [], afterRollout: [] };\n");
    await assert.rejects(loadPlaybook(plain), (error: Error) => {
      assert.ok(error instanceof PlaybookError);
      assert.match(error.message, new RegExp(`^${plain}: playbook plain: afterRollout must be \\{ on\\?: <host>, steps: \\[\\.\\.\\.\\] \\}`));
      return true;
    });
    const rebooting = join(dir, 'rebooting.ts');
    const define = new URL('../../src/playbook/define.ts', import.meta.url).pathname;
    await writeFile(
      rebooting,
      `import { definePlaybook, reboot, run } from ${JSON.stringify(define)};\nexport default definePlaybook({ name: 'r', activate: [], beforeRollout: [reboot()] });\n`,
    );
    await assert.rejects(loadPlaybook(rebooting), /rebooting\.ts: could not be loaded: playbook r: beforeRollout step 'reboot': a reboot cannot run once/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('on naming a host not in the fleet is refused when the targets are resolved, naming the playbook and the host', () => {
  const playbook = definePlaybook({ name: 'release', activate, beforeRollout: [run(sh`true`)], afterRollout: { on: 'web9', steps: activate } });
  let refused: unknown;
  try {
    checkRunOnceHosts(playbook, 'playbooks/release.ts', ['web1', 'web2']);
  } catch (error) {
    refused = error;
  }
  assert.ok(refused instanceof PlaybookError, String(refused));
  assert.equal(
    refused.message,
    "playbooks/release.ts: playbook release: afterRollout runs on host 'web9', which is not in the fleet (web1, web2); name one of its hosts in `on`, or leave `on` out to run the steps on the machine ship runs on",
  );
  assert.equal(classifyError(refused).code, 'SHIP-E003');
  assert.doesNotThrow(() => checkRunOnceHosts(playbook, 'playbooks/release.ts', ['web1', 'web9']));
  assert.doesNotThrow(() => checkRunOnceHosts(definePlaybook({ name: 'plain', activate }), 'p.ts', []));
});
