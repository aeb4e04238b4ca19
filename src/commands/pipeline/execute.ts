/**
 * The stage of a run that changes things, once the pre-flight passed: a resumed run first
 * reconciles the instances its predecessor left mid-way, then the batches roll; a restore only
 * reconciles the instances it was given.
 */
import type { LoadBalancer } from '../../lb/load-balancer.js';
import { runRollout } from '../../rollout/rollout.js';
import { InstanceTracker } from '../../rollout/tracker.js';
import { reconcileInFlight } from './reconcile.js';
import type { RunJournal } from './run-journal.js';
import type { RunOptions, RunResult } from './run-options.js';
import type { ResolvedTargets } from './targets.js';

export async function execute(options: RunOptions, resolved: ResolvedTargets, lb: LoadBalancer, journal: RunJournal): Promise<RunResult> {
  if (options.work.kind === 'restore') return restoreInstances(options, resolved, lb, journal);
  const { bus, signals } = options;
  const { targets, settings, fleet, playbook } = resolved;
  const inFlight = options.resume?.plan.inFlight ?? [];
  if (inFlight.length > 0) {
    const tracker = new InstanceTracker(bus, journal.record, inFlight.map(({ host, state }) => [host, state]));
    const leftOut = await reconcileInFlight(targets, inFlight, lb, tracker, bus, settings.healthyTimeoutMs);
    await tracker.flush();
    if (leftOut.length > 0) {
      return {
        status: 'failed',
        summary: { hosts: [], outOfRotation: leftOut, error: `resume: ${leftOut.join(', ')} did not pass health checks and stay out of the load balancer; fix them, then \`ship restore\`` },
      };
    }
  }
  // Losing the deploy lock (broken by someone) stops new batches like a first Ctrl-C.
  const graceful = AbortSignal.any([signals.graceful, journal.lost]);
  const result = await runRollout({ targets, playbook, lb, bus, settings, signals: { graceful, hard: signals.hard }, restoreCommand: options.restoreCommand, fleet, record: journal.record });
  if (journal.lost.aborted && !signals.graceful.aborted) return { status: 'failed', summary: { ...result.summary, error: (journal.lost.reason as Error).message } };
  return result;
}

/** `ship restore`: every named instance is health-checked and put back once it passes; the others stay out and are named. */
async function restoreInstances(options: RunOptions, resolved: ResolvedTargets, lb: LoadBalancer, journal: RunJournal): Promise<RunResult> {
  const { bus } = options;
  const { targets, settings } = resolved;
  const out = targets.map((t) => ({ host: t.name, state: 'out' as const }));
  const tracker = new InstanceTracker(bus, journal.record, out.map(({ host, state }) => [host, state]));
  const leftOut = await reconcileInFlight(targets, out, lb, tracker, bus, settings.healthyTimeoutMs);
  await tracker.flush();
  const hosts = targets.map((t) => ({
    host: t.name,
    outcome: leftOut.includes(t.name) ? ('failed-out' as const) : ('put-back' as const),
    outOfRotationMs: 0,
    timeToHealthyMs: 0,
  }));
  if (leftOut.length === 0) return { status: 'succeeded', summary: { hosts, outOfRotation: [] } };
  return {
    status: 'failed',
    summary: { hosts, outOfRotation: leftOut, error: `restore: ${leftOut.join(', ')} did not pass health checks and stay out of the load balancer; fix them, then run restore again` },
  };
}
