import { writeFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import { COMMAND_LINES } from './commands.js';
import { UsageError } from '../commands/errors.js';
import { LOAD_BALANCER_TYPES, loadBalancerAdapter, type LoadBalancerType } from '../lb/registry.js';
import { NOTIFIERS } from '../notify/registry.js';
import { EXIT } from './exit-codes.js';

/** `ship init --lb` offers every registered load balancer type. */
export const INIT_LOAD_BALANCERS = LOAD_BALANCER_TYPES;
export type InitLoadBalancer = LoadBalancerType;

const APP_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** The folder's name when it is a valid app name, so the first `ship plan` already says the right thing. */
export function appNameFor(configPath: string): string {
  const folder = basename(dirname(resolve(configPath)))
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '');
  return APP_NAME.test(folder) ? folder : 'myapp';
}

/** The commented config `ship init` writes; it validates as written (test/integration/init.test.ts). */
export function initConfigText(lb: InitLoadBalancer, app: string): string {
  const section = loadBalancerAdapter(lb).init(app);
  return `/**
 * ship config for ${app}. \`ship plan\` shows what a deploy would do without changing anything;
 * \`ship deploy --version <version> --artifact <file.tgz>\` rolls it out one batch at a time.
 *
 * Every field, with its type and default, is in docs/config.md of ship. Durations are '500ms',
 * '30s', '2m' or milliseconds. Secrets come from the environment (process.env.NAME) and are
 * scrubbed from all output.
 */
import type { ShipConfigInput } from 'ship-rollout';

export default {
  // Names runs, the deploy lock and notifications.
  app: '${app}',

${section.hosts}

  // Variables every playbook step sees as ctx.vars; a host's own vars override them, and
  // --var key=value overrides both. The built-in deploy playbook needs appDir and restart.
  vars: { appDir: '/srv/${app}', restart: 'sudo systemctl restart ${app}', keepReleases: 5 },

  // Host keys are always checked against knownHosts; unknown keys are refused unless you pass
  // --accept-new-host-keys, changed keys always. ~/.ssh/config is honoured (aliases, ProxyJump).
  ssh: { user: 'deploy', privateKey: '~/.ssh/id_ed25519', knownHosts: '~/.ssh/known_hosts' },

${section.loadBalancer}

  // Checked from this machine before an instance goes back; successThreshold passes in a row.
  health: { http: { port: 8080, path: '/healthz', successThreshold: 3, interval: '1s', timeout: '2s' } },

  // One instance at a time, a canary first; the rollout stops at the first failed instance.
  // minHealthy (default: all but one batch) is the capacity floor checked before each batch.
  rollout: { batchSize: 1, canary: true, drainTimeout: '60s', healthyTimeout: '120s', maxFailures: 0 },

  // Refuse migrations that would break the code still running, and lagging replicas:
  // database: {
  //   primary: process.env.DATABASE_URL,
  //   replicas: [process.env.REPLICA_URL],
  //   migrations: { dir: 'db/migrations' },
  //   maxReplicaLag: '10s',
  // },

  // Tell people about runs (docs/config.md describes each destination):
  // notify: {
${NOTIFIERS.map((adapter) => `  //   ${adapter.initExample}`).join('\n')}
  //   on: ['failure', 'abort', 'success'],
  // },

  // Where runs and the deploy lock are recorded; { store: 'postgres', url: ... } to share them.
  state: { store: 'file', path: '.ship' },
} satisfies ShipConfigInput;
`;
}

/** Writes the config; refuses to replace an existing file unless forced. Returns the absolute path. */
export async function writeInitConfig(path: string, lb: InitLoadBalancer, force: boolean): Promise<string> {
  const absolute = resolve(path);
  try {
    // 'wx' fails if the file exists, in one step, so a file created meanwhile is not overwritten either.
    await writeFile(absolute, initConfigText(lb, appNameFor(absolute)), { flag: force ? 'w' : 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new UsageError(`${path} already exists; pass --force to overwrite it`);
    throw new UsageError(`cannot write ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return absolute;
}

export const initCommand: CommandModule<{ config: string; json?: boolean }, { config: string; json?: boolean; lb: InitLoadBalancer; force?: boolean }> = {
  ...COMMAND_LINES.init,
  builder: (yargs) =>
    yargs
      .option('lb', { choices: INIT_LOAD_BALANCERS, default: 'haproxy' as InitLoadBalancer, describe: 'the load balancer in front of the fleet' })
      .option('force', { type: 'boolean', describe: 'overwrite an existing config file' }),
  handler: async (args) => {
    const written = await writeInitConfig(args.config, args.lb, args.force ?? false);
    process.stdout.write(`wrote ${written} (${args.lb}): fill in hosts, ssh and loadBalancer, then run \`ship plan\`\n`);
    process.exitCode = EXIT.ok;
  },
};
