/**
 * The stage of a run that changes things, once the pre-flight passed: a resumed run first
 * reconciles the instances its predecessor left mid-way, then the batches roll; a restore only
 * reconciles the instances it was given.
 */
import type { LoadBalancer } from '../../lb/load-balancer.js';
import { runRollout } from '../../rollout/rollout.js';
import { InstanceTracker } from '../../rollout/tracker.js';
import { reconcileInFlight, type LeftOut } from './reconcile.js';
import type { RunJournal } from './run-journal.js';
import type { RunOptions, RunResult } from './run-options.js';
import type { ResolvedTargets } from './targets.js';

export async function execute(options: RunOptions, resolved: ResolvedTargets, lb: LoadBalancer, journal: RunJournal): Promise<RunResult> {
  if (options.work.kind === 'restore') return restoreInstances(options, resolved, lb, journal);
  const { bus, signals } = options;
  const { targets, settings, fleet, playbook } = resolved;
  const inFlight = options.resume?.plan.inFlight ?? [];
  if (inFlight.length > 0) {
    const tracker = new InstanceTracker(
      bus,
      journal.record,
      inFlight.map(({ host, state }) => [host, state]),
    );
    const leftOut = await reconcileInFlight(targets, inFlight, lb, tracker, bus, settings.healthyTimeoutMs);
    await tracker.flush();
    if (leftOut.length > 0) {
      const names = leftOut.map((l) => l.host);
      return {
        status: 'failed',
        summary: {
          hosts: [],
          outOfRotation: names,
          error: `resume: ${names.join(', ')} did not pass health checks and stay out of the load balancer; fix them, then \`ship restore\``,
          ...firstCode(leftOut),
        },
      };
    }
  }
  // Losing the deploy lock (broken by someone) stops new batches like a first Ctrl-C.
  const graceful = AbortSignal.any([signals.graceful, journal.lost]);
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
  });
  if (journal.lost.aborted && !signals.graceful.aborted) return { status: 'failed', summary: { ...result.summary, error: (journal.lost.reason as Error).message } };
  return result;
}

/** `ship restore`: every named instance is health-checked and put back once it passes; the others stay out and are named. */
async function restoreInstances(options: RunOptions, resolved: ResolvedTargets, lb: LoadBalancer, journal: RunJournal): Promise<RunResult> {
  const { bus } = options;
  const { targets, settings } = resolved;
  const out = targets.map((t) => ({ host: t.name, state: 'out' as const }));
  const tracker = new InstanceTracker(
    bus,
    journal.record,
    out.map(({ host, state }) => [host, state]),
  );
  const leftOut = await reconcileInFlight(targets, out, lb, tracker, bus, settings.healthyTimeoutMs);
  await tracker.flush();
  const hosts = targets.map((t) => {
    const left = leftOut.find((l) => l.host === t.name);
    return left
      ? {
          host: t.name,
          outcome: 'failed-out' as const,
          outOfRotationMs: 0,
          timeToHealthyMs: 0,
          error: left.error,
          ...(left.code ? { code: left.code } : {}),
          ...(left.runbook ? { runbook: left.runbook } : {}),
        }
      : { host: t.name, outcome: 'put-back' as const, outOfRotationMs: 0, timeToHealthyMs: 0 };
  });
  if (leftOut.length === 0) return { status: 'succeeded', summary: { hosts, outOfRotation: [] } };
  const names = leftOut.map((l) => l.host);
  return {
    status: 'failed',
    summary: {
      hosts,
      outOfRotation: names,
      error: `restore: ${names.join(', ')} did not pass health checks and stay out of the load balancer; fix them, then run restore again`,
      ...firstCode(leftOut),
    },
  };
}

/** The code of the first host left out that has one: what the run's failure (and its notification) carries. */
function firstCode(leftOut: LeftOut[]): { code?: string; runbook?: string } {
  const coded = leftOut.find((l) => l.code);
  return coded?.code ? { code: coded.code, ...(coded.runbook ? { runbook: coded.runbook } : {}) } : {};
}
