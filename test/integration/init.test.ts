/**
 * `ship init` through the real CLI: the file it writes for each load balancer loads and validates
 * with the same loader `ship deploy` uses, and an existing file is never replaced without --force.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { appNameFor, INIT_LOAD_BALANCERS } from '../../src/cli/init.js';
import { runShip } from '../support/cli.js';

const root = await mkdtemp(join(tmpdir(), 'ship-init-'));
after(() => rm(root, { recursive: true, force: true }));

test('ship init --lb haproxy|elbv2|none writes a commented config that loads and validates', async () => {
  // Side by side: each run is a cold start of the CLI.
  const runs = await Promise.all(
    INIT_LOAD_BALANCERS.map(async (lb) => {
      const dir = join(root, `shop-${lb}`);
      await mkdir(dir);
      const file = join(dir, 'orchestrator.config.ts');
      return { lb, file, run: await runShip(['init', '--lb', lb, '--config', file]) };
    }),
  );
  for (const { lb, file, run } of runs) {
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`wrote .*orchestrator\\.config\\.ts \\(${lb}\\)`));
    const text = await readFile(file, 'utf8');
    assert.match(text, /^\/\*\*/, 'starts with an explanatory comment');
    assert.ok(text.split('\n').filter((line) => line.trim().startsWith('//')).length >= 10, 'commented');
    const { config } = await loadConfig(file);
    assert.equal(config.app, `shop-${lb}`);
    assert.equal(config.loadBalancer.type, lb);
    assert.ok(config.hosts.length >= 2);
    assert.equal(config.rollout.drainTimeout, 60_000);
    assert.equal(config.health.http?.port, 8080);
  }
});

test('ship init refuses to overwrite an existing config without --force, and replaces it with --force', async () => {
  const dir = join(root, 'existing');
  await mkdir(dir);
  const file = join(dir, 'ship.config.ts');
  await writeFile(file, '// my hand-written config\n');
  const refused = await runShip(['init', '--config', file, '--lb', 'elbv2']);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /ship\.config\.ts already exists; pass --force to overwrite it/);
  assert.equal(await readFile(file, 'utf8'), '// my hand-written config\n');

  const forced = await runShip(['init', '--config', file, '--lb', 'elbv2', '--force']);
  assert.equal(forced.code, 0, forced.stderr);
  const { config } = await loadConfig(file);
  assert.equal(config.loadBalancer.type, 'elbv2');
});

test('ship init rejects an unknown load balancer', async () => {
  const run = await runShip(['init', '--lb', 'nginx', '--config', join(root, 'never.config.ts')]);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /nginx/);
  await assert.rejects(readFile(join(root, 'never.config.ts')), { code: 'ENOENT' });
});

test('the app name comes from the folder when it is a valid name', () => {
  assert.equal(appNameFor('/srv/Storefront/orchestrator.config.ts'), 'storefront');
  assert.equal(appNameFor('/home/me/my shop/orchestrator.config.ts'), 'my-shop');
  assert.equal(appNameFor('/orchestrator.config.ts'), 'myapp');
});
