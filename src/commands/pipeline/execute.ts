/**
 * The stage of a run that changes things, once the pre-flight passed: a resumed run first
 * reconciles the instances its predecessor left mid-way, then the batches roll; a restore only
 * reconciles the instances it was given.
 */
import type { LoadBalancer } from '../../lb/load-balancer.js';
import { runRollout } from '../../rollout/rollout.js';
import { InstanceTracker } from '../../rollout/tracker.js';
import type { RunSummary } from '../../events.js';
import { codeOf as errorCodeOf } from '../../errors/coded.js';
import { runOnceStage } from './once-stages.js';
import type { SchemaStages, StageOutcome } from './schema-stages.js';
import { finishRollback } from './finish-rollback.js';
import { reconcileInFlight, type LeftOut, type ResumePlan } from './reconcile.js';
import type { RunJournal } from './run-journal.js';
import type { RunOptions, RunResult } from './run-options.js';
import type { ResolvedTargets } from './targets.js';

export async function execute(options: RunOptions, resolved: ResolvedTargets, lb: LoadBalancer, journal: RunJournal, schema?: SchemaStages): Promise<RunResult> {
  if (options.work.kind === 'restore') return restoreInstances(options, resolved, lb, journal);
  const { bus, signals } = options;
  const { targets, settings, fleet, playbook } = resolved;
  const rollback = options.resume?.plan.rollback;
  if (rollback) return finishRollback(options, resolved, lb, journal, rollback);
  const inFlight = options.resume?.plan.inFlight ?? [];
  if (inFlight.length > 0) {
    const leftOut = await reconcile(options, resolved, lb, journal, inFlight);
    if (leftOut.length > 0) return { status: 'failed', summary: { hosts: [], ...leftOutSummary('resume', leftOut, 'then `ship restore`') } };
  }
  // Losing the deploy lock (broken by someone) stops new batches like a first Ctrl-C.
  const graceful = AbortSignal.any([signals.graceful, journal.lost]);
  const beforeOnce = await runOnceStage(options, resolved, journal, 'beforeRollout');
  if (!beforeOnce.ok)
    return stoppedBefore(
      beforeOnce,
      schema,
      targets.map((t) => t.name),
    );
  if (schema) {
    const before = await schema.beforeRollout();
    if (!before.ok)
      return stoppedBefore(
        before,
        schema,
        targets.map((t) => t.name),
      );
  }
  const result = await runRollout({
    targets,
    playbook,
    lb,
    bus,
    settings,
    signals: { graceful, hard: signals.hard },
    restoreCommand: options.restoreCommand,
    fleet,
    record: journal.record,
    recordStage: journal.recordStage,
    analysis: resolved.analysis.sources(lb),
  });
  if (journal.lost.aborted && !signals.graceful.aborted)
    return withMigrations({ status: 'failed', summary: { ...result.summary, error: (journal.lost.reason as Error).message } }, schema);
  if (result.status !== 'succeeded') return withMigrations(result, schema);
  for (const stage of [() => runOnceStage(options, resolved, journal, 'afterRollout'), () => schema?.afterRollout() ?? { ok: true as const }]) {
    const after = await stage();
    if (!after.ok) return withMigrations({ status: after.status, summary: { ...result.summary, error: after.error.message, ...errorCodeOf(after.error) } }, schema);
  }
  return withMigrations(result, schema);
}

/** The summary names the migrations the run applied and those it left pending. */
function withMigrations(result: RunResult, schema: SchemaStages | undefined): RunResult {
  if (!schema || (schema.applied.length === 0 && schema.pendingContract.length === 0)) return result;
  return { ...result, summary: { ...result.summary, migrations: { applied: [...schema.applied], pending: schema.pendingContract } } };
}

/** A stage before the rollout stopped the run before any instance left the load balancer. */
function stoppedBefore(outcome: Extract<StageOutcome, { ok: false }>, schema: SchemaStages | undefined, hosts: string[]): RunResult {
  const summary: RunSummary = {
    hosts: hosts.map((host) => ({ host, outcome: 'not-started', outOfRotationMs: 0, timeToHealthyMs: 0 })),
    outOfRotation: [],
    error: `${outcome.error.message}\nno instance left the load balancer`,
    ...errorCodeOf(outcome.error),
  };
  return withMigrations({ status: outcome.status, summary }, schema);
}

/** `ship restore`: every named instance is health-checked and put back once it passes; the others stay out and are named. */
async function restoreInstances(options: RunOptions, resolved: ResolvedTargets, lb: LoadBalancer, journal: RunJournal): Promise<RunResult> {
  const { targets } = resolved;
  const leftOut = await reconcile(
    options,
    resolved,
    lb,
    journal,
    targets.map((t) => ({ host: t.name, state: 'out' as const })),
  );
  const hosts = targets.map((t) => {
    const left = leftOut.find((l) => l.host === t.name);
    if (!left) return { host: t.name, outcome: 'put-back' as const, outOfRotationMs: 0, timeToHealthyMs: 0 };
    return { host: t.name, outcome: 'failed-out' as const, outOfRotationMs: 0, timeToHealthyMs: 0, error: left.error, ...codeOf(left) };
  });
  if (leftOut.length === 0) return { status: 'succeeded', summary: { hosts, outOfRotation: [] } };
  return { status: 'failed', summary: { hosts, ...leftOutSummary('restore', leftOut, 'then run restore again') } };
}

/** Health-checks the instances and puts back those that pass, each transition journaled; returns those left out. */
async function reconcile(options: RunOptions, resolved: ResolvedTargets, lb: LoadBalancer, journal: RunJournal, instances: ResumePlan['inFlight']): Promise<LeftOut[]> {
  const tracker = new InstanceTracker(
    options.bus,
    journal.record,
    instances.map(({ host, state }) => [host, state]),
  );
  const leftOut = await reconcileInFlight(resolved.targets, instances, lb, tracker, options.bus, resolved.settings.healthyTimeoutMs);
  await tracker.flush();
  return leftOut;
}

/** What a run that left instances out says, with the code of the first one that has one (for its notification). */
function leftOutSummary(what: string, leftOut: LeftOut[], next: string): Pick<RunSummary, 'outOfRotation' | 'error' | 'code' | 'runbook'> {
  const names = leftOut.map((l) => l.host);
  const coded = leftOut.find((l) => l.code);
  return {
    outOfRotation: names,
    error: `${what}: ${names.join(', ')} did not pass health checks and stay out of the load balancer; fix them, ${next}`,
    ...(coded ? codeOf(coded) : {}),
  };
}

function codeOf(left: LeftOut): { code?: string; runbook?: string } {
  return { ...(left.code ? { code: left.code } : {}), ...(left.runbook ? { runbook: left.runbook } : {}) };
}
