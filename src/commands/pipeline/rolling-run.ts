/**
 * The one pipeline every command that moves instances goes through (deploy, rollback, patch,
 * run, resume, restore; plan and check stop early): resolve the targets, announce the plan, open
 * the run (load balancer, journal), pre-flight (the lock first), execute, finish. Each stage is a
 * small function of its own; this file only orders them and guarantees the ending: once a run
 * has been announced it always ends with one `run.finished` and, once the journal is open, with
 * its outcome written and the lock given back, whatever throws.
 */
import type { RunSummary } from '../../events.js';
import { codeOf } from '../../errors/coded.js';
import { ConfigError } from '../../config/errors.js';
import { resolvePath } from '../../config/load.js';
import { describeSource } from '../../config/secret-ref.js';
import type { loadBalancerFor as LoadBalancerFor } from '../../lb/from-config.js';
import { LoadBalancerError, type LoadBalancer } from '../../lb/load-balancer.js';
import { PreflightRefused, runPreflight } from '../../preflight/preflight.js';
import { capacityRefusal } from '../../rollout/rollout.js';
import { runOnceLabel } from '../../playbook/run-once.js';
import { preflightChecks } from './preflight-checks.js';
import type { OpenUnit } from './execute.js';
import type { ResumeRecord } from './resume-record.js';
import type { RunJournal } from './run-journal.js';
import { appliesMigrations, type RunOptions, type RunResult } from './run-options.js';
import type { ResolvedTargets } from './targets.js';
import { allTargets, resolveUnits, rolePrefix, type RunUnit } from './units.js';

export type { RunOptions, RunResult } from './run-options.js';

function announce(options: RunOptions, units: readonly RunUnit[]): void {
  const { bus, loaded } = options;
  const targets = allTargets(units);
  const withRoles = units[0]!.role !== undefined;
  bus.emit({
    type: 'run.started',
    command: options.command,
    app: loaded.config.app,
    ...(options.version ? { version: options.version } : {}),
    hosts: targets.map((t) => t.name),
    sources: Object.fromEntries(units.flatMap((unit) => unit.resolved.hosts.map((h) => [h.name, h.source]))),
    batches: units.flatMap((unit) => unit.resolved.plan.batches.map((b) => b.hosts.map((t) => t.name))),
    dryRun: options.dryRun ?? false,
    ...(withRoles ? { roles: Object.fromEntries(units.map((unit) => [unit.role!, unit.resolved.targets.map((t) => t.name)])) } : {}),
  });
  for (const unit of units) announcePlan(unit);
}

function announcePlan({ role, options, resolved }: RunUnit): void {
  const { playbook, plan } = resolved;
  options.bus.emit({
    type: 'plan',
    ...(role === undefined ? {} : { role }),
    playbook: playbook.name,
    batches: plan.batches.map((b) => ({ hosts: b.hosts.map((t) => t.name), canary: b.canary })),
    phases: {
      beforeRollout: (playbook.beforeRollout?.steps ?? []).map((s) => `${s.name} (${runOnceLabel(playbook.beforeRollout?.on)})`),
      stage: playbook.stage.map((s) => s.name),
      activate: playbook.activate.map((s) => s.name),
      verify: playbook.verify.map((s) => s.name),
      rollback: playbook.rollback.map((s) => s.name),
      afterRollout: (playbook.afterRollout?.steps ?? []).map((s) => `${s.name} (${runOnceLabel(playbook.afterRollout?.on)})`),
    },
    minHealthy: plan.floor,
    reloadInPlace: plan.reloadInPlace,
    ...containerPlan(options),
    ...(resolved.settings.bakeMs ? { bake: { durationMs: resolved.settings.bakeMs, analysis: resolved.analysis.lines, onFailure: resolved.settings.onFailure ?? 'stop' } } : {}),
  });
}

/** The container and the secrets' names (never values) for the plan. */
function containerPlan(options: RunOptions) {
  const { container, secrets } = options.loaded.config;
  const names = Object.entries(secrets).map(([name, source]) => `${name} (${describeSource(source)})`);
  return {
    ...(container
      ? {
          container: {
            image: `${container.image}:${options.version ?? '<version>'}`,
            name: container.name,
            engine: container.engine ?? 'detected on each host',
            keep: container.keep,
            ...(container.registry ? { registry: container.registry.server } : {}),
          },
        }
      : {}),
    ...(names.length > 0 ? { secrets: names } : {}),
  };
}

/** What `ship resume` needs to continue this run, written with it. */
function resumeRecordFor(options: RunOptions, units: readonly RunUnit[]): ResumeRecord {
  // A resumption records the hosts it was left to roll, so resuming it in turn does not redo the first run's.
  const hosts = options.resume ? allTargets(units).map((t) => t.name) : options.hosts;
  return {
    playbook: units[0]!.resolved.playbookRef,
    command: options.command,
    ...(options.version ? { version: options.version } : {}),
    ...(options.artifact ? { artifact: resolvePath(process.cwd(), options.artifact) } : {}),
    ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
    ...(hosts ? { hosts } : {}),
    ...(options.roles ? { roles: options.roles } : {}),
    vars: options.vars ?? {},
    ...(options.database ? { database: options.database } : {}),
    ...(options.continues ? { continues: options.continues } : {}),
  };
}

async function openLoadBalancer(options: RunOptions, resolved: ResolvedTargets, loadBalancerFor: typeof LoadBalancerFor): Promise<LoadBalancer> {
  try {
    return await loadBalancerFor(options.loaded, resolved.hosts);
  } catch (error) {
    // The provider refuses what the config says (a target group in another region): the config's to fix.
    if (error instanceof LoadBalancerError) throw new ConfigError(options.loaded.file, [`loadBalancer: ${error.message}`]);
    throw error;
  }
}

/** Each role's capacity refusal (keyed by its resolved targets), said with its role. */
function capacityRefusals(options: RunOptions, units: readonly RunUnit[]): Map<ResolvedTargets, string> {
  const refusals = new Map<ResolvedTargets, string>();
  if (options.work.kind === 'restore') return refusals;
  for (const unit of units) {
    const { fleet, plan, settings } = unit.resolved;
    const refusal = capacityRefusal(fleet.length, plan.floor, plan.breaching, plan.reloadInPlace, settings.idleAllowed);
    if (refusal) refusals.set(unit.resolved, `${rolePrefix(unit)}${refusal}`);
  }
  return refusals;
}

export async function rollingRun(options: RunOptions): Promise<RunResult> {
  const { loaded, bus } = options;
  const started = performance.now();
  const units = await resolveUnits(options);
  const targets = allTargets(units);
  announce(options, units);
  const refusals = capacityRefusals(options, units);

  let journal: RunJournal | undefined;
  let changing = false;
  const finish = async (result: RunResult): Promise<RunResult> => {
    await journal?.finish(result.status, result.summary).catch((error: Error) => {
      bus.emit({ type: 'warning', message: `the run's outcome could not be written to the journal: ${error.message}` });
    });
    bus.emit({ type: 'run.finished', status: result.status, durationMs: performance.now() - started, summary: result.summary });
    return result;
  };
  if (options.dryRun) {
    if (loaded.config.database?.migrate && appliesMigrations(options)) await (await import('./schema-plan.js')).announceMigrationPlan(loaded, bus);
    const refusal = [...refusals.values()].join('\n');
    return finish({ status: 'planned', summary: { hosts: [], outOfRotation: [], ...(refusal ? { error: refusal } : {}) } });
  }

  // What runs from here on is loaded now, not with the command: the plan is out first. The rollout
  // itself (execute) keeps loading while the pre-flight waits on the hosts and the load balancer.
  const executing = import('./execute.js');
  executing.catch(() => undefined);
  const opened: OpenUnit[] = [];
  try {
    const [{ RunJournal }, { loadBalancerFor }] = await Promise.all([import('./run-journal.js'), import('../../lb/from-config.js')]);
    for (const unit of units) opened.push({ ...unit, lb: await openLoadBalancer(unit.options, unit.resolved, loadBalancerFor) });
    journal = await RunJournal.open(loaded, bus, {
      command: options.resume ? `resume ${options.resume.from.run.runId}` : options.command,
      ...(options.version ? { version: options.version } : {}),
      hosts: targets.map((t) => t.name),
      resume: resumeRecordFor(options, units),
      lockWaitMs: options.lockWaitMs ?? 0,
      // Ctrl-C ends a wait for the lock; without a wait the run starts on the record first, so its ending is journaled.
      ...(options.lockWaitMs ? { signal: options.signals.graceful } : {}),
      ...(options.resume || options.continues ? { takeOverFrom: options.resume?.from.run.runId ?? options.continues! } : {}),
    });
    const largestBatch = Math.max(1, ...units.flatMap((unit) => unit.resolved.plan.batches.map((b) => b.hosts.length)));
    const restoring = options.work.kind === 'restore';
    // The database pre-flight (pg, the PostgreSQL parser) is loaded only for configs that have a database.
    const database =
      loaded.config.database && !restoring
        ? (await import('../../preflight/database-checks.js')).databaseChecks({
            loaded,
            bus,
            instances: targets.length,
            batchSize: largestBatch,
            ...(options.database ? { run: options.database } : {}),
            migrating: appliesMigrations(options),
            lockTimeoutPreset: appliesMigrations(options) && loaded.config.database.migrate?.run === 'ship' && loaded.config.database.migrate.lockTimeout > 0,
          })
        : undefined;
    await runPreflight(
      [
        options.checkOnly ? journal.peekLockCheck() : journal.lockCheck(),
        // A restore only needs the hosts and the load balancer: it runs no playbook and bakes nothing.
        ...preflightChecks(opened, refusals).filter((check) => !restoring || check.name.startsWith('connectivity') || check.name.startsWith('load balancer')),
        ...(options.checks ?? []),
        ...(database?.checks ?? []),
      ],
      bus,
      { all: options.checkOnly ?? false },
    );
    if (options.checkOnly) return await finish({ status: 'checked', summary: { hosts: [], outOfRotation: [] } });
    changing = true;
    const schema = database && appliesMigrations(options) ? (await import('./schema-wiring.js')).schemaStagesFor(options, units, journal, database) : undefined;
    const { execute } = await executing;
    return await finish(await execute(options, opened, journal, schema));
  } catch (error) {
    if (error instanceof PreflightRefused) return await finish({ status: 'refused', summary: { hosts: [], outOfRotation: [], error: error.message, ...codeOf(error) } });
    // Whatever else ended the run still ends it on the record, then goes to the CLI for its exit code.
    const summary: RunSummary = { hosts: [], outOfRotation: [], error: (error as Error).message ?? String(error), ...codeOf(error) };
    await finish({ status: changing ? 'failed' : 'refused', summary });
    throw error;
  } finally {
    await Promise.allSettled(targets.map((t) => t.transport.close()));
    await Promise.allSettled(opened.map((unit) => unit.lb.close()));
    await Promise.allSettled(units.map((unit) => unit.resolved.analysis.close()));
    await journal?.close().catch(() => undefined);
  }
}
