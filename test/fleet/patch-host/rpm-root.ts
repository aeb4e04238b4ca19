/**
 * A throwaway RHEL-like system root that the real dnf and rpm manage: the security-patch playbook
 * drives it with `dnf --installroot=<root>` and `rpm --root=<root>` when its `systemRoot` variable
 * names the root. With an installroot, dnf reads the root's own /etc/dnf/dnf.conf and
 * /etc/yum.repos.d, keeps its cache and logs in the root, and rpm runs scriptlets chrooted into it,
 * so the root carries a real /bin/sh (the machine's dash and its libraries). The machine's own dnf
 * setup is left out: plugin configuration is read from the root, where the hook plugins that
 * Debian's dnf-plugins-core bundles (and a RHEL host would not have, or configure) are off, and the
 * only repository is the test's.
 *
 * A reboot is needed, as `dnf needs-restarting -r` decides it, when a package named in the root's
 * /etc/dnf/plugins/needs-restarting.d/ (the plugin's own extension point, like kernel or glibc
 * built in) was installed after the machine booted: here ship-test-lib.
 */
import { execa } from 'execa';
import { copyFile, mkdir, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { BASE_PACKAGE, RPM_PACKAGES, type RpmRepository } from './rpm-repository.js';

/** Plugins that act on every dnf run; without a configuration dnf would load them (versionlock then fails). */
const HOOK_PLUGINS = ['local', 'versionlock', 'post-transaction-actions', 'generate_completion_cache'];

/** Where the root's rpm database lives (RHEL's default; Debian's rpm would put it under $HOME). */
export const RPM_DBPATH = '/var/lib/rpm';

export interface RpmRoot {
  dir: string;
  /** Installed `version-release` of a package, or undefined. */
  installedVersion(name: string): Promise<string | undefined>;
  /** Packages dnf downloaded into the root's cache and kept there. */
  cachedPackages(): Promise<string[]>;
}

const DIRECTORIES = ['etc/dnf/plugins/needs-restarting.d', 'etc/dnf/vars', 'etc/yum.repos.d', 'var/lib/rpm', 'var/cache/dnf', 'var/log', 'tmp', 'bin', 'lib64'];

/** Creates (or re-creates) the root with the base package and these package versions installed. */
export async function makeRpmRoot(dir: string, repository: RpmRepository, repositoryUrl: string, installed: Array<{ name: string; version: string }>): Promise<RpmRoot> {
  await rm(dir, { recursive: true, force: true });
  await Promise.all(DIRECTORIES.map((d) => mkdir(join(dir, d), { recursive: true })));
  await copyShell(dir);
  await writeFile(
    join(dir, 'etc/dnf/dnf.conf'),
    [
      '[main]',
      'gpgcheck=0',
      'installonly_limit=3',
      'best=True',
      'skip_if_unavailable=False',
      // keepcache: the test looks at what stage downloaded, after the install used it.
      'keepcache=True',
      `pluginconfpath=${dir}/etc/dnf/plugins`,
      '',
    ].join('\n'),
  );
  await writeFile(
    join(dir, 'etc/yum.repos.d/ship-test.repo'),
    ['[ship-test]', 'name=ship test packages', `baseurl=${repositoryUrl}`, 'gpgcheck=0', 'metadata_expire=1d', ''].join('\n'),
  );
  await Promise.all(HOOK_PLUGINS.map((plugin) => writeFile(join(dir, 'etc/dnf/plugins', `${plugin}.conf`), '[main]\nenabled=0\n')));
  await writeFile(join(dir, 'etc/dnf/plugins/needs-restarting.d/ship-test.conf'), `${RPM_PACKAGES.lib.name}\n`);
  await rpm(dir, ['--initdb']);
  const files = [{ name: BASE_PACKAGE.name, version: BASE_PACKAGE.version }, ...installed].map((pkg) => repository.rpm(pkg.name, pkg.version));
  await rpm(dir, ['--install', ...files]);
  return {
    dir,
    async installedVersion(name) {
      const result = await execa('rpm', [`--root=${dir}`, `--dbpath=${RPM_DBPATH}`, '-q', '--qf', '%{VERSION}-%{RELEASE}', name], { reject: false });
      return result.exitCode === 0 ? String(result.stdout) : undefined;
    },
    async cachedPackages() {
      const cache = join(dir, 'var/cache/dnf');
      const repos = await readdir(cache).catch(() => [] as string[]);
      const found = await Promise.all(repos.map((r) => readdir(join(cache, r, 'packages')).catch(() => [] as string[])));
      return found.flat().sort();
    },
  };
}

function rpm(root: string, args: string[]) {
  return execa('rpm', [`--root=${root}`, `--dbpath=${RPM_DBPATH}`, ...args]);
}

/** /bin/sh inside the root for rpm's chrooted scriptlets: dash with the libraries ldd names. */
async function copyShell(root: string): Promise<void> {
  await copyFile('/bin/dash', join(root, 'bin/dash'));
  await symlink('dash', join(root, 'bin/sh'));
  const { stdout } = await execa('ldd', ['/bin/dash']);
  const libraries = [...String(stdout).matchAll(/(\/\S+) \(0x/g)].map((m) => m[1]!);
  for (const library of libraries) {
    await mkdir(join(root, dirname(library)), { recursive: true });
    await copyFile(library, join(root, library));
  }
}

/**
 * The session environment of an RHEL-like test host on this Debian machine: rpm's database where
 * RHEL keeps it (a ~/.rpmmacros in the host's HOME), and a PATH without apt-get, so the playbook
 * detects dnf. The PATH is a directory of links to every program on the machine's PATH but apt's.
 */
export async function rpmHostSession(hostDir: string, home: string): Promise<Record<string, string>> {
  await mkdir(home, { recursive: true });
  await writeFile(join(home, '.rpmmacros'), `%_dbpath ${RPM_DBPATH}\n`);
  const bin = join(hostDir, 'bin-without-apt');
  await rm(bin, { recursive: true, force: true });
  await mkdir(bin, { recursive: true });
  const linked = new Set<string>();
  for (const source of ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    for (const name of await readdir(source).catch(() => [] as string[])) {
      if (linked.has(name) || name === 'apt-get' || name === 'apt') continue;
      linked.add(name);
      await symlink(join(source, name), join(bin, name));
    }
  }
  return { PATH: bin };
}
