import type { EventBus, InstanceState } from '../events.js';
import type { Transition } from '../journal/state-store.js';
import { redact } from '../util/redact.js';

/** Durable write of one transition (the journal); resolves once it is on disk or committed. */
export type TransitionRecorder = (transition: Transition) => Promise<void>;

/**
 * Knows every instance's state, so the run can always say which instances are out of the load
 * balancer, and writes each transition to the journal before it is acted on (DESIGN principle 3).
 * A journal that cannot be written stops the rollout from taking anything else out: `journalError`
 * is checked before every drain.
 */
export class InstanceTracker {
  private readonly states = new Map<string, InstanceState>();
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
    if (this.record) {
      try {
        await this.record({ runId: this.bus.runId, host, from, to, at: new Date().toISOString(), ...(detail ? { detail: redact(detail) } : {}) });
      } catch (error) {
        this.journalError ??= `the journal could not be written (${(error as Error).message}); no further instance is taken out`;
        this.bus.emit({ type: 'warning', host, message: this.journalError });
      }
    }
    this.bus.emit({ type: 'instance.state', host, from, to });
  }

  get(host: string): InstanceState {
    return this.states.get(host) ?? 'in-service';
  }

  outOfRotation(): string[] {
    return [...this.states].filter(([, state]) => state !== 'in-service' && state !== 'reloading').map(([host]) => host);
  }
}
