/**
 * The security-patch playbook's pending-update list on dnf and yum hosts, from `check-update` as
 * they print it: a name too long for its column on a line of its own (yum), epochs, a multilib
 * package listed per architecture, the Obsoleting section. Stand-in dnf/yum and rpm on the PATH
 * print the samples; the step's shell and awk run for real through the local transport.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { VarValue } from '../../src/playbook/define.js';
import { listPendingUpdates } from '../support/pending-updates.js';

const CHECK_UPDATE = `
kernel.x86_64                         3.10.0-1160.119.1.el7        updates
openssl-libs.x86_64                   1:1.0.2k-26.el7_9            updates
openssl-libs.i686                     1:1.0.2k-26.el7_9            updates
python-perf-debuginfo-common-x86_64.x86_64
                                      3.10.0-1160.119.1.el7        updates-debuginfo
Obsoleting Packages
grub2.x86_64                          1:2.02-0.87.el7_9.9          updates
    grub2.x86_64                      1:2.02-0.86.el7              @updates
`;

// The installed versions rpm reports; two kernels are installed side by side.
const RPM = `#!/bin/sh
for name; do :; done
case $name in
  kernel) printf '3.10.0-1160.118.1.el7\\n3.10.0-1160.119.0.el7\\n' ;;
  openssl-libs) printf '1:1.0.2k-25.el7_9\\n' ;;
  python-perf-debuginfo-common-x86_64) printf '3.10.0-1160.118.1.el7\\n' ;;
  *) echo "package $name is not installed"; exit 1 ;;
esac
`;

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ship-patch-pending-rpm-'));
  await writeFile(join(dir, 'check-update.txt'), CHECK_UPDATE);
  for (const pm of ['dnf', 'yum']) {
    await writeFile(join(dir, pm), `#!/bin/sh\necho "$*" >> ${join(dir, 'calls')}\ncat ${join(dir, 'check-update.txt')}\nexit 100\n`);
    await chmod(join(dir, pm), 0o755);
  }
  await writeFile(join(dir, 'rpm'), RPM);
  await chmod(join(dir, 'rpm'), 0o755);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function pending(packageManager: 'dnf' | 'yum', vars: Record<string, VarValue> = {}): Promise<{ pending: string; calls: string }> {
  await rm(join(dir, 'calls'), { force: true });
  const listed = await listPendingUpdates(dir, packageManager, vars);
  return { pending: listed, calls: await readFile(join(dir, 'calls'), 'utf8') };
}

const EXPECTED = [
  'kernel 3.10.0-1160.119.0.el7 3.10.0-1160.119.1.el7',
  'openssl-libs 1:1.0.2k-25.el7_9 1:1.0.2k-26.el7_9',
  'python-perf-debuginfo-common-x86_64 3.10.0-1160.118.1.el7 3.10.0-1160.119.1.el7',
].join('\n');

test('yum: a wrapped line is joined, a multilib package listed once, the newest installed kernel is the old version, obsoletes are left out', async () => {
  const { pending: listed, calls } = await pending('yum');
  assert.equal(listed, EXPECTED);
  assert.match(calls, /^-q check-update --security$/m);
});

test('dnf: security updates by default, every update with securityOnly=false, and an installroot for systemRoot', async () => {
  assert.equal((await pending('dnf')).pending, EXPECTED);
  assert.match((await pending('dnf', { securityOnly: 'false' })).calls, /^-q check-update\s*$/m);
  assert.match((await pending('dnf', { systemRoot: '/srv/root/' })).calls, /^--installroot=\/srv\/root -q check-update --security$/m);
});

test('yum with a systemRoot is refused before anything runs', async () => {
  await assert.rejects(pending('yum', { systemRoot: '/srv/root' }), /systemRoot "\/srv\/root" works with apt and dnf; on yum hosts leave it unset/);
});
