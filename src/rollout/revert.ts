/**
 * Going back: the batch a bake failed, or (with `onFailure: 'rollback'`) every instance the run
 * moved, in reverse order, batch by batch, each batch through the capacity check, then drain,
 * the playbook's rollback phase, health, put back (revertInstance). Each host's rollback is
 * journalled as a stage record when it is decided, with the facts its rollback phase needs (the
 * release it ran before), so `ship resume` can finish a rollback that was interrupted.
 */
import type { EventBus, HostSummary } from '../events.js';
import type { StageRecord } from '../journal/state-store.js';
import type { LoadBalancer } from '../lb/load-balancer.js';
import type { Playbook } from '../playbook/define.js';
import { codeFor, codeOf, type Coded } from '../errors/coded.js';
import { ERROR_CODES } from '../errors/codes.js';
import { waitForCapacity, type CapacitySettings } from './capacity.js';
import { revertInstance, type InstanceSettings, type InstanceSignals, type Target } from './instance.js';
import type { InstanceTracker } from './tracker.js';

/** Durable write of one stage record; resolves once it is on disk or committed. */
export type StageRecorder = (stage: Omit<StageRecord, 'runId' | 'at'>) => Promise<void>;

export interface RevertInput {
  /** In the order they go back: the last batch rolled first. */
  batches: Target[][];
  /** Why, for the journal, the events and each host's summary. */
  reason: string;
  playbook: Playbook;
  lb: LoadBalancer;
  tracker: InstanceTracker;
  bus: EventBus;
  settings: InstanceSettings & CapacitySettings;
  signals: InstanceSignals;
  /** Load-balancer names of the whole fleet, and how many must stay healthy in service. */
  fleet: string[];
  floor: number;
  recordStage?: StageRecorder;
}

export interface RevertResult {
  hosts: HostSummary[];
  /** Every host is back on the release it ran before and in service. */
  complete: boolean;
  /** Why not, naming the hosts still on the new release. */
  error?: string;
  coded: Coded;
}

/** The release a host goes back to, when its playbook remembered it (deploy-release's `previousRelease` fact). */
export function previousRelease(target: Pick<Target, 'ctx'>): string | undefined {
  const remembered = target.ctx.facts.previousRelease?.replace(/\/+$/, '');
  return remembered ? remembered.slice(remembered.lastIndexOf('/') + 1) : undefined;
}

export async function revertBatches(input: RevertInput): Promise<RevertResult> {
  const { batches, bus, tracker, signals } = input;
  const started = performance.now();
  const all = batches.flat();
  const hosts: HostSummary[] = [];
  const record = async (stage: Omit<StageRecord, 'runId' | 'at'>) => {
    try {
      await input.recordStage?.(stage);
    } catch (error) {
      tracker.journalError ??= `the journal could not be written (${(error as Error).message}); no further instance is taken out`;
    }
  };
  bus.emit({ type: 'rollback.started', reason: input.reason, batches: batches.map((b) => b.map((t) => t.name)) });
  // Decided for every host at once, before the first leaves, so an interruption leaves the whole plan in the journal.
  for (const target of all) {
    const release = previousRelease(target);
    await record({ stage: 'rollback', name: target.name, status: 'started', detail: input.reason, facts: { ...target.ctx.facts }, ...(release ? { version: release } : {}) });
  }
  let stopped: { error: string; coded: Coded } | undefined;
  for (const batch of batches) {
    if (tracker.journalError) stopped = { error: tracker.journalError, coded: codeFor(ERROR_CODES.stateStoreUnusable) };
    else if (signals.graceful.aborted) stopped = { error: 'interrupted', coded: codeFor(ERROR_CODES.interrupted) };
    if (stopped) break;
    try {
      await waitForCapacity(
        input.lb,
        input.fleet,
        batch.map((t) => t.lbName),
        input.floor,
        input.settings,
        bus,
        signals,
      );
    } catch (error) {
      stopped = { error: (error as Error).message, coded: codeOf(error) };
      break;
    }
    const done = await Promise.all(batch.map((target) => revertInstance(target, input.playbook, input.lb, tracker, bus, input.settings, signals, input.reason)));
    for (const [i, summary] of done.entries()) {
      const target = batch[i]!;
      const release = previousRelease(target);
      const back = summary.outcome === 'rolled-back';
      hosts.push({ ...summary, ...(back && release ? { release } : {}) });
      await record({
        stage: 'rollback',
        name: target.name,
        status: back ? 'done' : 'failed',
        ...(back ? {} : { detail: summary.error ?? summary.outcome }),
        ...(release ? { version: release } : {}),
      });
    }
  }
  await tracker.flush();
  const left = all.filter((t) => !hosts.some((h) => h.host === t.name && h.outcome === 'rolled-back')).map((t) => t.name);
  bus.emit({
    type: 'rollback.finished',
    durationMs: performance.now() - started,
    complete: left.length === 0,
    hosts: hosts.map((h) => ({ host: h.host, outcome: h.outcome, ...(h.release ? { release: h.release } : {}) })),
  });
  if (left.length === 0) return { hosts, complete: true, coded: {} };
  const failed = hosts.find((h) => h.outcome !== 'rolled-back');
  const why = stopped?.error ?? failed?.error ?? 'stopped';
  return {
    hosts,
    complete: false,
    error: `the rollback did not finish (${why}); not back on the release they ran before: ${left.join(', ')}; \`ship resume\` finishes it`,
    coded: codeFor(ERROR_CODES.fleetRollbackIncomplete),
  };
}
