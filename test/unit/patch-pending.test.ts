/**
 * The security-patch playbook's pending-update list, from apt-get's simulated upgrade as Debian
 * and Ubuntu print it: only upgrades of installed packages from a security origin (unless
 * securityOnly is false). A stand-in apt-get on the PATH prints the sample; the step's shell and
 * awk run for real through the local transport.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { VarValue } from '../../src/playbook/define.js';
import { listPendingUpdates } from '../support/pending-updates.js';

const SIMULATED = `NOTE: This is only a simulation!
Reading package lists...
The following packages will be upgraded:
  libc6 libssl3 linux-image-amd64 tzdata
Inst libc6 [2.36-9+deb12u3] (2.36-9+deb12u4 Debian:12.5/stable, Debian-Security:12/stable-security [amd64])
Inst libssl3 [3.0.11-1~deb12u2] (3.0.13-1~deb12u1 Debian-Security:12/stable-security [amd64]) []
Inst linux-image-6.1.0-18-amd64 (6.1.76-1 Debian-Security:12/stable-security [amd64])
Inst linux-image-amd64 [6.1.69-1] (6.1.76-1 Debian-Security:12/stable-security [amd64])
Inst tzdata [2024a-0+deb12u1] (2024b-0+deb12u1 Debian:12-updates/stable-updates [all])
Inst openssh-server [1:8.9p1-3ubuntu0.6] (1:8.9p1-3ubuntu0.10 Ubuntu:22.04/jammy-security [amd64])
Conf libc6 (2.36-9+deb12u4 Debian:12.5/stable, Debian-Security:12/stable-security [amd64])
`;

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ship-patch-pending-'));
  await writeFile(join(dir, 'simulated.txt'), SIMULATED);
  await writeFile(join(dir, 'apt-get'), `#!/bin/sh\ncat ${join(dir, 'simulated.txt')}\n`);
  await chmod(join(dir, 'apt-get'), 0o755);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const pending = (vars: Record<string, VarValue>) => listPendingUpdates(dir, 'apt', vars);

test('security updates of installed packages only: new packages and other origins are left out', async () => {
  assert.equal(
    await pending({}),
    [
      'libc6 2.36-9+deb12u3 2.36-9+deb12u4',
      'libssl3 3.0.11-1~deb12u2 3.0.13-1~deb12u1',
      'linux-image-amd64 6.1.69-1 6.1.76-1',
      'openssh-server 1:8.9p1-3ubuntu0.6 1:8.9p1-3ubuntu0.10',
    ].join('\n'),
  );
});

test('securityOnly=false takes every upgrade; securityOrigin narrows the origins', async () => {
  assert.match(await pending({ securityOnly: 'false' }), /tzdata 2024a-0\+deb12u1 2024b-0\+deb12u1/);
  assert.equal(await pending({ securityOrigin: 'jammy-security' }), 'openssh-server 1:8.9p1-3ubuntu0.6 1:8.9p1-3ubuntu0.10');
});
