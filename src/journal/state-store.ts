/**
 * Where ship records what it does (DESIGN principle 3): every run, and every instance transition
 * written before and after each change to the load balancer or a host, so an interrupted run
 * can be resumed or cleanly put back and `ship status` tells the truth. Also the per-app deploy
 * lock, so a laptop and CI never roll the same app at once.
 */
import type { InstanceState, RunStatus, RunSummary } from '../events.js';
import type { BreakLockOptions, LockBreak, LockStatus } from './lock.js';
import { ERROR_CODES, type CodedError } from '../errors/codes.js';

export interface Actor {
  /** OS user running ship. */
  osUser: string;
  /** `git config user.email` (or name) where available. */
  gitUser?: string;
  /** CI system and job, e.g. 'github-actions run 1234', when run in CI. */
  ci?: string;
  /** Machine name. */
  hostname: string;
}

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

export interface RunOutcome {
  status: RunStatus;
  summary: RunSummary;
  finishedAt: string;
}

export interface JournalEntry {
  run: RunRecord;
  transitions: Transition[];
  outcome?: RunOutcome;
  /** Set when the journal's last record was torn by a crash and was skipped. */
  warnings?: string[];
}

export interface LockHolder {
  runId: string;
  /** The holding process, so `ship resume` on the same machine can tell a dead holder from a live one. */
  pid: number;
  app: string;
  command: string;
  actor: Actor;
  acquiredAt: string;
  /** Refreshed while the run lives; a lock whose heartbeat is older than the stale age may be broken. */
  heartbeatAt: string;
}

export class LockHeldError extends Error implements CodedError {
  constructor(
    readonly holder: LockHolder,
    readonly stale: boolean,
  ) {
    super(
      `app ${holder.app} is locked by ${holder.actor.osUser}@${holder.actor.hostname}${holder.actor.gitUser ? ` (${holder.actor.gitUser})` : ''}` +
        `${holder.actor.ci ? ` in ${holder.actor.ci}` : ''}: '${holder.command}' (run ${holder.runId}) since ${holder.acquiredAt}, last heartbeat ${holder.heartbeatAt}` +
        (stale
          ? `; its heartbeat stopped, so it is stale: break it with \`ship unlock --force --reason "..."\``
          : '; wait for it with --lock-wait <duration>'),
    );
    this.name = 'LockHeldError';
  }

  get shipCode() {
    return ERROR_CODES.lockHeld;
  }
}

export interface StateStore {
  readonly kind: string;
  beginRun(run: RunRecord): Promise<void>;
  /** Durable before it resolves (fsync / committed). */
  recordTransition(transition: Transition): Promise<void>;
  finishRun(runId: string, outcome: RunOutcome): Promise<void>;
  /** The newest run of the app (finished or not), with its transitions. */
  lastRun(app: string): Promise<JournalEntry | undefined>;
  run(runId: string): Promise<JournalEntry | undefined>;

  /** Takes the app's lock or throws LockHeldError naming the holder. */
  acquireLock(holder: LockHolder, options: { staleAfterMs: number }): Promise<void>;
  heartbeat(app: string, runId: string): Promise<void>;
  releaseLock(app: string, runId: string): Promise<void>;
  /** The holder, with its staleness judged by the store's own clock (a laptop's clock may be wrong). */
  currentLock(app: string): Promise<LockStatus | undefined>;
  /** Breaks a stale lock (a live one only with evenIfAlive), recording who broke it and why. */
  breakLock(app: string, by: Actor, reason: string, options?: BreakLockOptions): Promise<LockHolder | undefined>;
  lockBreaks(app: string): Promise<LockBreak[]>;
  close(): Promise<void>;
}
