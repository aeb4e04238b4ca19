import type { EventBus, InstanceState } from '../events.js';
import type { Transition } from '../journal/state-store.js';
import { redact } from '../util/redact.js';

/**
 * Durable write of one transition (the journal); resolves once it is on disk or committed. One
 * host's transitions are kept in the order of the calls (StateStore.recordTransition), so the
 * next may be handed over before the last resolved.
 */
export type TransitionRecorder = (transition: Transition) => Promise<void>;

/**
 * States written durably before ship acts: each precedes a change to the load balancer (drain,
 * put back) or to the host (activate, rollback), or records an instance left out. The others
 * ('out', 'verifying', 'in-service') follow an action already recorded as under way and are
 * written behind, in order, ahead of the next durable one: handed over without waiting, so the file
 * journal writes each with the record that follows it in the same turn ('out' with 'activating'),
 * no fsync of its own where every millisecond is time out of rotation.
 */
const DURABLE_BEFORE_ACTING: ReadonlySet<InstanceState> = new Set(['draining', 'activating', 'registering', 'rolling-back', 'failed-out', 'reloading']);

/**
 * Knows every instance's state, so the run can always say which instances are out of the load
 * balancer, and writes each transition to the journal before it is acted on (DESIGN principle 3).
 * A journal that cannot be written stops the rollout from taking anything else out: `journalError`
 * is checked before every drain.
 */
export class InstanceTracker {
  private readonly states = new Map<string, InstanceState>();
  /** Each host's latest journal write: the store keeps a host's records in order, so flush waits for these. */
  private readonly writes = new Map<string, Promise<void>>();
  journalError: string | undefined;

  constructor(
    private readonly bus: EventBus,
    private readonly record?: TransitionRecorder,
    initial: Iterable<[string, InstanceState]> = [],
  ) {
    for (const [host, state] of initial) this.states.set(host, state);
  }

  async set(host: string, to: InstanceState, detail?: string): Promise<void> {
    const from = this.states.get(host) ?? 'in-service';
    if (from === to) return;
    this.states.set(host, to);
    const record = this.record;
    if (record) {
      const transition = { runId: this.bus.runId, host, from, to, at: new Date().toISOString(), ...(detail ? { detail: redact(detail) } : {}) };
      const durable = DURABLE_BEFORE_ACTING.has(to);
      const written = record(transition).catch((error: Error) => {
        this.journalError ??= `the journal could not be written (${error.message}); no further instance is taken out`;
        this.bus.emit({ type: 'warning', host, message: this.journalError });
      });
      this.writes.set(host, written);
      if (durable) await written;
    }
    this.bus.emit({ type: 'instance.state', host, from, to });
  }

  /** Resolves when every transition so far is in the journal. */
  async flush(): Promise<void> {
    await Promise.all(this.writes.values());
  }

  get(host: string): InstanceState {
    return this.states.get(host) ?? 'in-service';
  }

  outOfRotation(): string[] {
    return [...this.states].filter(([, state]) => state !== 'in-service' && state !== 'reloading').map(([host]) => host);
  }
}
