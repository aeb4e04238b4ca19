/**
 * A throwaway Debian system root that the real apt-get and dpkg manage, without a chroot: apt
 * reads <root>/etc/apt/apt.conf (through APT_CONFIG), which points every apt directory into the
 * root and runs dpkg with --root and --force-script-chrootless, so maintainer scripts run on the
 * test machine with DPKG_ROOT set to the root. The security-patch playbook drives it when its
 * `systemRoot` variable names the root; nothing outside the root is touched.
 */
import { execa } from 'execa';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Repository } from './repository.js';

export interface SystemRoot {
  dir: string;
  /** The file `APT_CONFIG` names for this root. */
  aptConfig: string;
  rebootRequiredFlag: string;
  /** Installed version of a package, or undefined. */
  installedVersion(name: string): Promise<string | undefined>;
}

const DIRECTORIES = [
  'etc/apt/apt.conf.d',
  'etc/apt/preferences.d',
  'etc/apt/sources.list.d',
  'etc/apt/trusted.gpg.d',
  'var/lib/dpkg/info',
  'var/lib/dpkg/updates',
  'var/lib/dpkg/triggers',
  'var/lib/apt/lists/partial',
  'var/cache/apt/archives/partial',
  'var/log/apt',
  'var/run',
];

/** Creates (or re-creates) the root with the given package versions installed. */
export async function makeSystemRoot(dir: string, repository: Repository, installed: Array<{ name: string; version: string }>): Promise<SystemRoot> {
  await rm(dir, { recursive: true, force: true });
  await Promise.all(DIRECTORIES.map((d) => mkdir(join(dir, d), { recursive: true })));
  await writeFile(join(dir, 'var/lib/dpkg/status'), '');
  await writeFile(join(dir, 'var/lib/dpkg/available'), '');
  const aptConfig = join(dir, 'etc/apt/apt.conf');
  await writeFile(
    aptConfig,
    [
      `Dir "${dir}/";`,
      // Read before the machine's own apt.conf.d, so none of its hooks or settings apply here.
      `Dir::Etc::parts "${dir}/etc/apt/apt.conf.d";`,
      `Dir::State::status "${dir}/var/lib/dpkg/status";`,
      `DPkg::Options:: "--root=${dir}";`,
      `DPkg::Options:: "--force-script-chrootless";`,
      `DPkg::Options:: "--log=${dir}/var/log/dpkg.log";`,
      '',
    ].join('\n'),
  );
  // copy: (not file:) so that `apt-get -d` really downloads into the root's archive cache.
  await writeFile(join(dir, 'etc/apt/sources.list'), `deb [trusted=yes] copy:${repository.dir} ./\n`);
  for (const pkg of installed) {
    await execa('dpkg', [`--root=${dir}`, '--force-script-chrootless', `--log=${dir}/var/log/dpkg.log`, '-i', repository.deb(pkg.name, pkg.version)]);
  }
  return {
    dir,
    aptConfig,
    rebootRequiredFlag: join(dir, 'var/run/reboot-required'),
    async installedVersion(name) {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own field syntax
      const result = await execa('dpkg-query', [`--root=${dir}`, '-W', '-f=${Status} ${Version}', name], { reject: false });
      const match = /install ok installed (\S+)/.exec(String(result.stdout));
      return match?.[1];
    },
  };
}
