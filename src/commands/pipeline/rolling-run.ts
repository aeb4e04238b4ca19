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
import { describeSource } from '../../config/secrets.js';
import type { loadBalancerFor as LoadBalancerFor } from '../../lb/from-config.js';
import { LoadBalancerError, type LoadBalancer } from '../../lb/load-balancer.js';
import { PreflightRefused, runPreflight } from '../../preflight/preflight.js';
import { capacityRefusal } from '../../rollout/rollout.js';
import { runOnceLabel } from '../../playbook/run-once.js';
import { preflightChecks } from './preflight-checks.js';
import type { ResumeRecord } from './resume-record.js';
import type { RunJournal } from './run-journal.js';
import { appliesMigrations, type RunOptions, type RunResult } from './run-options.js';
import { resolveTargets, type ResolvedTargets } from './targets.js';

export type { RunOptions, RunResult } from './run-options.js';

function announce(options: RunOptions, resolved: ResolvedTargets): void {
  const { bus, loaded } = options;
  const { targets, hosts, playbook, plan } = resolved;
  bus.emit({
    type: 'run.started',
    command: options.command,
    app: loaded.config.app,
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
function resumeRecordFor(options: RunOptions, resolved: ResolvedTargets): ResumeRecord {
  // A resumption records the hosts it was left to roll, so resuming it in turn does not redo the first run's.
  const hosts = options.resume ? resolved.targets.map((t) => t.name) : options.hosts;
  return {
    playbook: resolved.playbookRef,
    command: options.command,
    ...(options.version ? { version: options.version } : {}),
    ...(options.artifact ? { artifact: resolvePath(process.cwd(), options.artifact) } : {}),
    ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
    ...(hosts ? { hosts } : {}),
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

export async function rollingRun(options: RunOptions): Promise<RunResult> {
  const { loaded, bus } = options;
  const started = performance.now();
  const resolved = await resolveTargets(options);
  const { targets, fleet, playbook, plan, settings } = resolved;
  announce(options, resolved);
  const refusal = options.work.kind === 'restore' ? undefined : capacityRefusal(fleet.length, plan.floor, plan.breaching, plan.reloadInPlace);

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
    return finish({ status: 'planned', summary: { hosts: [], outOfRotation: [], ...(refusal ? { error: refusal } : {}) } });
  }

  // What runs from here on is loaded now, not with the command: the plan is out first. The rollout
  // itself (execute) keeps loading while the pre-flight waits on the hosts and the load balancer.
  const executing = import('./execute.js');
  executing.catch(() => undefined);
  let lb: LoadBalancer | undefined;
  try {
    const [{ RunJournal }, { loadBalancerFor }] = await Promise.all([import('./run-journal.js'), import('../../lb/from-config.js')]);
    lb = await openLoadBalancer(options, resolved, loadBalancerFor);
    journal = await RunJournal.open(loaded, bus, {
      command: options.resume ? `resume ${options.resume.from.run.runId}` : options.command,
      ...(options.version ? { version: options.version } : {}),
      hosts: targets.map((t) => t.name),
      resume: resumeRecordFor(options, resolved),
      lockWaitMs: options.lockWaitMs ?? 0,
      // Ctrl-C ends a wait for the lock; without a wait the run starts on the record first, so its ending is journaled.
      ...(options.lockWaitMs ? { signal: options.signals.graceful } : {}),
      ...(options.resume || options.continues ? { takeOverFrom: options.resume?.from.run.runId ?? options.continues! } : {}),
    });
    const largestBatch = Math.max(1, ...plan.batches.map((b) => b.hosts.length));
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
        ...preflightChecks(targets, fleet, playbook, lb, refusal, settings.drainTimeoutMs, loaded).filter(
          (check) => !restoring || check.name === 'connectivity' || check.name === 'load balancer',
        ),
        ...(restoring || !resolved.analysis.settings ? [] : [resolved.analysis.check(lb)]),
        ...(options.checks ?? []),
        ...(database?.checks ?? []),
      ],
      bus,
      { all: options.checkOnly ?? false },
    );
    if (options.checkOnly) return await finish({ status: 'checked', summary: { hosts: [], outOfRotation: [] } });
    changing = true;
    const schema = database && appliesMigrations(options) ? (await import('./schema-wiring.js')).schemaStagesFor(options, resolved, journal, database) : undefined;
    const { execute } = await executing;
    return await finish(await execute(options, resolved, lb, journal, schema));
  } catch (error) {
    if (error instanceof PreflightRefused) return await finish({ status: 'refused', summary: { hosts: [], outOfRotation: [], error: error.message, ...codeOf(error) } });
    // Whatever else ended the run still ends it on the record, then goes to the CLI for its exit code.
    const summary: RunSummary = { hosts: [], outOfRotation: [], error: (error as Error).message ?? String(error), ...codeOf(error) };
    await finish({ status: changing ? 'failed' : 'refused', summary });
    throw error;
  } finally {
    await Promise.allSettled(targets.map((t) => t.transport.close()));
    await lb?.close().catch(() => undefined);
    await resolved.analysis.close();
    await journal?.close().catch(() => undefined);
  }
}
