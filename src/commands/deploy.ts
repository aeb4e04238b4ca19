import { existsSync, statSync } from 'node:fs';
import type { LoadedConfig } from '../config/load.js';
import { resolvePath } from '../config/load.js';
import type { EventBus, RunStatus, RunSummary } from '../events.js';
import { checksFor } from '../health/from-config.js';
import { loadBalancerFor } from '../lb/from-config.js';
import type { LoadBalancer } from '../lb/load-balancer.js';
import type { Playbook, VarValue } from '../playbook/define.js';
import { builtInPlaybookPath, loadPlaybook } from '../playbook/load.js';
import type { DatabaseRunOptions } from '../preflight/database-checks.js';
import { PreflightRefused, runPreflight, type PreflightCheck } from '../preflight/preflight.js';
import type { InstanceSignals, Target } from '../rollout/instance.js';
import { capacityRefusal, planRollout, runRollout, type RolloutSettings } from '../rollout/rollout.js';
import { transportFor, type TransportOverrides } from '../transport/from-config.js';
import type { Transport } from '../transport/transport.js';
import { UsageError } from './errors.js';
import { resolveHosts, type ResolvedHost } from '../inventory/resolve.js';
import { ConfigError } from '../config/errors.js';
import type { InstanceState } from '../events.js';
import { codeOf } from '../errors/coded.js';
import type { JournalEntry } from '../journal/state-store.js';
import { LoadBalancerError } from '../lb/load-balancer.js';
import { InstanceTracker } from '../rollout/tracker.js';
import { planResume, reconcileInFlight } from './resume.js';
import { RunJournal } from './run-journal.js';

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
  /** --lock-wait: how long to wait for another run's deploy lock. */
  lockWaitMs?: number;
  /** `ship check`: run every pre-flight check (the lock only looked at, not taken), change nothing. */
  checkOnly?: boolean;
  /** `ship resume`: the interrupted run to continue (its hosts caught mid-way are reconciled first). */
  resumeFrom?: JournalEntry;
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
  const resumePlan = options.resumeFrom ? planResume(options.resumeFrom) : undefined;
  if (resumePlan && resumePlan.failed.length > 0) {
    throw new UsageError(
      `the interrupted run ${options.resumeFrom!.run.runId} had failures (${resumePlan.failed.join(', ')}): resume does not roll past a failure; ` +
        'check `ship status`, put instances back with `ship restore`, and start a new run',
    );
  }
  const selected = selectHosts(loaded, inventory, options.hosts);
  // A resumed run rolls only what the interrupted one did not finish.
  const hosts = resumePlan ? selected.filter((h) => !resumePlan.completed.includes(h.name)) : selected;
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

  let lb: LoadBalancer;
  try {
    lb = await loadBalancerFor(loaded, hosts);
  } catch (error) {
    // The provider refuses what the config says (a target group in another region): the config's to fix.
    if (error instanceof LoadBalancerError) throw new ConfigError(loaded.file, [`loadBalancer: ${error.message}`]);
    throw error;
  }
  const journal = await RunJournal.open(loaded, bus, {
    command: options.resumeFrom ? `resume ${options.resumeFrom.run.runId}` : options.command,
    ...(options.version ? { version: options.version } : {}),
    hosts: targets.map((t) => t.name),
    resume: {
      playbook: options.playbook,
      command: options.command,
      ...(options.version ? { version: options.version } : {}),
      ...(options.artifact ? { artifact: resolvePath(process.cwd(), options.artifact) } : {}),
      ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
      ...(options.hosts ? { hosts: options.hosts } : {}),
      vars: options.vars ?? {},
    },
    lockWaitMs: options.lockWaitMs ?? 0,
    ...(options.resumeFrom ? { takeOverFrom: options.resumeFrom.run.runId } : {}),
  });
  const finish = async (result: RollResult): Promise<RollResult> => {
    await journal.finish(result.status, result.summary).catch((error: Error) => {
      bus.emit({ type: 'warning', message: `the run's outcome could not be written to the journal: ${error.message}` });
    });
    bus.emit({ type: 'run.finished', status: result.status, durationMs: performance.now() - started, summary: result.summary });
    return result;
  };
  try {
    const largestBatch = Math.max(...plan.batches.map((b) => b.hosts.length));
    await runPreflight(
      [
        options.checkOnly ? journal.peekLockCheck() : journal.lockCheck(),
        ...preflightChecks(targets, fleet, playbook, lb, refusal, settings.drainTimeoutMs),
        // The database pre-flight (pg, the PostgreSQL parser) is loaded only for configs that have a database.
        ...(config.database
          ? (await import('../preflight/database-checks.js')).databaseChecks({ loaded, bus, instances: targets.length, batchSize: largestBatch, ...(options.database ? { run: options.database } : {}) })
          : []),
      ],
      bus,
      { all: options.checkOnly ?? false },
    );
    if (options.checkOnly) return await finish({ status: 'checked', summary: { hosts: [], outOfRotation: [] } });
    let initial: Array<[string, InstanceState]> = [];
    if (resumePlan && resumePlan.inFlight.length > 0) {
      initial = resumePlan.inFlight.map(({ host, state }) => [host, state]);
      const tracker = new InstanceTracker(bus, journal.record, initial);
      const leftOut = await reconcileInFlight(targets, resumePlan, lb, tracker, bus, settings.healthyTimeoutMs);
      await tracker.flush();
      if (leftOut.length > 0) {
        return await finish({
          status: 'failed',
          summary: { hosts: [], outOfRotation: leftOut, error: `resume: ${leftOut.join(', ')} did not pass health checks and stay out of the load balancer; fix them, then \`ship restore\`` },
        });
      }
    }
    // Losing the deploy lock (broken by someone) stops new batches like a first Ctrl-C.
    const graceful = AbortSignal.any([options.signals.graceful, journal.lost]);
    const result = await runRollout({ targets, playbook, lb, bus, settings, signals: { graceful, hard: options.signals.hard }, restoreCommand: options.restoreCommand, fleet, record: journal.record });
    if (journal.lost.aborted && !options.signals.graceful.aborted) {
      return await finish({ status: 'failed', summary: { ...result.summary, error: (journal.lost.reason as Error).message } });
    }
    return await finish(result);
  } catch (error) {
    if (!(error instanceof PreflightRefused)) throw error;
    return await finish({ status: 'refused', summary: { hosts: [], outOfRotation: [], error: error.message, ...codeOf(error) } });
  } finally {
    await Promise.allSettled([...transports.values()].map((t) => t.close()));
    await lb.close().catch(() => undefined);
    await journal.close().catch(() => undefined);
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
