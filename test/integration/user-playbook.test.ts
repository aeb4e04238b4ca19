/**
 * `ship run <playbook.ts>`: a user's own TypeScript playbook through the rolling procedure on a
 * real fleet, with variables from the config and from --var, a step that runs only where its
 * `when` holds, a step that succeeds on its retry, and a step killed by its own timeout.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { REPO_ROOT, runShip } from '../support/cli.js';

let fleet: Fleet;
let config: string;
let playbook: string;
const marker = (name: string, what: string) => join(fleet.dir, 'hosts', name, `${what}.txt`);

before(async () => {
  fleet = await startFleet({ hosts: 2 });
  config = await fleet.writeConfig({
    hosts: fleet.hosts.map((h) => ({
      name: h.name,
      address: h.address,
      vars: { appDir: h.appDir, markerDir: join(fleet.dir, 'hosts', h.name), role: h.name === 'web1' ? 'primary' : 'replica' },
    })),
    vars: { greeting: 'hello from the config' },
  });
  playbook = join(fleet.dir, 'my-playbook.ts');
  await writeFile(
    playbook,
    `import { definePlaybook, run, sh, requireVar } from ${JSON.stringify(join(REPO_ROOT, 'src', 'index.js'))};
const dir = (ctx) => requireVar(ctx, 'markerDir');
export default definePlaybook({
  name: 'my-maintenance',
  requiredVars: ['markerDir'],
  activate: [
    run((ctx) => sh\`printf '%s|%s' \${requireVar(ctx, 'greeting')} \${requireVar(ctx, 'message')} > \${dir(ctx) + '/vars.txt'}\`, { name: 'write vars' }),
    run((ctx) => sh\`touch \${dir(ctx) + '/primary-only.txt'}\`, { name: 'primary only', when: (ctx) => ctx.vars.role === 'primary' }),
    run((ctx) => sh\`f=\${dir(ctx) + '/attempted.txt'}; if [ -e "$f" ]; then echo second >> "$f"; else echo first > "$f"; exit 3; fi\`, { name: 'flaky', retries: 1 }),
    run(sh\`sleep 20\`, { name: 'slow', timeout: '400ms', when: (ctx) => ctx.vars.slow === 'yes' }),
  ],
});
`,
  );
});
after(async () => {
  await fleet?.stop();
});

test('ship run: config and --var variables, a step only where `when` holds, a retried step', async () => {
  const run = await runShip(['run', playbook, '--config', config, '--var', 'message=hi from --var', '--json']);
  assert.equal(run.code, 0, run.stderr + run.stdout.slice(-2000));
  for (const name of ['web1', 'web2']) {
    assert.equal(await readFile(marker(name, 'vars'), 'utf8'), 'hello from the config|hi from --var');
    assert.equal(await readFile(marker(name, 'attempted'), 'utf8'), 'first\nsecond\n', `${name}: the flaky step ran twice`);
  }
  assert.equal(existsSync(marker('web1', 'primary-only')), true);
  assert.equal(existsSync(marker('web2', 'primary-only')), false, 'when: false skips the step on web2');
  const skipped = run.events.filter((e) => e.type === 'step.finished' && e.skipped).map((e) => e.type === 'step.finished' && `${e.host}:${e.step}`);
  assert.deepEqual(skipped.sort(), ['web1:slow', 'web2:primary only', 'web2:slow']);
  const retried = run.events.filter((e) => e.type === 'step.started' && e.step === 'flaky' && e.attempt === 2);
  assert.equal(retried.length, 2, 'one retry per host');
  const started = run.events.find((e) => e.type === 'run.started');
  assert.ok(started && started.type === 'run.started' && started.command === 'run');
});

test('ship run: a step past its own timeout is killed and fails the host (rolled back, exit 1)', async () => {
  await Promise.all(['web1', 'web2'].map((name) => rm(marker(name, 'attempted'), { force: true })));
  const startedAt = Date.now();
  const run = await runShip(['run', playbook, '--config', config, '--var', 'message=again', '--var', 'slow=yes', '--json']);
  assert.equal(run.code, 1, run.stdout.slice(-2000));
  assert.ok(Date.now() - startedAt < 15_000, 'the 20 s sleep was cut short by the 400 ms step timeout');
  const finished = run.events.find((e) => e.type === 'run.finished');
  assert.ok(finished && finished.type === 'run.finished');
  const web1 = finished.summary.hosts.find((h) => h.host === 'web1')!;
  assert.equal(web1.outcome, 'rolled-back', 'the canary failed; its (empty) rollback passed health checks, so it is back in service');
  assert.match(web1.error ?? '', /web1: activate step 'slow'/);
  assert.match(web1.error ?? '', /400ms/);
  assert.equal(finished.summary.hosts.find((h) => h.host === 'web2')!.outcome, 'not-started', 'the run stopped after the canary');
  assert.deepEqual(finished.summary.outOfRotation, []);
});

test('ship run: a missing variable is refused in pre-flight, naming it and the hosts', async () => {
  const run = await runShip(['run', playbook, '--config', config, '--var', 'markerDir=', '--json']);
  assert.equal(run.code, 3);
  const finished = run.events.find((e) => e.type === 'run.finished');
  assert.ok(finished && finished.type === 'run.finished' && finished.status === 'refused');
  assert.match(finished.summary.error ?? '', /needs variables that are not set: web1: markerDir, web2: markerDir/);
});
