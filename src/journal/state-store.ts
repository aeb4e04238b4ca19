/**
 * Where ship records what it does (DESIGN principle 3): every run, and every instance transition
 * written before and after each change to the load balancer or a host, so an interrupted run
 * can be resumed or cleanly put back and `ship status` tells the truth. Also the per-app deploy
 * lock, so a laptop and CI never roll the same app at once.
 */
import type { InstanceState, RunStatus, RunSummary } from '../events.js';
import type { Actor } from './actor.js';
import type { LockStore } from './lock.js';

export interface RunRecord {
  runId: string;
  app: string;
  /** 'deploy', 'patch', 'rollback', 'run <playbook>' ... */
  command: string;
  version?: string;
  hosts: string[];
  /** Everything `ship resume` needs to continue: playbook, artifact path, batches, vars from the command line. */
  resume: Record<string, unknown>;
  actor: Actor;
  startedAt: string;
}

export interface Transition {
  runId: string;
  host: string;
  from: InstanceState;
  to: InstanceState;
  at: string;
  /** Why, for failures and interrupts. Never a secret: callers pass redacted text. */
  detail?: string;
}

/**
 * A stage of a run that belongs to the run, not to one instance. 'analysis': a batch's bake, its
 * verdict in `detail`. 'rollback': a host going back to the release it ran before, recorded
 * 'started' when decided (with the facts its rollback phase needs), so a resume can finish it.
 */
export type RunStage = 'before-rollout' | 'migration' | 'replica-wait' | 'after-rollout' | 'analysis' | 'rollback';

/**
 * One step of such a stage, written before it is acted on ('started') and after ('done' or
 * 'failed'): a migration file applied, the wait for replicas, a run-once playbook step.
 */
export interface StageRecord {
  runId: string;
  stage: RunStage;
  /** The migration file (`V2__email.sql`), the step's name, or the wait's name. */
  name: string;
  status: 'started' | 'done' | 'failed';
  at: string;
  /** A migration's version and phase; the release a host's rollback goes back to. */
  version?: string;
  phase?: 'expand' | 'contract';
  /** What happened, for failures: never a secret, callers pass redacted text. */
  detail?: string;
  /** A rollback's: what the host's playbook captured in stage, which its rollback phase reads. */
  facts?: Record<string, string>;
}

export interface RunOutcome {
  status: RunStatus;
  summary: RunSummary;
  finishedAt: string;
}

export interface JournalEntry {
  run: RunRecord;
  transitions: Transition[];
  /** The run's own stages (migrations, replica wait, run-once steps), in the order written. */
  stages: StageRecord[];
  outcome?: RunOutcome;
  /** Set when the journal's last record was torn by a crash and was skipped. */
  warnings?: string[];
}

/** A run journal and, through LockStore, the per-app deploy lock. */
export interface StateStore extends LockStore {
  readonly kind: string;
  beginRun(run: RunRecord): Promise<void>;
  /**
   * Durable before it resolves (fsync / committed). One host's transitions are stored in the order
   * of the calls, even when a call is made before the one before it resolved.
   */
  recordTransition(transition: Transition): Promise<void>;
  /** Durable before it resolves, like a transition. */
  recordStage(stage: StageRecord): Promise<void>;
  finishRun(runId: string, outcome: RunOutcome): Promise<void>;
  /** The newest run of the app (finished or not), with its transitions. */
  lastRun(app: string): Promise<JournalEntry | undefined>;
  run(runId: string): Promise<JournalEntry | undefined>;
  close(): Promise<void>;
}
