/**
 * A local Debian package repository for patch tests: real .deb files built with `dpkg-deb --build`,
 * indexed with `dpkg-scanpackages`, and a Release file whose suite is `stable-security`, so apt
 * reports them from a security origin as it would Debian-Security's. Each test package exists at an
 * old and a new version; the repository keeps both, as real archives keep old versions.
 */
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface TestPackage {
  name: string;
  version: string;
  /** postinst body run on `configure`; `$DPKG_ROOT` is the root being patched. */
  postinst?: string;
}

/** What the tests install and upgrade. */
export const PACKAGES = {
  /** Upgrade without a reboot. */
  tool: { name: 'ship-test-tool', old: '1.0', new: '1.1' },
  /** Its upgrade sets the reboot-required flag, as a new libc or kernel does. */
  lib: { name: 'ship-test-lib', old: '1.0', new: '1.1' },
  /** Its new version fails to configure. */
  broken: { name: 'ship-test-broken', old: '1.0', new: '2.0' },
} as const;

// Only on an upgrade (`configure <old-version>`), as update-notifier's hook does.
const SET_REBOOT_REQUIRED = `if [ "$1" = configure ] && [ -n "$2" ]; then
  mkdir -p "$DPKG_ROOT/var/run"
  echo '*** System restart required ***' > "$DPKG_ROOT/var/run/reboot-required"
fi`;

const FAIL_TO_CONFIGURE = `if [ "$1" = configure ] && [ -n "$2" ]; then
  echo "ship-test-broken: cannot migrate its data" >&2
  exit 1
fi`;

export function testPackages(): TestPackage[] {
  return [
    { name: PACKAGES.tool.name, version: PACKAGES.tool.old },
    { name: PACKAGES.tool.name, version: PACKAGES.tool.new },
    { name: PACKAGES.lib.name, version: PACKAGES.lib.old },
    { name: PACKAGES.lib.name, version: PACKAGES.lib.new, postinst: SET_REBOOT_REQUIRED },
    { name: PACKAGES.broken.name, version: PACKAGES.broken.old },
    { name: PACKAGES.broken.name, version: PACKAGES.broken.new, postinst: FAIL_TO_CONFIGURE },
  ];
}

export interface Repository {
  dir: string;
  /** The .deb of a package version, for installing the old versions into a root. */
  deb(name: string, version: string): string;
}

export async function buildRepository(dir: string, packages: TestPackage[] = testPackages()): Promise<Repository> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const deb = (name: string, version: string) => join(dir, `${name}_${version}_all.deb`);
  await Promise.all(packages.map((pkg) => buildDeb(join(dir, 'build'), pkg, deb(pkg.name, pkg.version))));
  await rm(join(dir, 'build'), { recursive: true, force: true });
  const { stdout } = await execa('dpkg-scanpackages', ['--multiversion', '.', '/dev/null'], { cwd: dir });
  await writeFile(join(dir, 'Packages'), `${stdout}\n`);
  const index = await readFile(join(dir, 'Packages'));
  const release = [
    'Origin: ship-test',
    'Label: ship-test',
    'Suite: stable-security',
    'Codename: ship-test',
    `Date: ${new Date().toUTCString()}`,
    'SHA256:',
    ` ${createHash('sha256').update(index).digest('hex')} ${index.length} Packages`,
    '',
  ].join('\n');
  await writeFile(join(dir, 'Release'), release);
  return { dir, deb };
}

async function buildDeb(buildDir: string, pkg: TestPackage, output: string): Promise<void> {
  const tree = join(buildDir, `${pkg.name}-${pkg.version}`);
  await mkdir(join(tree, 'DEBIAN'), { recursive: true });
  await mkdir(join(tree, 'usr', 'share', pkg.name), { recursive: true });
  await writeFile(join(tree, 'usr', 'share', pkg.name, 'VERSION'), `${pkg.version}\n`);
  await writeFile(
    join(tree, 'DEBIAN', 'control'),
    [
      `Package: ${pkg.name}`,
      `Version: ${pkg.version}`,
      'Architecture: all',
      'Maintainer: ship tests <ship-tests@example.invalid>',
      'Section: misc',
      'Priority: optional',
      `Description: ${pkg.name} for ship's patch tests`,
      '',
    ].join('\n'),
  );
  if (pkg.postinst) {
    await writeFile(join(tree, 'DEBIAN', 'postinst'), `#!/bin/sh\nset -e\n${pkg.postinst}\n`);
    await chmod(join(tree, 'DEBIAN', 'postinst'), 0o755);
  }
  await execa('dpkg-deb', ['--root-owner-group', '--build', tree, output]);
}
