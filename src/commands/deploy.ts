import { existsSync, statSync } from 'node:fs';
import type { LoadedConfig } from '../config/load.js';
import { resolvePath } from '../config/load.js';
import type { EventBus, RunStatus, RunSummary } from '../events.js';
import { checksFor } from '../health/from-config.js';
import { loadBalancerFor } from '../lb/from-config.js';
import type { LoadBalancer } from '../lb/load-balancer.js';
import type { Playbook, VarValue } from '../playbook/define.js';
import { builtInPlaybookPath, loadPlaybook } from '../playbook/load.js';
import { databaseChecks, type DatabaseRunOptions } from '../preflight/database-checks.js';
import { PreflightRefused, runPreflight, type PreflightCheck } from '../preflight/preflight.js';
import type { InstanceSignals, Target } from '../rollout/instance.js';
import { capacityRefusal, planRollout, runRollout, type RolloutSettings } from '../rollout/rollout.js';
import { transportFor, type TransportOverrides } from '../transport/from-config.js';
import type { Transport } from '../transport/transport.js';
import { UsageError } from './errors.js';
import { resolveHosts, type ResolvedHost } from '../inventory/resolve.js';

export interface RollOptions {
  loaded: LoadedConfig;
  /** 'deploy', 'patch', or a playbook file for `ship run`. */
  playbook: string;
  command: string;
  version?: string;
  artifact?: string;
  hosts?: string[];
  batchSize?: number | string;
  vars?: Record<string, VarValue>;
  dryRun?: boolean;
  transport?: TransportOverrides;
  /** `--trace`, `--allow-unsafe-database`: this run's additions to the database pre-flight. */
  database?: DatabaseRunOptions;
  bus: EventBus;
  signals: InstanceSignals;
  /** How the user puts instances back by hand, for the hard-interrupt message. */
  restoreCommand: (hosts: string[]) => string;
  /** End of the maintenance window (epoch ms, from `--window`): no batch starts after it. */
  windowEndsAt?: number;
}

export interface RollResult {
  status: RunStatus;
  summary: RunSummary;
}

const VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;

async function resolvePlaybook(loaded: LoadedConfig, which: string): Promise<{ playbook: Playbook; file: string }> {
  const configured = loaded.config.playbooks[which];
  const file = configured ? resolvePath(loaded.dir, configured) : (builtInPlaybookPath(which) ?? resolvePath(process.cwd(), which));
  return { playbook: await loadPlaybook(file), file };
}

function selectHosts(loaded: LoadedConfig, hosts: ResolvedHost[], names: string[] | undefined) {
  if (!names || names.length === 0) return hosts;
  const unknown = names.filter((name) => !hosts.some((h) => h.name === name));
  if (unknown.length > 0) {
    throw new UsageError(`--hosts: unknown host(s) ${unknown.join(', ')}; the config (${loaded.file}) has ${hosts.map((h) => h.name).join(', ')}`);
  }
  return hosts.filter((h) => names.includes(h.name));
}

function checkInputs(playbook: Playbook, file: string, options: RollOptions): void {
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

function settingsFrom(loaded: LoadedConfig, options: RollOptions): RolloutSettings {
  const { rollout, ssh, loadBalancer } = loaded.config;
  return {
    batchSize: options.batchSize ?? rollout.batchSize,
    canary: rollout.canary,
    minHealthy: rollout.minHealthy,
    capacityWaitMs: rollout.capacityWait,
    maxFailures: rollout.maxFailures,
    stageConcurrency: rollout.stageConcurrency,
    capacityPollMs: loadBalancer.type === 'none' ? 100 : loadBalancer.pollInterval,
    drainTimeoutMs: rollout.drainTimeout,
    healthyTimeoutMs: rollout.healthyTimeout,
    commandTimeoutMs: ssh.commandTimeout,
    sudo: ssh.sudo,
    ...(options.windowEndsAt !== undefined ? { windowEndsAt: options.windowEndsAt } : {}),
  };
}

/** Deploy, patch or a user playbook: the same rolling procedure, from pre-flight to summary. */
export async function roll(options: RollOptions): Promise<RollResult> {
  const { loaded, bus } = options;
  const { config } = loaded;
  const started = performance.now();
  const inventory = await resolveHosts(loaded);
  const hosts = selectHosts(loaded, inventory, options.hosts);
  // Capacity is counted over the whole fleet behind the load balancer, not only the hosts rolled now.
  const fleet = inventory.map((h) => h.lbName ?? h.name);
  const { playbook, file } = await resolvePlaybook(loaded, options.playbook);
  checkInputs(playbook, file, options);

  const transports = new Map<string, Transport>(hosts.map((host) => [host.name, transportFor(host, loaded, options.transport)]));
  const targets: Target[] = hosts.map((host) => {
    const transport = transports.get(host.name)!;
    return {
      name: host.name,
      address: host.address,
      lbName: host.lbName ?? host.name,
      transport,
      checks: checksFor(config.health, host.address, transport),
      ctx: {
        app: config.app,
        host: { name: host.name, address: host.address, lbName: host.lbName ?? host.name },
        vars: { ...config.vars, ...host.vars, ...options.vars },
        ...(options.version ? { version: options.version } : {}),
        ...(options.artifact ? { artifact: options.artifact } : {}),
        facts: {},
      },
    };
  });
  const settings = settingsFrom(loaded, options);
  const plan = planRollout({ targets, settings, playbook, fleet });
  bus.emit({
    type: 'run.started',
    command: options.command,
    app: config.app,
    ...(options.version ? { version: options.version } : {}),
    hosts: targets.map((t) => t.name),
    sources: Object.fromEntries(hosts.map((h) => [h.name, h.source])),
    batches: plan.batches.map((b) => b.hosts.map((t) => t.name)),
    dryRun: options.dryRun ?? false,
  });
  bus.emit({
    type: 'plan',
    playbook: playbook.name,
    batches: plan.batches.map((b) => ({ hosts: b.hosts.map((t) => t.name), canary: b.canary })),
    phases: {
      stage: playbook.stage.map((s) => s.name),
      activate: playbook.activate.map((s) => s.name),
      verify: playbook.verify.map((s) => s.name),
      rollback: playbook.rollback.map((s) => s.name),
    },
    minHealthy: plan.floor,
    reloadInPlace: plan.reloadInPlace,
  });
  const refusal = capacityRefusal(fleet.length, plan.floor, plan.breaching, plan.reloadInPlace);
  if (options.dryRun) {
    const summary: RunSummary = { hosts: [], outOfRotation: [], ...(refusal ? { error: refusal } : {}) };
    bus.emit({ type: 'run.finished', status: 'planned', durationMs: performance.now() - started, summary });
    return { status: 'planned', summary };
  }

  const lb = await loadBalancerFor(loaded, hosts);
  try {
    const largestBatch = Math.max(...plan.batches.map((b) => b.hosts.length));
    await runPreflight(
      [...preflightChecks(targets, fleet, playbook, lb, refusal, settings.drainTimeoutMs), ...databaseChecks({ loaded, bus, instances: targets.length, batchSize: largestBatch, ...(options.database ? { run: options.database } : {}) })],
      bus,
    );
    const result = await runRollout({ targets, playbook, lb, bus, settings, signals: options.signals, restoreCommand: options.restoreCommand, fleet });
    bus.emit({ type: 'run.finished', status: result.status, durationMs: performance.now() - started, summary: result.summary });
    return result;
  } catch (error) {
    if (!(error instanceof PreflightRefused)) throw error;
    const summary: RunSummary = { hosts: [], outOfRotation: [], error: error.message };
    bus.emit({ type: 'run.finished', status: 'refused', durationMs: performance.now() - started, summary });
    return { status: 'refused', summary };
  } finally {
    await Promise.allSettled([...transports.values()].map((t) => t.close()));
    await lb.close().catch(() => undefined);
  }
}

function preflightChecks(targets: Target[], fleet: string[], playbook: Playbook, lb: LoadBalancer, refusal: string | undefined, drainTimeoutMs: number): PreflightCheck[] {
  return [
    {
      name: 'playbook variables',
      async run() {
        const missing = targets.flatMap((t) => playbook.requiredVars.filter((v) => t.ctx.vars[v] === undefined || t.ctx.vars[v] === '').map((v) => `${t.name}: ${v}`));
        if (missing.length > 0) throw new Error(`playbook ${playbook.name} needs variables that are not set: ${missing.join(', ')} (set them in vars, per host, or with --var)`);
        return `${playbook.requiredVars.join(', ') || 'none needed'}`;
      },
    },
    {
      name: 'capacity plan',
      async run() {
        if (refusal) throw new Error(refusal);
        return `${targets.length} instance(s)`;
      },
    },
    {
      name: 'connectivity',
      async run() {
        // All hosts at once: a new SSH connection costs ~0.2 s, and an unreachable host must be found before anything leaves.
        const results = await Promise.allSettled(targets.map((t) => t.transport.connect()));
        const failed = results.flatMap((r, i) => {
          if (r.status === 'fulfilled') return [];
          // Transport errors already start with the host name.
          const message = (r.reason as Error).message;
          const host = targets[i]!.name;
          return [message.startsWith(`${host}: `) ? message : `${host}: ${message}`];
        });
        if (failed.length > 0) throw new Error(`unreachable: ${failed.join('; ')}`);
        return `${targets.length} host(s) connected`;
      },
    },
    {
      name: 'load balancer',
      async run() {
        await lb.verify(fleet);
        const detail = await lb.preflight?.({ drainTimeoutMs });
        const members = await lb.members(fleet);
        const healthy = members.filter((m) => m.healthy && m.inService).length;
        return `${lb.kind}: ${healthy}/${members.length} healthy and in service${detail ? `; ${detail}` : ''}`;
      },
    },
  ];
}
