/**
 * The security-patch playbook finds the host's package manager by trying each manager record in
 * order (apt, dnf, yum): the step's shell runs for real, with only stand-in programs on the PATH.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPatchStageStep } from '../support/pending-updates.js';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

/** A PATH with a shell (and bash, which gives ship's commands pipefail where sh has none) and these programs, each doing nothing. */
async function hostWith(programs: string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ship-patch-detect-'));
  dirs.push(dir);
  await symlink('/bin/sh', join(dir, 'sh'));
  await symlink('/bin/bash', join(dir, 'bash'));
  for (const program of programs) {
    await writeFile(join(dir, program), '#!/bin/sh\nexit 0\n');
    await chmod(join(dir, program), 0o755);
  }
  return dir;
}

const detect = async (programs: string[], vars = {}) =>
  (await runPatchStageStep('detect package manager', { stubDir: await hostWith(programs), path: 'only', vars })).packageManager;

test('the first manager present wins, in the order apt, dnf, yum', async () => {
  assert.equal(await detect(['apt-get', 'dnf', 'yum']), 'apt');
  assert.equal(await detect(['yum', 'dnf']), 'dnf');
  assert.equal(await detect(['yum']), 'yum');
});

test('a host with none of them fails, naming what each manager needs', async () => {
  await assert.rejects(
    detect([]),
    /no supported package manager on this host: ship patch needs apt-get \(Debian, Ubuntu\), dnf \(Fedora, RHEL 8 and later\) or yum \(RHEL and CentOS 7\); set vars.packageManager/,
  );
});

test('vars.packageManager chooses without looking, and must name a known manager', async () => {
  assert.equal(await detect([], { packageManager: 'yum' }), 'yum');
  await assert.rejects(detect([], { packageManager: 'zypper' }), /variable packageManager is "zypper"; ship patch knows apt, dnf, yum/);
});
