/**
 * Package names a host reports reach apt-get, dnf, yum, dpkg-query and rpm as arguments. Quoting
 * stops the shell, not the program: a name starting with `-` would be read as an option. Every
 * list of names follows `--`, and a name that is no package name fails the step, naming the host.
 * The download step runs for real (local transport) with stand-ins that record their arguments;
 * the version queries run the real dpkg-query and rpm where this machine has them.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StepContext } from '../../src/playbook/define.js';
import { apt } from '../../playbooks/lib/apt.js';
import { dnf, yum } from '../../playbooks/lib/rpm.js';
import { runPatchStageStep } from '../support/pending-updates.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ship-patch-names-'));
  // Each stand-in writes its arguments one per line, then succeeds.
  for (const tool of ['apt-get', 'dnf', 'yum']) {
    await writeFile(join(dir, tool), `#!/bin/sh\nprintf '%s\\n' "$@" > ${join(dir, `${tool}.args`)}\n`);
    await chmod(join(dir, tool), 0o755);
  }
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const PENDING = 'openssl 3.0.11-1 3.0.13-1\nlibc6:i386 2.36-9 2.36-10\n';

for (const [manager, tool] of [
  ['apt', 'apt-get'],
  ['dnf', 'dnf'],
  ['yum', 'yum'],
] as const) {
  test(`${manager}: the download gets the names after --, the end of options`, async () => {
    await rm(join(dir, `${tool}.args`), { force: true });
    await runPatchStageStep('download updates', { stubDir: dir, facts: { packageManager: manager, pending: PENDING }, vars: { aptLockTimeout: '1s' } });
    const args = (await readFile(join(dir, `${tool}.args`), 'utf8')).trimEnd().split('\n');
    assert.deepEqual(args.slice(-3), ['--', 'openssl', 'libc6:i386']);
  });

  test(`${manager}: a listed name that is no package name (an option, say) fails the step naming the host; the tool is never run`, async () => {
    await rm(join(dir, `${tool}.args`), { force: true });
    for (const name of ['-oAPT::Get::AllowUnauthenticated=true', '--setopt=gpgcheck=0', 'x$(id)']) {
      await assert.rejects(runPatchStageStep('download updates', { stubDir: dir, facts: { packageManager: manager, pending: `openssl 1 2\n${name} 1 2\n` } }), (error: Error) =>
        error.message.includes(`host web1 listed pending updates for ${JSON.stringify(name)}, which is not a package name`),
      );
    }
    await assert.rejects(readFile(join(dir, `${tool}.args`)), { code: 'ENOENT' });
  });
}

test('install commands put -- before the names on every manager', () => {
  const ctx: StepContext = { app: 'shop', host: { name: 'web1', address: '127.0.0.1', lbName: 'web1' }, vars: {}, facts: {} };
  for (const manager of [apt, dnf, yum]) {
    assert.match(manager.install(ctx, ['openssl']).text, / -- '?openssl'?( |$)/m, manager.name);
    assert.match(manager.download(ctx, ['openssl']).text, / -- '?openssl'?( |$)/m, manager.name);
  }
});

/** Runs a manager's installedVersion command, as the playbook does, for package `$name`. */
function installedVersion(command: string, name: string): { stdout: string; stderr: string } {
  const result = spawnSync('sh', ['-c', `name=$1; ${command}`, 'sh', name], { encoding: 'utf8' });
  return { stdout: result.stdout, stderr: result.stderr };
}

const has = (program: string) => spawnSync('sh', ['-c', `command -v ${program}`]).status === 0;
const ctx: StepContext = { app: 'shop', host: { name: 'web1', address: '127.0.0.1', lbName: 'web1' }, vars: {}, facts: {} };

test('dpkg-query reads a name like -f=... as a package, not as its --showformat option', { skip: !has('dpkg-query') && 'no dpkg-query here' }, () => {
  // Without --: the name replaced the format, and with no package left dpkg-query printed it for every installed package.
  const { stdout } = installedVersion(apt.installedVersion(ctx).text, '-f=injected');
  assert.doesNotMatch(stdout, /injected/);
  assert.equal(stdout, '');
});

test('rpm reads a name like --version as a package, not as its --version option', { skip: !has('rpm') && 'no rpm here' }, () => {
  // Without --: rpm printed "RPM version 4..." as the installed version.
  const { stdout } = installedVersion(dnf.installedVersion(ctx).text, '--version');
  assert.doesNotMatch(stdout, /RPM version/);
  assert.match(stdout, /package --version is not installed/);
});
