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
import { runOnceStages } from './once-stages.js';
import type { SchemaStages, StageOutcome } from './schema-stages.js';
import { finishRollback } from './finish-rollback.js';
import { reconcileInFlight, type LeftOut, type ResumePlan } from './reconcile.js';
import type { RunJournal } from './run-journal.js';
import type { RunOptions, RunResult } from './run-options.js';
import { allTargets, type RunUnit } from './units.js';

/** A role of the run with its load balancer open. */
export interface OpenUnit extends RunUnit {
  lb: LoadBalancer;
}

export async function execute(options: RunOptions, units: readonly OpenUnit[], journal: RunJournal, schema?: SchemaStages): Promise<RunResult> {
  if (options.work.kind === 'restore') return merged(await eachInTurn(units, (unit) => restoreInstances(unit, journal)));
  const { signals } = options;
  const rollback = options.resume?.plan.rollback;
  if (rollback) {
    // Each host goes back with its role; one no role has any more goes to the first role, whose
    // finishRollback names it as gone from the inventory.
    const ownerOf = (host: string) => units.find((unit) => ownHost(unit, host)) ?? units[0]!;
    const going = units.filter((unit) => rollback.some((l) => ownerOf(l.host) === unit));
    return merged(
      await eachInTurn(going, (unit) =>
        finishRollback(
          unit.options,
          unit.resolved,
          unit.lb,
          journal,
          rollback.filter((l) => ownerOf(l.host) === unit),
        ),
      ),
    );
  }
  const inFlight = options.resume?.plan.inFlight ?? [];
  if (inFlight.length > 0) {
    const leftOut = (
      await Promise.all(
        units.map((unit) =>
          reconcile(
            unit,
            journal,
            inFlight.filter((i) => ownHost(unit, i.host)),
          ),
        ),
      )
    ).flat();
    if (leftOut.length > 0) return { status: 'failed', summary: { hosts: [], ...leftOutSummary('resume', leftOut, 'then `ship restore`') } };
  }
  const hosts = allTargets(units).map((t) => t.name);
  // Losing the deploy lock (broken by someone) stops new batches like a first Ctrl-C.
  const graceful = AbortSignal.any([signals.graceful, journal.lost]);
  const beforeOnce = await runOnceStages(units, journal, 'beforeRollout');
  if (!beforeOnce.ok) return stoppedBefore(beforeOnce, schema, hosts);
  if (schema) {
    const before = await schema.beforeRollout();
    if (!before.ok) return stoppedBefore(before, schema, hosts);
  }
  const rolled: RunResult[] = [];
  for (const unit of units) {
    const { resolved } = unit;
    const result = await runRollout({
      targets: resolved.targets,
      playbook: resolved.playbook,
      lb: unit.lb,
      bus: options.bus,
      settings: resolved.settings,
      signals: { graceful, hard: signals.hard },
      restoreCommand: options.restoreCommand,
      fleet: resolved.fleet,
      record: journal.record,
      recordStage: journal.recordStage,
      analysis: resolved.analysis.sources(unit.lb),
      ...(unit.role === undefined ? {} : { role: unit.role }),
    });
    rolled.push(unit.role === undefined || result.status === 'succeeded' ? result : withRoleError(unit, result));
    if (result.status !== 'succeeded') break;
  }
  // A role that failed stops the roles after it: they are reported not started.
  const result = merged([...rolled, ...units.slice(rolled.length).map(notStarted)]);
  if (journal.lost.aborted && !signals.graceful.aborted)
    return withMigrations({ status: 'failed', summary: { ...result.summary, error: (journal.lost.reason as Error).message } }, schema);
  if (result.status !== 'succeeded') return withMigrations(result, schema);
  for (const stage of [() => runOnceStages(units, journal, 'afterRollout'), () => schema?.afterRollout() ?? { ok: true as const }]) {
    const after = await stage();
    if (!after.ok) return withMigrations({ status: after.status, summary: { ...result.summary, error: after.error.message, ...errorCodeOf(after.error) } }, schema);
  }
  return withMigrations(result, schema);
}

function ownHost(unit: RunUnit, host: string): boolean {
  return unit.resolved.inventory.some((h) => h.name === host);
}

/** Each role in rollout order, one after the other. */
async function eachInTurn(units: readonly OpenUnit[], step: (unit: OpenUnit) => Promise<RunResult>): Promise<RunResult[]> {
  const results: RunResult[] = [];
  for (const unit of units) results.push(await step(unit));
  return results;
}

/** One run's result from its roles': the worst status, every host, the first error (the one that stopped the run). */
function merged(results: RunResult[]): RunResult {
  if (results.length === 1) return results[0]!;
  const worst = results.find((r) => r.status !== 'succeeded') ?? results[0]!;
  const failing = results.find((r) => r.summary.error !== undefined);
  const summaries = results.map((r) => r.summary);
  const lbWait = summaries.find((s) => s.loadBalancerWait)?.loadBalancerWait;
  const analysis = [...summaries].reverse().find((s) => s.analysis)?.analysis;
  return {
    status: worst.status,
    summary: {
      hosts: summaries.flatMap((s) => s.hosts),
      outOfRotation: summaries.flatMap((s) => s.outOfRotation),
      ...(analysis ? { analysis } : {}),
      ...(lbWait ? { loadBalancerWait: lbWait } : {}),
      ...(failing ? { error: failing.summary.error!, ...codeFields(failing.summary) } : {}),
    },
  };
}

function codeFields(summary: RunSummary): Pick<RunSummary, 'code' | 'runbook'> {
  return { ...(summary.code ? { code: summary.code } : {}), ...(summary.runbook ? { runbook: summary.runbook } : {}) };
}

/** The error of a role's rollout says which role stopped the run. */
function withRoleError(unit: RunUnit, result: RunResult): RunResult {
  if (result.summary.error === undefined) return result;
  return { ...result, summary: { ...result.summary, error: `role ${unit.role}: ${result.summary.error}` } };
}

/** A role after the one that failed: none of its hosts was touched. */
function notStarted(unit: RunUnit): RunResult {
  return {
    status: 'succeeded',
    summary: { hosts: unit.resolved.targets.map((t) => ({ host: t.name, outcome: 'not-started', outOfRotationMs: 0, timeToHealthyMs: 0 })), outOfRotation: [] },
  };
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
async function restoreInstances(unit: OpenUnit, journal: RunJournal): Promise<RunResult> {
  const { targets } = unit.resolved;
  const leftOut = await reconcile(
    unit,
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
async function reconcile(unit: OpenUnit, journal: RunJournal, instances: ResumePlan['inFlight']): Promise<LeftOut[]> {
  if (instances.length === 0) return [];
  const { options, resolved } = unit;
  const tracker = new InstanceTracker(
    options.bus,
    journal.record,
    instances.map(({ host, state }) => [host, state]),
  );
  const leftOut = await reconcileInFlight(resolved.targets, instances, unit.lb, tracker, options.bus, resolved.settings.healthyTimeoutMs);
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
