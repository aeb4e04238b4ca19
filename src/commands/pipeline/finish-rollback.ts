/**
 * `ship resume` of a run stopped while it was going back (a failed bake, onFailure 'rollback'):
 * the hosts its journal still has as 'started' go back to the release they ran before, with the
 * facts recorded when the rollback was decided, batch by batch, through the same procedure.
 * Nothing is rolled forward. The run stays a failed deploy: it only ends where the failure led.
 */
import type { HostSummary } from '../../events.js';
import type { LoadBalancer } from '../../lb/load-balancer.js';
import { planBatches } from '../../rollout/plan.js';
import { revertBatches } from '../../rollout/revert.js';
import { InstanceTracker } from '../../rollout/tracker.js';
import type { RollbackLeft } from './reconcile.js';
import type { RunJournal } from './run-journal.js';
import type { RunOptions, RunResult } from './run-options.js';
import type { ResolvedTargets } from './targets.js';

export async function finishRollback(options: RunOptions, resolved: ResolvedTargets, lb: LoadBalancer, journal: RunJournal, left: RollbackLeft[]): Promise<RunResult> {
  const { bus, signals } = options;
  const from = options.resume!.from;
  const gone = left.filter((l) => !resolved.targets.some((t) => t.name === l.host)).map((l) => l.host);
  const targets = resolved.targets.filter((t) => left.some((l) => l.host === t.name));
  for (const target of targets) target.ctx.facts = { ...left.find((l) => l.host === target.name)!.facts };
  const tracker = new InstanceTracker(
    bus,
    journal.record,
    left.map((l) => [l.host, l.state]),
  );
  const reverted = await revertBatches({
    batches: planBatches(targets, resolved.settings.batchSize, false).map((batch) => batch.hosts),
    reason: `resume: finishing the rollback of run ${from.run.runId}`,
    playbook: resolved.playbook,
    lb,
    tracker,
    bus,
    settings: resolved.settings,
    signals: { graceful: AbortSignal.any([signals.graceful, journal.lost]), hard: signals.hard },
    fleet: resolved.fleet,
    floor: resolved.plan.floor,
    recordStage: journal.recordStage,
  });
  const hosts: HostSummary[] = reverted.hosts;
  const outOfRotation = tracker.outOfRotation();
  if (gone.length > 0 || !reverted.complete) {
    const missing = gone.length ? `; no longer in the inventory, check by hand: ${gone.join(', ')}` : '';
    return {
      status: signals.graceful.aborted ? 'interrupted' : 'failed',
      summary: { hosts, outOfRotation, error: `${reverted.error ?? 'the rollback did not finish'}${missing}`, ...reverted.coded },
    };
  }
  const code = from.outcome?.summary.code ? { code: from.outcome.summary.code, ...(from.outcome.summary.runbook ? { runbook: from.outcome.summary.runbook } : {}) } : {};
  return {
    status: 'failed',
    summary: {
      hosts,
      outOfRotation,
      error: `the rollback of run ${from.run.runId} is finished: ${hosts.map((h) => h.host).join(', ')} back on the release they ran before; that deploy did not succeed`,
      ...code,
    },
  };
}
