/** What the benches against Ansible share: the inventory of a test fleet, and its SSH masters stopped after a run. */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Fleet } from '../../test/fleet/fleet.js';
import { ROOT, runCommand } from './common.js';

/** The playbooks and ansible.cfg the benches run Ansible with. */
export const ANSIBLE_DIR = join(ROOT, 'bench', 'ansible');

/** The inventory for this fleet: group `app`, the fleet's key and known_hosts, HAProxy's socket and `backend`. */
export async function writeInventory(fleet: Fleet, backend: string): Promise<string> {
  const inventory = {
    app: {
      hosts: Object.fromEntries(fleet.hosts.map((host) => [host.name, { ansible_host: host.address, app_dir: host.appDir }])),
      vars: {
        ansible_user: 'root',
        ansible_ssh_private_key_file: fleet.privateKeyPath,
        ansible_ssh_common_args: `-o UserKnownHostsFile=${fleet.knownHostsPath} -o StrictHostKeyChecking=yes`,
        haproxy_socket: fleet.haproxy.socketPath,
        haproxy_backend: backend,
      },
    },
  };
  // JSON is YAML: no quoting to get wrong.
  const path = join(fleet.dir, 'ansible-inventory.yml');
  await writeFile(path, JSON.stringify(inventory, null, 2));
  return path;
}

/** Stops the ControlPersist masters a run left behind, so the next run starts cold and none outlives the bench. */
export async function closeControlMasters(controlDir: string): Promise<void> {
  const sockets = await readdir(controlDir).catch(() => [] as string[]);
  await Promise.all(sockets.map((socket) => runCommand('ssh', ['-F', '/dev/null', '-o', `ControlPath=${join(controlDir, socket)}`, '-O', 'exit', 'placeholder'])));
  await rm(controlDir, { recursive: true, force: true });
}

/** One ansible-playbook run on a cold ControlPath folder; its wall time. */
export async function ansibleOnce(inventory: string, playbook: string, version: string, artifact: string, controlDir: string): Promise<number> {
  await mkdir(controlDir, { recursive: true });
  const env = { ANSIBLE_CONFIG: join(ANSIBLE_DIR, 'ansible.cfg'), ANSIBLE_SSH_CONTROL_PATH_DIR: controlDir, ANSIBLE_NOCOLOR: '1' };
  const started = performance.now();
  const result = await runCommand('ansible-playbook', ['-i', inventory, playbook, '--extra-vars', JSON.stringify({ version, artifact })], env);
  const wallMs = performance.now() - started;
  await closeControlMasters(controlDir);
  if (result.code !== 0) throw new Error(`ansible-playbook ${playbook} (version ${version}) exited ${result.code}:\n${result.stderr.slice(-2000)}\n${result.stdout.slice(-4000)}`);
  return wallMs;
}
