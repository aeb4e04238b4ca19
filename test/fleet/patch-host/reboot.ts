/**
 * Simulated reboots for fleet hosts. The playbook's `rebootCommand` (from the config) drops a
 * request file; this watcher, in the test process, then does what a reboot does to the host as
 * ship sees it: sshd (with every session) and the app stop, volatile state (/run, so the
 * reboot-required flag) is cleared, and after `downMs` sshd comes back with the same host key, the
 * app starts, and /proc's boot id is a new one. A host told not to come back stays down.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sleep } from '../../../src/util/deadline.js';
import { stopApp } from '../app/app.js';
import type { Fleet, FleetHost } from '../fleet.js';
import { startSshd } from '../sshd.js';

export interface RebootBehaviour {
  /** How long the host is down. */
  downMs: number;
  /** false: it never comes back. */
  comesBack: boolean;
}

export interface RebootableHost {
  /** Shell text for the playbook's bootIdCommand and rebootCommand variables. */
  vars: { bootIdCommand: string; rebootCommand: string };
  bootId(): Promise<string>;
  /** Reboots performed so far. */
  reboots(): number;
  /** false after a reboot that did not come back, until powerOn(). */
  isUp(): boolean;
  behave(behaviour: RebootBehaviour): void;
  /** Brings a host that stayed down back (sshd with `env` for its sessions, default the host's own, and the app). */
  powerOn(env?: Record<string, string>): Promise<void>;
  /** Restarts sshd alone, with extra session environment (e.g. a PATH without apt-get), default the host's own. */
  restartSshd(env?: Record<string, string>): Promise<void>;
  dispose(): Promise<void>;
}

/**
 * `sessionEnv`: the host's own session environment (e.g. an RHEL-like host's PATH), which sshd is
 * restarted with now and keeps across reboots.
 */
export async function rebootable(fleet: Fleet, host: FleetHost, clearOnBoot: string[], sessionEnv: Record<string, string> = {}): Promise<RebootableHost> {
  const hostDir = join(fleet.dir, 'hosts', host.name);
  const bootIdFile = join(hostDir, 'boot_id');
  const request = join(hostDir, 'reboot-requested');
  await writeFile(bootIdFile, `${randomUUID()}\n`);
  await rm(request, { force: true });
  const publicKey = (await readFile(`${fleet.privateKeyPath}.pub`, 'utf8')).trim();
  let behaviour: RebootBehaviour = { downMs: 500, comesBack: true };
  let count = 0;
  let up = true;
  let disposed = false;
  let rebooting: Promise<void> | undefined;

  const startSshdAgain = async (env: Record<string, string> = sessionEnv) => {
    const sshdDir = join(hostDir, 'sshd');
    host.sshd = await startSshd({
      address: host.address,
      port: host.sshd.port,
      dir: sshdDir,
      authorizedKeys: [publicKey],
      hostKeyPath: join(sshdDir, 'ssh_host_ed25519_key'),
      env: { HOME: join(hostDir, 'home'), ...env },
    });
  };
  const powerOn = async (env: Record<string, string> = sessionEnv) => {
    await writeFile(bootIdFile, `${randomUUID()}\n`);
    await startSshdAgain(env);
    await host.app.restart();
    up = true;
  };
  const rebootNow = async () => {
    await rm(request, { force: true });
    count++;
    const { downMs, comesBack } = behaviour;
    up = false;
    await Promise.all([host.sshd.stop(), stopApp(host.appDir)]);
    await Promise.all(clearOnBoot.map((path) => rm(path, { force: true })));
    await sleep(downMs);
    if (comesBack && !disposed) await powerOn();
  };
  if (Object.keys(sessionEnv).length > 0) {
    await host.sshd.stop();
    await startSshdAgain();
  }
  const watcher = setInterval(() => {
    if (disposed || rebooting || !existsSync(request)) return;
    rebooting = rebootNow().finally(() => (rebooting = undefined));
  }, 25);

  return {
    vars: { bootIdCommand: `cat ${bootIdFile}`, rebootCommand: `touch ${request}` },
    bootId: async () => (await readFile(bootIdFile, 'utf8')).trim(),
    reboots: () => count,
    isUp: () => up,
    behave(next) {
      behaviour = next;
    },
    powerOn,
    async restartSshd(env = sessionEnv) {
      await host.sshd.stop();
      await startSshdAgain(env);
    },
    async dispose() {
      disposed = true;
      clearInterval(watcher);
      await rebooting?.catch(() => undefined);
    },
  };
}
