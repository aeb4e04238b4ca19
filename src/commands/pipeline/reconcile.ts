import type { EventBus, InstanceState } from '../../events.js';
import { waitUntilHealthy } from '../../health/wait.js';
import type { JournalEntry } from '../../journal/state-store.js';
import type { LoadBalancer } from '../../lb/load-balancer.js';
import type { Target } from '../../rollout/instance.js';
import type { InstanceTracker } from '../../rollout/tracker.js';
import { codeOf, type Coded } from '../../errors/coded.js';

/** What an interrupted run left: hosts it finished, hosts caught in the middle, and any failure. */
export interface ResumePlan {
  completed: string[];
  inFlight: Array<{ host: string; state: InstanceState }>;
  /** Hosts the interrupted run rolled back or left out: a resume must not roll past a failure. */
  failed: string[];
  /**
   * A rollback the run decided and did not finish (a failed bake, onFailure 'rollback'): the hosts
   * still to go back, in order, with the facts their rollback phase reads. A resume finishes it.
   */
  rollback?: RollbackLeft[];
}

export interface RollbackLeft {
  host: string;
  facts: Record<string, string>;
  /** The state the journal last recorded for it (it may be out, mid-rollback). */
  state: InstanceState;
}

/** Hosts whose last rollback record is 'started', in the order the rollback was decided. */
export function rollbackLeft(entry: JournalEntry, states: ReadonlyMap<string, InstanceState>): RollbackLeft[] {
  const last = new Map<string, { status: string; facts: Record<string, string> }>();
  for (const stage of entry.stages) {
    if (stage.stage !== 'rollback') continue;
    const facts = stage.facts ?? last.get(stage.name)?.facts ?? {};
    last.set(stage.name, { status: stage.status, facts });
  }
  return [...last].filter(([, record]) => record.status === 'started').map(([host, record]) => ({ host, facts: record.facts, state: states.get(host) ?? 'in-service' }));
}

/**
 * Reads the journal of an interrupted run. A host is done when it was activated and went through
 * `registering` back to `in-service` without a rollback (one put back undeployed, by a Ctrl-C
 * during its drain or a health reconciliation, is not: it is rolled again); one whose last state
 * is anything but `in-service` was caught in the middle (SIGKILL, a lost laptop) and is
 * reconciled with reality before going on.
 */
export function planResume(entry: JournalEntry): ResumePlan {
  const history = new Map<string, InstanceState[]>();
  for (const t of entry.transitions) {
    const states = history.get(t.host) ?? [];
    states.push(t.to);
    history.set(t.host, states);
  }
  const lastStates = new Map([...history].map(([host, states]) => [host, states[states.length - 1]!]));
  const rollback = rollbackLeft(entry, lastStates);
  // A rollback left unfinished is what a resume does: nothing is rolled forward or reconciled.
  if (rollback.length > 0) return { completed: [], inFlight: [], failed: [], rollback };
  const plan: ResumePlan = { completed: [], inFlight: [], failed: [] };
  for (const [host, states] of history) {
    const last = states[states.length - 1]!;
    if (states.includes('rolling-back') || last === 'failed-out') plan.failed.push(host);
    else if (last === 'in-service' && states.includes('activating') && states.includes('registering')) plan.completed.push(host);
    else if (last !== 'in-service') plan.inFlight.push({ host, state: last });
  }
  return plan;
}

/** A host reconciliation left out of the load balancer, why, and the code that goes with it. */
export type LeftOut = { host: string; error: string } & Coded;

/**
 * Brings each host caught mid-rollout (or left out) back to a known state: if ship's own health
 * checks pass it goes back into the load balancer (a resume rolls it again with the remaining
 * hosts, which the playbooks make idempotent); if not, it stays out and is reported. Returns the
 * hosts left out, each with its error and code (for the summary and the failure notification).
 */
export async function reconcileInFlight(
  targets: Target[],
  inFlight: ResumePlan['inFlight'],
  lb: LoadBalancer,
  tracker: InstanceTracker,
  bus: EventBus,
  healthyTimeoutMs: number,
): Promise<LeftOut[]> {
  const leftOut: LeftOut[] = [];
  await Promise.all(
    inFlight.map(async ({ host, state }) => {
      const target = targets.find((t) => t.name === host);
      if (!target) {
        const message = `the interrupted run left ${host} ${state}, but it is no longer in the inventory; check it by hand`;
        leftOut.push({ host, error: message });
        bus.emit({ type: 'warning', host, message });
        return;
      }
      try {
        await tracker.set(host, 'verifying', `resume: was ${state}`);
        await waitUntilHealthy(target.checks, { host, deadlineMs: healthyTimeoutMs });
        await tracker.set(host, 'registering');
        await lb.putBack(target.lbName, { deadlineMs: healthyTimeoutMs });
        await lb.waitHealthy(target.lbName, { deadlineMs: healthyTimeoutMs });
        await tracker.set(host, 'in-service', 'resume: healthy, put back');
      } catch (error) {
        const message = (error as Error).message;
        await tracker.set(host, 'failed-out', `resume: ${message}`);
        const coded = codeOf(error);
        bus.emit({ type: 'warning', host, message: `${host} stays out of the load balancer: ${message}`, ...coded });
        leftOut.push({ host, error: message, ...coded });
      }
    }),
  );
  return leftOut;
}
