/**
 * A local RPM repository for the dnf patch tests: real noarch .rpm files built with `rpmbuild`,
 * indexed with `createrepo_c`, and an updateinfo.xml (added with `modifyrepo_c`) that marks most
 * new versions as security advisories, as RHEL's errata do, so `dnf --security` sees them. Each
 * test package exists at an old and a new version; the repository keeps both. It is served over
 * HTTP on a loopback address, so dnf really downloads (a file:// repository is read in place and
 * `--downloadonly` would have nothing to do), and every request is recorded.
 */
import { execa } from 'execa';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join, normalize } from 'node:path';

export interface RpmTestPackage {
  name: string;
  version: string;
  /** Shell text of a %post scriptlet (runs chrooted in the root being patched). */
  post?: string;
  /** Extra `Provides:` lines. */
  provides?: string[];
}

/** What the tests install and upgrade. */
export const RPM_PACKAGES = {
  /** A security update that needs no reboot. */
  tool: { name: 'ship-test-tool', old: '1.0', new: '1.1' },
  /** A security update after which `dnf needs-restarting -r` asks for a reboot (see rpm-root.ts). */
  lib: { name: 'ship-test-lib', old: '1.0', new: '1.1' },
  /** A security update whose %post scriptlet fails. */
  broken: { name: 'ship-test-broken', old: '1.0', new: '2.0' },
  /** An update from a bugfix advisory: not a security update. */
  bugfix: { name: 'ship-test-bugfix', old: '1.0', new: '1.1' },
} as const;

/** Stands in for the packages a real system provides: /bin/sh for scriptlets, and the release version dnf looks for. */
export const BASE_PACKAGE: RpmTestPackage = { name: 'ship-test-base', version: '9', provides: ['/bin/sh', 'system-release(releasever) = 9'] };

/** `release` of every test package. */
export const RELEASE = '1.el9';

const FAIL_TO_MIGRATE = `echo "ship-test-broken: cannot migrate its data" >&2
exit 1`;

export function rpmTestPackages(): RpmTestPackage[] {
  return [
    BASE_PACKAGE,
    ...Object.entries(RPM_PACKAGES).flatMap(([key, pkg]) => [
      { name: pkg.name, version: pkg.old },
      { name: pkg.name, version: pkg.new, ...(key === 'broken' ? { post: FAIL_TO_MIGRATE } : {}) },
    ]),
  ];
}

export interface RpmRepository {
  dir: string;
  /** The .rpm of a package version, for installing the old versions into a root. */
  rpm(name: string, version: string): string;
  /** The file name dnf fetches for a package version. */
  fileName(name: string, version: string): string;
}

export async function buildRpmRepository(dir: string, packages: RpmTestPackage[] = rpmTestPackages()): Promise<RpmRepository> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const fileName = (name: string, version: string) => `${name}-${version}-${RELEASE}.noarch.rpm`;
  // rpmbuild's tree sits beside the repository, so createrepo_c indexes only the packages.
  const topdir = `${dir}.build`;
  await rm(topdir, { recursive: true, force: true });
  await Promise.all(packages.map((pkg) => buildRpm(topdir, pkg)));
  await Promise.all(packages.map((pkg) => copyFile(join(topdir, 'RPMS', 'noarch', fileName(pkg.name, pkg.version)), join(dir, fileName(pkg.name, pkg.version)))));
  await execa('createrepo_c', ['--quiet', '--no-database', dir]);
  const updateinfo = join(topdir, 'updateinfo.xml');
  await writeFile(updateinfo, updateInfo(fileName));
  await execa('modifyrepo_c', ['--mdtype=updateinfo', updateinfo, join(dir, 'repodata')]);
  await rm(topdir, { recursive: true, force: true });
  return { dir, rpm: (name, version) => join(dir, fileName(name, version)), fileName };
}

async function buildRpm(topdir: string, pkg: RpmTestPackage): Promise<void> {
  const spec = join(topdir, 'SPECS', `${pkg.name}-${pkg.version}.spec`);
  await mkdir(join(topdir, 'SPECS'), { recursive: true });
  const lines = [
    `Name: ${pkg.name}`,
    `Version: ${pkg.version}`,
    `Release: ${RELEASE}`,
    `Summary: ${pkg.name} for ship's patch tests`,
    'License: MIT',
    'BuildArch: noarch',
    ...(pkg.provides ?? []).map((p) => `Provides: ${p}`),
    '%description',
    `${pkg.name} for ship's patch tests.`,
    '%install',
    `mkdir -p %{buildroot}/usr/share/${pkg.name}`,
    `echo ${pkg.version} > %{buildroot}/usr/share/${pkg.name}/VERSION`,
    '%files',
    `/usr/share/${pkg.name}/VERSION`,
    ...(pkg.post ? ['%post', pkg.post] : []),
    '',
  ];
  await writeFile(spec, lines.join('\n'));
  // Each package builds in its own BUILD directory: rpmbuild runs in parallel here.
  const build = join(topdir, 'BUILD', `${pkg.name}-${pkg.version}`);
  await execa('rpmbuild', ['-bb', '--quiet', '--define', `_topdir ${topdir}`, '--define', `_builddir ${build}`, spec]);
}

function updateInfo(fileName: (name: string, version: string) => string): string {
  const advisory = (
    id: string,
    type: 'security' | 'bugfix',
    pkg: { name: string; new: string },
  ) => `  <update from="ship-tests@example.invalid" status="final" type="${type}" version="2.0">
    <id>${id}</id>
    <title>${pkg.name} ${type} update</title>
    ${type === 'security' ? '<severity>Important</severity>' : ''}
    <issued date="2024-06-01 00:00:00"/>
    <description>${pkg.name} ${pkg.new}</description>
    <pkglist>
      <collection short="ship-test">
        <name>ship-test</name>
        <package name="${pkg.name}" version="${pkg.new}" release="${RELEASE}" epoch="0" arch="noarch">
          <filename>${fileName(pkg.name, pkg.new)}</filename>
        </package>
      </collection>
    </pkglist>
  </update>`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<updates>',
    advisory('SHIPSA-2024:0001', 'security', RPM_PACKAGES.tool),
    advisory('SHIPSA-2024:0002', 'security', RPM_PACKAGES.lib),
    advisory('SHIPSA-2024:0003', 'security', RPM_PACKAGES.broken),
    advisory('SHIPBA-2024:0004', 'bugfix', RPM_PACKAGES.bugfix),
    '</updates>',
    '',
  ].join('\n');
}

export interface ServedRepository {
  /** The `baseurl` for the repository. */
  url: string;
  /** Paths requested so far, with the time of each request (ms since the epoch). */
  requests: Array<{ path: string; at: number }>;
  stop(): Promise<void>;
}

/** Serves the repository's files over HTTP on `address` (a free port chosen by the OS). */
export async function serveRepository(repository: RpmRepository, address: string): Promise<ServedRepository> {
  const requests: ServedRepository['requests'] = [];
  const server: Server = createServer((request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url ?? '/', 'http://repo').pathname));
    requests.push({ path, at: Date.now() });
    const file = join(repository.dir, path);
    void stat(file)
      .catch(() => undefined)
      .then((info) => {
        if (!info?.isFile()) return void response.writeHead(404).end();
        response.writeHead(200, { 'content-length': info.size });
        createReadStream(file).pipe(response);
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, address, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://${address}:${port}/`,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
