/**
 * ship as users get it from the registry: `npm pack` (which builds), the tarball unpacked into a
 * clean folder as `node_modules/ship-rollout`, with only the package's declared dependencies
 * beside it (linked from this checkout, so no registry is asked). From there `ship --help`,
 * `ship lint-migrations` and a real `ship deploy` on a local fleet must work: the tarball carries
 * everything they load (the compiled built-in playbooks, the lint bundle, the rules), and a
 * config imports `defineConfig` from the package's name.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fleetConfig, startFleet, type Fleet } from '../fleet/fleet.js';
import { REPO_ROOT } from '../support/cli.js';
import { assertAllOn } from '../support/fleet-assertions.js';

const manifest = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { name: string; dependencies: Record<string, string> };

let project: string;
let ship: string;
let fleet: Fleet | undefined;

before(async () => {
  project = await mkdtemp(join(tmpdir(), 'ship-package-'));
  const packed = await execa('npm', ['pack', '--silent', '--pack-destination', project], { cwd: REPO_ROOT });
  const tarball = join(project, packed.stdout.trim().split('\n').pop()!);
  const installed = join(project, 'node_modules', manifest.name);
  await mkdir(installed, { recursive: true });
  await execa('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1']);
  for (const dependency of Object.keys(manifest.dependencies)) {
    const link = join(project, 'node_modules', dependency);
    await mkdir(dirname(link), { recursive: true });
    await symlink(join(REPO_ROOT, 'node_modules', dependency), link);
  }
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'shop', private: true, type: 'module' }));
  ship = join(installed, 'bin', 'ship.js');
});
after(async () => {
  await fleet?.stop();
  if (project) await rm(project, { recursive: true, force: true });
});

test(`the package is published as ${'ship-rollout'}, not as the registry's unrelated 'ship'`, () => {
  assert.equal(manifest.name, 'ship-rollout');
});

test('installed from its tarball: ship --help lists the commands', async () => {
  const help = await execa(process.execPath, [ship, '--help'], { cwd: project, reject: false });
  assert.equal(help.exitCode, 0, help.stderr);
  for (const command of ['deploy', 'patch', 'resume', 'lint-migrations']) assert.match(help.stdout, new RegExp(`ship ${command}`));
});

test("installed from its tarball: the bundled CLI says what the sources say, in the user's language too (yargs finds its translations)", async () => {
  assert.ok(existsSync(join(dirname(dirname(ship)), 'dist', 'cli', 'bundle', 'ship.js')), 'the tarball carries the bundled CLI');
  const source = join(REPO_ROOT, 'src', 'cli', 'main.ts');
  for (const args of [['--help'], ['deploy', '--help'], ['deploi'], ['deploy', '--bogus']]) {
    for (const lang of ['C', 'de_DE.UTF-8']) {
      const env = { LANG: lang, LC_ALL: '', LC_MESSAGES: '', LANGUAGE: '' };
      const bundled = await execa(process.execPath, [ship, ...args], { cwd: project, env, reject: false });
      const fromSource = await execa(process.execPath, ['--import', 'tsx', source, ...args], { cwd: REPO_ROOT, env, reject: false });
      assert.deepEqual([bundled.exitCode, bundled.stdout, bundled.stderr], [fromSource.exitCode, fromSource.stdout, fromSource.stderr], `ship ${args.join(' ')} with LANG=${lang}`);
    }
  }
});

test('installed from its tarball: ship lint-migrations finds an unsafe migration (exit 1)', async () => {
  const migrations = join(project, 'db', 'migrations');
  await mkdir(migrations, { recursive: true });
  await writeFile(join(migrations, 'V1__add_age.sql'), "SET lock_timeout = '2s';\nALTER TABLE users ADD COLUMN age int NOT NULL;\n");
  const lint = await execa(process.execPath, [ship, 'lint-migrations', migrations], { cwd: project, reject: false });
  assert.equal(lint.exitCode, 1, `${lint.stdout}\n${lint.stderr}`);
  assert.match(lint.stdout, /V1__add_age\.sql:2:\d+: error \[not-null-column-without-default\]/);
});

test('installed from its tarball: ship deploy rolls a release with the built-in playbook, from a config that imports the package', async () => {
  fleet = await startFleet({ hosts: 2, version: 'v1' });
  const config = join(project, 'orchestrator.config.ts');
  await writeFile(config, `import { defineConfig } from '${manifest.name}';\n\nexport default defineConfig(${JSON.stringify(fleetConfig(fleet), null, 2)});\n`);
  const deploy = await execa(process.execPath, [ship, 'deploy', '--version', 'v2', '--artifact', await fleet.artifact('v2')], {
    cwd: project,
    env: { CI: 'true' },
    reject: false,
    timeout: 120_000,
  });
  assert.equal(deploy.exitCode, 0, `${deploy.stdout}\n${deploy.stderr}`);
  await assertAllOn(fleet, 'v2');
});
