/**
 * The built-in deploy-release playbook, run for real through the local transport against an
 * app directory on disk: unpack, atomic switch, pruning to keepReleases, rollback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { EventBus } from '../../src/events.js';
import { builtInPlaybookPath, loadPlaybook } from '../../src/playbook/load.js';
import { runPhase, StepFailedError } from '../../src/playbook/runner.js';
import type { StepContext } from '../../src/playbook/define.js';
import { LocalTransport } from '../../src/transport/local.js';

const playbook = await loadPlaybook(builtInPlaybookPath('deploy')!);
const root = mkdtempSync(join(tmpdir(), 'ship-playbook-'));
const appDir = join(root, 'app');
const transport = new LocalTransport({ host: 'local' });

function artifact(version: string): string {
  const src = join(root, `src-${version}`);
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'VERSION'), version);
  const file = join(root, `app-${version}.tgz`);
  execFileSync('tar', ['-czf', file, '-C', src, 'VERSION']);
  return file;
}

function context(version: string, restart = `echo restarted >> ${join(root, 'restarts.log')}`): StepContext {
  return {
    app: 'demo',
    host: { name: 'local', address: '127.0.0.1', lbName: 'local' },
    vars: { appDir, restart, keepReleases: 3 },
    version,
    artifact: artifact(version),
    facts: {},
  };
}

async function deploy(ctx: StepContext): Promise<void> {
  const bus = new EventBus('t');
  for (const phase of ['stage', 'activate'] as const) {
    await runPhase(playbook[phase], { phase, transport, ctx, bus, defaultTimeoutMs: 10_000, sudo: false });
  }
}

test('each release is unpacked, switched in atomically, and only keepReleases are kept', async () => {
  for (const version of ['v1', 'v2', 'v3', 'v4', 'v5']) await deploy(context(version));
  assert.equal(readlinkSync(join(appDir, 'current')), join(appDir, 'releases', 'v5'));
  assert.equal(readFileSync(join(appDir, 'current', 'VERSION'), 'utf8'), 'v5');
  assert.deepEqual(readdirSync(join(appDir, 'releases')).sort(), ['v3', 'v4', 'v5']);
  assert.equal(readFileSync(join(root, 'restarts.log'), 'utf8').trim().split('\n').length, 5);
  assert.ok(!existsSync(join(appDir, 'current.next')), 'no temporary link is left behind');
});

test('rollback switches back to the release that was current before the stage', async () => {
  const ctx = context('v6');
  await deploy(ctx);
  assert.equal(ctx.facts.previousRelease, join(appDir, 'releases', 'v5'));
  await runPhase(playbook.rollback, { phase: 'rollback', transport, ctx, bus: new EventBus('t'), defaultTimeoutMs: 10_000, sudo: false });
  assert.equal(readFileSync(join(appDir, 'current', 'VERSION'), 'utf8'), 'v5');
});

test('a failing restart names host, phase and step, with the tail of its stderr', async () => {
  const ctx = context('v7', 'echo "port 8080 already in use" >&2; exit 7');
  await assert.rejects(deploy(ctx), (error: StepFailedError) => {
    assert.ok(error instanceof StepFailedError);
    assert.equal(error.message, "local: activate step 'restart' exited with code 7\n    | port 8080 already in use");
    return true;
  });
});

test('a hostile version string stays one path component', async () => {
  const ctx = context('v8');
  ctx.version = "v8'; touch pwned; '";
  ctx.artifact = artifact('v8');
  const bus = new EventBus('t');
  await runPhase(playbook.stage, { phase: 'stage', transport, ctx, bus, defaultTimeoutMs: 10_000, sudo: false });
  assert.ok(existsSync(join(appDir, 'releases', ctx.version)));
  assert.ok(!existsSync(join(appDir, 'releases', 'pwned')) && !existsSync('pwned'));
});

test("the run's secrets are written to shared/.env, mode 0600, and linked into the release", async () => {
  const ctx = { ...context('v-secrets'), secrets: { DATABASE_URL: 'postgres://u:p4ssw0rd-long@db/x', API_TOKEN: "tok 'quoted' $(nope)" } };
  await deploy(ctx);
  const envFile = join(appDir, 'shared', '.env');
  assert.equal(statSync(envFile).mode & 0o777, 0o600);
  assert.equal(readFileSync(envFile, 'utf8'), `DATABASE_URL=postgres://u:p4ssw0rd-long@db/x\nAPI_TOKEN=tok 'quoted' $(nope)\n`);
  assert.equal(readFileSync(join(appDir, 'current', '.env'), 'utf8'), readFileSync(envFile, 'utf8'));
  // Without secrets nothing is written or linked.
  await deploy(context('v-plain'));
  assert.ok(!existsSync(join(appDir, 'releases', 'v-plain', '.env')));
});
