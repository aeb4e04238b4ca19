/**
 * The first stage of a run: which hosts it rolls, with what playbook and settings, in which
 * batches. Pure reading (inventory, the playbook file, the flags); nothing is connected to or
 * changed, so every mistake found here is a usage error before the run starts.
 */
import { existsSync, statSync } from 'node:fs';
import type { LoadedConfig } from '../../config/load.js';
import { resolvePath } from '../../config/load.js';
import { checksFor } from '../../health/from-config.js';
import { resolveHosts, type ResolvedHost } from '../../inventory/resolve.js';
import type { ContainerConfig } from '../../config/container.js';
import type { ContainerSpec, Playbook, StepContext } from '../../playbook/define.js';
import { builtInPlaybookPath, loadPlaybook } from '../../playbook/load.js';
import { withQuiet } from '../../playbook/quiet.js';
import { checkRunOnceHosts } from '../../playbook/run-once.js';
import type { Target } from '../../rollout/instance.js';
import { planRollout, type RolloutSettings } from '../../rollout/rollout.js';
import { transportFor } from '../../transport/from-config.js';
import { UsageError } from '../errors.js';
import { analysisPlan, type AnalysisPlan } from './analysis.js';
import { RESTORE_PLAYBOOK, type RunOptions } from './run-options.js';

const VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;

export interface ResolvedTargets {
  /** Every host of the app: capacity is counted over the whole fleet, not only the hosts rolled now. */
  inventory: ResolvedHost[];
  hosts: ResolvedHost[];
  /** Load-balancer names of the whole fleet. */
  fleet: string[];
  playbook: Playbook;
  /** How a resume names the playbook again: the config's or built-in name, else the absolute file. */
  playbookRef: string;
  /** The playbook's file ('' for a restore): two roles rolling one file share its run-once phases. */
  playbookFile: string;
  targets: Target[];
  settings: RolloutSettings;
  plan: ReturnType<typeof planRollout>;
  /** What judges each batch's bake. */
  analysis: AnalysisPlan;
}

/**
 * A config's `playbooks.<name>`, a built-in one, or a file (recorded absolute, so a resume finds it
 * from anywhere), with the config's `quiet` steps first in its activate.
 */
async function resolvePlaybook(loaded: LoadedConfig, options: RunOptions): Promise<{ playbook: Playbook; file: string; ref: string }> {
  if (options.work.kind === 'restore') return { playbook: RESTORE_PLAYBOOK, file: '', ref: 'restore' };
  const which = options.work.playbook;
  const configured = loaded.config.playbooks[which];
  // With `container`, the built-in deploy and rollback are the container ones (a configured playbook still wins).
  const builtIn = builtInPlaybookPath(loaded.config.container && (which === 'deploy' || which === 'rollback') ? `${which}-container` : which);
  const file = configured ? resolvePath(loaded.dir, configured) : (builtIn ?? resolvePath(process.cwd(), which));
  const playbook = await loadPlaybook(file);
  // Whatever the playbook, an instance with `quiet` is told to stop taking work (and waited for) before its activate.
  const { quiet, container } = loaded.config;
  return { playbook: quiet ? withQuiet(playbook, quiet, container && containerSpec(container)) : playbook, file, ref: configured || builtIn ? which : file };
}

/** `--hosts`: with roles, a name may be another role's (checked over every role by the caller). */
function selectHosts(loaded: LoadedConfig, hosts: ResolvedHost[], names: string[] | undefined, elsewhere: boolean): ResolvedHost[] {
  if (!names || names.length === 0) return hosts;
  const unknown = names.filter((name) => !hosts.some((h) => h.name === name));
  if (unknown.length > 0 && !elsewhere) {
    throw new UsageError(`--hosts: unknown host(s) ${unknown.join(', ')}; the config (${loaded.file}) has ${hosts.map((h) => h.name).join(', ')}`);
  }
  return hosts.filter((h) => names.includes(h.name));
}

function checkInputs(playbook: Playbook, file: string, options: RunOptions): void {
  if (playbook.requires.includes('version')) {
    if (!options.version) throw new UsageError(`playbook ${playbook.name} (${file}) needs --version`);
    if (!VERSION_PATTERN.test(options.version)) {
      throw new UsageError(`--version ${JSON.stringify(options.version)}: use letters, digits, '.', '_', '+' and '-' (it names a directory on every host)`);
    }
  }
  if (playbook.requires.includes('artifact')) {
    if (!options.artifact) throw new UsageError(`playbook ${playbook.name} (${file}) needs --artifact <file>`);
    if (!existsSync(options.artifact) || !statSync(options.artifact).isFile()) throw new UsageError(`--artifact ${options.artifact}: no such file`);
  }
}

/** The playbook's own checks of the variables it reads, per host (values differ by host and --var). */
function checkVars(playbook: Playbook, file: string, targets: Target[], configFile: string): void {
  const problems = Object.entries(playbook.varChecks ?? {}).flatMap(([name, check]) =>
    targets.flatMap((target) => {
      const value = target.ctx.vars[name];
      const problem = value === undefined ? undefined : check(value);
      return problem === undefined ? [] : [`${target.name}: ${name} is ${JSON.stringify(value)}: ${problem}`];
    }),
  );
  if (problems.length > 0) {
    throw new UsageError(`playbook ${playbook.name} (${file}) cannot use these variables: ${problems.join('; ')}. Fix them in vars or a host's vars in ${configFile}, or in --var`);
  }
}

function settingsFrom(loaded: LoadedConfig, options: RunOptions): RolloutSettings {
  const { rollout, ssh, loadBalancer } = loaded.config;
  return {
    batchSize: options.batchSize ?? rollout.batchSize,
    canary: rollout.canary,
    minHealthy: rollout.minHealthy,
    idleAllowed: loadBalancer.type === 'none',
    capacityWaitMs: rollout.capacityWait,
    maxFailures: rollout.maxFailures,
    stageConcurrency: rollout.stageConcurrency,
    capacityPollMs: loadBalancer.type === 'none' ? 100 : loadBalancer.pollInterval,
    drainTimeoutMs: rollout.drainTimeout,
    healthyTimeoutMs: rollout.healthyTimeout,
    commandTimeoutMs: ssh.commandTimeout,
    sudo: ssh.sudo,
    bakeMs: rollout.bake,
    onFailure: rollout.onFailure,
    ...(options.windowEndsAt !== undefined ? { windowEndsAt: options.windowEndsAt } : {}),
  };
}

/** What a step on this host sees: its names, the config's vars, then the host's, then --var; the release. */
export function stepContextFor(host: ResolvedHost, options: RunOptions): StepContext {
  const { config } = options.loaded;
  return {
    app: config.app,
    host: { name: host.name, address: host.address, lbName: host.lbName ?? host.name },
    vars: { ...config.vars, ...host.vars, ...options.vars },
    ...(options.version ? { version: options.version } : {}),
    ...(options.artifact ? { artifact: options.artifact } : {}),
    facts: {},
    ...(config.container ? { container: containerSpec(config.container) } : {}),
  };
}

/** The config's container section as the playbooks read it; the registry password is filled in by the pre-flight. */
export function containerSpec(container: ContainerConfig): ContainerSpec {
  return {
    ...(container.engine ? { engine: container.engine } : {}),
    image: container.image,
    ...(container.registry ? { registry: { server: container.registry.server, username: container.registry.username } } : {}),
    name: container.name,
    run: {
      ...(container.run.network ? { network: container.run.network } : {}),
      ports: container.run.ports,
      volumes: container.run.volumes,
      args: container.run.args,
      ...(container.run.command ? { command: container.run.command } : {}),
    },
    stopTimeoutMs: container.stopTimeout,
    keep: container.keep,
  };
}

/** `hostsElsewhere`: `--hosts` may name hosts of the run's other roles. */
export async function resolveTargets(options: RunOptions, { hostsElsewhere = false } = {}): Promise<ResolvedTargets> {
  const { loaded } = options;
  const { config } = loaded;
  const inventory = await resolveHosts(loaded);
  const selected = selectHosts(loaded, inventory, options.hosts, hostsElsewhere);
  // A resumed run rolls only what the interrupted one did not finish.
  const completed = new Set(options.resume?.plan.completed ?? []);
  const hosts = selected.filter((h) => !completed.has(h.name));
  const fleet = inventory.map((h) => h.lbName ?? h.name);
  const { playbook, file, ref } = await resolvePlaybook(loaded, options);
  checkInputs(playbook, file, options);
  const targets: Target[] = hosts.map((host) => {
    const transport = transportFor(host, loaded, options.transport);
    return {
      name: host.name,
      address: host.address,
      lbName: host.lbName ?? host.name,
      transport,
      checks: checksFor(config.health, host.address, transport),
      ctx: stepContextFor(host, options),
    };
  });
  checkVars(playbook, file, targets, loaded.file);
  checkRunOnceHosts(
    playbook,
    file,
    inventory.map((h) => h.name),
  );
  const settings = settingsFrom(loaded, options);
  // A restore puts everything named back at once: it only adds capacity.
  const planned = options.work.kind === 'restore' ? { ...settings, batchSize: Math.max(1, targets.length), canary: false, minHealthy: 0 } : settings;
  const plan = planRollout({ targets, settings: planned, playbook, fleet });
  return { inventory, hosts, fleet, playbook, playbookRef: ref, playbookFile: file, targets, settings: planned, plan, analysis: analysisPlan(loaded, options.version) };
}
