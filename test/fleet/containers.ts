/**
 * Containers for the test fleet: every host gets its own rootful podman (its own storage, run
 * and tmp folders and auth file under the host's folder, through CONTAINERS_CONF and friends set
 * by the host's sshd), so hosts that share this machine do not share containers or images. Podman
 * runs with runc (crun refuses this machine's cgroup layout), cgroupfs, a file event log and
 * rlimits it can set, and vfs storage (no mounts to leave behind). A local registry (Debian's
 * docker-registry, htpasswd auth) on loopback serves images built here from busybox-static:
 * `busybox httpd` answering `{"version":"<v>"}` on / and 200 on /healthz. Nothing is pulled from
 * the internet. Everything is removed by cleanupContainers, also for a fleet an interrupted run left.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, symlink, writeFile, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';

export const CONTAINER_PORT = 8081;
export const REGISTRY_USER = 'deploy';

/** The engine environment of one podman "host" whose files live under `dir`. */
export function podmanEnv(dir: string, registriesConf: string): Record<string, string> {
  return {
    CONTAINERS_CONF: join(dir, 'podman', 'containers.conf'),
    CONTAINERS_STORAGE_CONF: join(dir, 'podman', 'storage.conf'),
    CONTAINERS_REGISTRIES_CONF: registriesConf,
    REGISTRY_AUTH_FILE: join(dir, 'podman', 'auth.json'),
  };
}

/** What a fleet host's sshd must set for ship's commands to reach this host's own podman. */
export function containerHostEnv(fleetDirOf: (hostDir: string) => string) {
  return ({ address, hostDir }: { address: string; hostDir: string }): Record<string, string> => ({
    ...podmanEnv(hostDir, join(fleetDirOf(hostDir), 'registries.conf')),
    // The image's httpd binds here (its command reads APP_BIND, passed with `--env APP_BIND`).
    APP_BIND: `${address}:${CONTAINER_PORT}`,
  });
}

/** Writes the podman config files for a host (or the controller) folder. */
export async function writePodmanConfig(dir: string): Promise<void> {
  const p = join(dir, 'podman');
  await mkdir(join(p, 'tmp'), { recursive: true });
  await writeFile(
    join(p, 'containers.conf'),
    [
      '[containers]',
      'default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]',
      '[engine]',
      'runtime = "runc"',
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      `events_logfile_path = "${join(p, 'events.log')}"`,
      `tmp_dir = "${join(p, 'tmp')}"`,
      `static_dir = "${join(p, 'storage', 'libpod')}"`,
      `volume_path = "${join(p, 'storage', 'volumes')}"`,
      'lock_type = "file"',
      '',
    ].join('\n'),
  );
  await writeFile(join(p, 'auth.json'), '{"auths":{}}\n', { mode: 0o600 });
  await writeFile(join(p, 'storage.conf'), ['[storage]', 'driver = "vfs"', `graphroot = "${join(p, 'storage')}"`, `runroot = "${join(p, 'run')}"`, ''].join('\n'));
}

export interface Registry {
  /** host:port */
  address: string;
  password: string;
  stop(): Promise<void>;
}

/** Starts docker-registry on `address` with htpasswd auth; its pid is kept under `dir` for cleanupContainers. */
export async function startRegistry(dir: string, address: string, password: string): Promise<Registry> {
  const r = join(dir, 'registry');
  await mkdir(join(r, 'data'), { recursive: true });
  const htpasswd = spawnSync('htpasswd', ['-B', '-i', '-n', REGISTRY_USER], { input: password, encoding: 'utf8' });
  if (htpasswd.status !== 0) throw new Error(`htpasswd failed: ${htpasswd.stderr}`);
  await writeFile(join(r, 'htpasswd'), htpasswd.stdout);
  await writeFile(
    join(r, 'config.yml'),
    [
      'version: 0.1',
      'log:',
      '  level: error',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(r, 'data')}`,
      'http:',
      `  addr: ${address}`,
      'auth:',
      '  htpasswd:',
      '    realm: ship-test',
      `    path: ${join(r, 'htpasswd')}`,
      '',
    ].join('\n'),
  );
  await writeFile(join(dir, 'registries.conf'), `[[registry]]\nlocation = "${address}"\ninsecure = true\n`);
  const start = async () => {
    const child = spawn('docker-registry', ['serve', join(r, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    child.unref();
    await writeFile(join(r, 'registry.pid'), `${child.pid}\n`);
    for (let i = 0; i < 200; i++) {
      const res = await fetch(`http://${address}/v2/`).catch(() => undefined);
      if (res) return;
      if (child.exitCode !== null) throw new Error(`docker-registry exited: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`docker-registry did not answer on ${address}: ${stderr}`);
  };
  await start();
  return {
    address,
    password,
    stop: () => killRegistry(dir),
  };
}

async function killRegistry(dir: string): Promise<void> {
  const pidFile = join(dir, 'registry', 'registry.pid');
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '0')).trim());
  if (pid > 0) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(dir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
      for (let i = 0; i < 100 && existsSync(`/proc/${pid}`); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  await rm(pidFile, { force: true });
}

/** Runs podman for the engine whose files live under `dir` (a host's, or the controller's). */
export function podman(dir: string, registriesConf: string, args: string[], input?: string) {
  return execa('podman', args, { env: podmanEnv(dir, registriesConf), reject: false, ...(input === undefined ? { stdin: 'ignore' as const } : { input }) });
}

/**
 * Builds `<repo>:<version>` from scratch (busybox-static httpd; SIGTERM ends it at once) in the
 * controller's podman under `dir`, and pushes it to the registry.
 */
export async function buildAndPush(dir: string, registry: Registry, repo: string, version: string, options: { broken?: boolean } = {}): Promise<void> {
  const registriesConf = join(dir, 'registries.conf');
  const controller = join(dir, 'controller');
  if (!existsSync(join(controller, 'podman', 'containers.conf'))) await writePodmanConfig(controller);
  const root = join(controller, 'rootfs', version);
  await rm(root, { recursive: true, force: true });
  await mkdir(join(root, 'bin'), { recursive: true });
  await mkdir(join(root, 'www'), { recursive: true });
  await copyFile('/bin/busybox', join(root, 'bin', 'busybox'));
  await chmod(join(root, 'bin', 'busybox'), 0o755);
  await symlink('busybox', join(root, 'bin', 'sh'));
  await writeFile(join(root, 'www', 'index.html'), `{"version":"${version}"}\n`);
  await writeFile(join(root, 'www', 'healthz'), 'ok\n');
  const image = `${registry.address}/${repo}:${version}`;
  const tar = await execa('tar', ['-C', root, '-c', '.'], { encoding: 'buffer' });
  // A broken image names a command it does not have: the engine refuses to start it.
  const cmd = options.broken ? 'CMD ["/bin/no-such-server"]' : 'CMD ["/bin/sh","-c","trap \'exit 0\' TERM; /bin/busybox httpd -f -p \\"$APP_BIND\\" -h /www & wait"]';
  const imported = await execa('podman', ['import', '--change', cmd, '-', image], { env: podmanEnv(controller, registriesConf), input: tar.stdout, reject: false });
  if (imported.exitCode !== 0) throw new Error(`podman import failed: ${imported.stderr}`);
  const pushed = await podman(controller, registriesConf, ['push', '--quiet', '--creds', `${REGISTRY_USER}:${registry.password}`, image]);
  if (pushed.exitCode !== 0) throw new Error(`podman push failed: ${pushed.stderr}`);
}

/** Saves an image from the controller's podman to an archive, as `docker save` would. */
export async function saveImage(dir: string, image: string, path: string): Promise<void> {
  const saved = await podman(join(dir, 'controller'), join(dir, 'registries.conf'), ['save', '--quiet', '--output', path, image]);
  if (saved.exitCode !== 0) throw new Error(`podman save failed: ${saved.stderr}`);
}

/** Removes every container of every podman under a fleet folder (hosts and controller) and stops its registry. */
export async function cleanupContainers(fleetDir: string, hostDirs: string[]): Promise<void> {
  const registriesConf = join(fleetDir, 'registries.conf');
  const dirs = [...hostDirs, join(fleetDir, 'controller')].filter((d) => existsSync(join(d, 'podman', 'containers.conf')));
  await Promise.all(dirs.map((d) => podman(d, registriesConf, ['rm', '--all', '--force', '--time', '0'])));
  await killRegistry(fleetDir);
}
