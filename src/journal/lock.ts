/**
 * The per-app deploy lock as a run holds it: taken (waiting for it with `--lock-wait` when
 * another run holds it), kept fresh by a heartbeat while the run lives, and given back at the
 * end. A run that loses its lock (broken as stale, or heartbeats failing for so long that others
 * may break it) is told through `lost`, so it starts no new batch.
 */
import { sleep } from '../util/deadline.js';
import { formatDuration } from '../util/duration.js';
import { ERROR_CODES, type CodedError } from '../errors/codes.js';
import type { Actor } from './actor.js';

/** Who holds an app's lock, as the stores record it. */
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

/** Another run holds the lock: names the holder and how to wait for it or break it. */
export class LockHeldError extends Error implements CodedError {
  constructor(
    readonly holder: LockHolder,
    readonly stale: boolean,
  ) {
    super(
      `app ${holder.app} is locked by ${holder.actor.osUser}@${holder.actor.hostname}${holder.actor.gitUser ? ` (${holder.actor.gitUser})` : ''}` +
        `${holder.actor.ci ? ` in ${holder.actor.ci}` : ''}: '${holder.command}' (run ${holder.runId}) since ${holder.acquiredAt}, last heartbeat ${holder.heartbeatAt}` +
        (stale ? `; its heartbeat stopped, so it is stale: break it with \`ship unlock --force --reason "..."\`` : '; wait for it with --lock-wait <duration>'),
    );
    this.name = 'LockHeldError';
  }

  get shipCode() {
    return ERROR_CODES.lockHeld;
  }
}

/** A lock whose heartbeat is older than this is stale and may be broken. */
export const DEFAULT_STALE_AFTER_MS = 30_000;
/**
 * The longest stale age a lock may have. A holder heartbeats every few seconds, so minutes are
 * already generous; without a bound, a lock recorded with an absurd age (written by hand, by a
 * broken tool, or 1e999 that JSON reads back as Infinity) could never be broken.
 */
export const MAX_STALE_AFTER_MS = 10 * 60_000;
/** Several heartbeats fit in one stale age, so one slow write never makes a live lock look dead. */
const HEARTBEATS_PER_STALE_AGE = 4;
const MAX_HEARTBEAT_INTERVAL_MS = 5_000;
const DEFAULT_POLL_INTERVAL_MS = 1_000;

/** What the stores report about a lock: its holder and, judged by the store's clock, its age. */
export interface LockStatus extends LockHolder {
  /** The stale age the holder chose when it took the lock (it heartbeats well within it). */
  staleAfterMs: number;
  heartbeatAgeMs: number;
  stale: boolean;
  /** Set when the recorded stale age was unusable and another was used: says which and why. */
  staleAgeNote?: string;
}

/**
 * The stale age a store judges a recorded lock by. What is read back is not trusted: the lock may
 * have been written by another tool or edited by hand. A missing or unusable age (not a positive
 * finite number) is judged by the default; one beyond MAX_STALE_AFTER_MS by that maximum, so every
 * lock whose holder stopped heartbeating can be broken in the end. Either way the note says so.
 */
export function judgeStaleAge(recorded: unknown, where: string): { staleAfterMs: number; staleAgeNote?: string } {
  if (typeof recorded !== 'number' || !Number.isFinite(recorded) || recorded <= 0) {
    if (recorded === undefined)
      return { staleAfterMs: DEFAULT_STALE_AFTER_MS, staleAgeNote: `${where} records no stale age; judged by the default ${formatDuration(DEFAULT_STALE_AFTER_MS)}` };
    return {
      staleAfterMs: DEFAULT_STALE_AFTER_MS,
      staleAgeNote: `${where} records the unusable stale age ${JSON.stringify(recorded) ?? String(recorded)}; judged by the default ${formatDuration(DEFAULT_STALE_AFTER_MS)}`,
    };
  }
  if (recorded > MAX_STALE_AFTER_MS) {
    return {
      staleAfterMs: MAX_STALE_AFTER_MS,
      staleAgeNote: `${where} records a stale age of ${recorded}ms, beyond the maximum of ${formatDuration(MAX_STALE_AFTER_MS)}; judged by that maximum`,
    };
  }
  return { staleAfterMs: recorded };
}

/** A lock broken with `ship unlock`, as recorded by the store. */
export interface LockBreak {
  app: string;
  holder: LockHolder;
  by: Actor;
  reason: string;
  brokenAt: string;
  heartbeatAgeMs: number;
  /** The holder's heartbeat was still fresh and it was broken anyway. */
  evenIfAlive: boolean;
}

export interface BreakLockOptions {
  /** Break the lock even though its heartbeat is fresh (its run is alive). */
  evenIfAlive?: boolean;
}

/** The lock's side of a state store: what DeployLock, `ship status` and `ship unlock` ask of it. */
export interface LockStore {
  /** Takes the app's lock or throws LockHeldError naming the holder. */
  acquireLock(holder: LockHolder, options: { staleAfterMs: number }): Promise<void>;
  heartbeat(app: string, runId: string): Promise<void>;
  releaseLock(app: string, runId: string): Promise<void>;
  /** The holder, with its staleness judged by the store's own clock (a laptop's clock may be wrong). */
  currentLock(app: string): Promise<LockStatus | undefined>;
  /** Breaks a stale lock (a live one only with evenIfAlive), recording who broke it and why. */
  breakLock(app: string, by: Actor, reason: string, options?: BreakLockOptions): Promise<LockHolder | undefined>;
  lockBreaks(app: string): Promise<LockBreak[]>;
}

export function describeHolder(holder: LockHolder): string {
  const { actor } = holder;
  return (
    `${actor.osUser}@${actor.hostname}${actor.gitUser ? ` (${actor.gitUser})` : ''}${actor.ci ? ` in ${actor.ci}` : ''}` +
    `: '${holder.command}' (run ${holder.runId}) since ${holder.acquiredAt}`
  );
}

/** The run's lock is no longer its own: it was broken, taken by another run, or could not be kept fresh. */
export class LockLostError extends Error {
  constructor(
    readonly app: string,
    readonly runId: string,
    reason: string,
    readonly holder?: LockHolder,
  ) {
    super(`run ${runId} lost the deploy lock of app ${app}: ${reason}; it starts no new batch: check \`ship status\``);
    this.name = 'LockLostError';
  }
}

/** `ship unlock` refused: the holder is alive (its heartbeat is fresh). */
export class LockAliveError extends Error implements CodedError {
  constructor(readonly holder: LockStatus) {
    super(
      `the deploy lock of app ${holder.app} is alive: held by ${describeHolder(holder)}, last heartbeat ` +
        `${formatDuration(holder.heartbeatAgeMs)} ago (stale only after ${formatDuration(holder.staleAfterMs)}` +
        `${holder.staleAgeNote ? `: ${holder.staleAgeNote}` : ''}); ` +
        'stop that run rather than break its lock, or wait until its heartbeat stops',
    );
    this.name = 'LockAliveError';
  }

  get shipCode() {
    return ERROR_CODES.lockAlive;
  }
}

/** The lock stayed held by another live run for the whole `--lock-wait`. */
export class LockWaitExpiredError extends LockHeldError {
  constructor(
    holder: LockHolder,
    readonly waitedMs: number,
  ) {
    super(holder, false);
    this.message =
      `app ${holder.app} is still locked after waiting ${formatDuration(waitedMs)} (--lock-wait): held by ${describeHolder(holder)}, ` + `last heartbeat ${holder.heartbeatAt}`;
  }
}

export interface DeployLockOptions {
  staleAfterMs?: number;
  /** Default: a quarter of the stale age, at most 5 s. */
  heartbeatIntervalMs?: number;
  /** How long to wait for a live holder to let go (`--lock-wait`); 0 refuses at once. */
  waitMs?: number;
  pollIntervalMs?: number;
  /** Stops a wait (Ctrl-C): the acquire rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Called once, when the lock is found held and the wait begins. */
  onWaiting?: (holder: LockHolder) => void;
  /** A heartbeat failed but the lock is not lost yet (it will retry). */
  onWarning?: (message: string) => void;
}

export interface LockRequest {
  runId: string;
  app: string;
  command: string;
  actor: Actor;
}

export class DeployLock {
  private readonly lostController = new AbortController();
  /** Aborted with a LockLostError when the run no longer holds the lock. */
  readonly lost: AbortSignal = this.lostController.signal;
  private readonly timer: NodeJS.Timeout;
  private lastHeartbeat = Date.now();
  private heartbeatInFlight: Promise<void> | undefined;
  private released = false;

  private constructor(
    private readonly store: LockStore,
    readonly holder: LockHolder,
    private readonly staleAfterMs: number,
    heartbeatIntervalMs: number,
    private readonly onWarning: ((message: string) => void) | undefined,
  ) {
    this.timer = setInterval(() => {
      this.heartbeatInFlight ??= this.beat().finally(() => {
        this.heartbeatInFlight = undefined;
      });
    }, heartbeatIntervalMs);
    // The lock never keeps the process alive on its own.
    this.timer.unref();
  }

  /**
   * Takes the app's lock. A live holder is waited for up to `waitMs`, polling; a stale holder is
   * refused at once (its run is gone and will not let go: `ship unlock --force` it).
   */
  static async acquire(store: LockStore, request: LockRequest, options: DeployLockOptions = {}): Promise<DeployLock> {
    const staleAfterMs = options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
    // Never record an age the stores would not honour when they read it back.
    if (!Number.isFinite(staleAfterMs) || staleAfterMs <= 0 || staleAfterMs > MAX_STALE_AFTER_MS) {
      throw new Error(
        `deploy lock: the stale age (${staleAfterMs}ms) must be more than 0 and at most ${formatDuration(MAX_STALE_AFTER_MS)}, or a dead run's lock could never be broken`,
      );
    }
    const heartbeatIntervalMs = options.heartbeatIntervalMs ?? Math.min(MAX_HEARTBEAT_INTERVAL_MS, Math.max(1, Math.floor(staleAfterMs / HEARTBEATS_PER_STALE_AGE)));
    if (heartbeatIntervalMs >= staleAfterMs) {
      throw new Error(`deploy lock: the heartbeat interval (${heartbeatIntervalMs}ms) must be shorter than the stale age (${staleAfterMs}ms), or a live run would look dead`);
    }
    const waitMs = options.waitMs ?? 0;
    const pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    const started = Date.now();
    let announced = false;
    for (;;) {
      options.signal?.throwIfAborted();
      const now = new Date().toISOString();
      const holder: LockHolder = { ...request, pid: process.pid, acquiredAt: now, heartbeatAt: now };
      try {
        await store.acquireLock(holder, { staleAfterMs });
        return new DeployLock(store, holder, staleAfterMs, heartbeatIntervalMs, options.onWarning);
      } catch (error) {
        if (!(error instanceof LockHeldError) || error.stale) throw error;
        const waited = Date.now() - started;
        if (waited >= waitMs) throw waitMs > 0 ? new LockWaitExpiredError(error.holder, waited) : error;
        if (!announced) {
          announced = true;
          options.onWaiting?.(error.holder);
        }
        await sleep(Math.min(pollIntervalMs, waitMs - waited), options.signal);
      }
    }
  }

  private async beat(): Promise<void> {
    if (this.released || this.lost.aborted) return;
    try {
      await this.store.heartbeat(this.holder.app, this.holder.runId);
      this.lastHeartbeat = Date.now();
    } catch (error) {
      if (error instanceof LockLostError) return this.lose(error);
      const message = error instanceof Error ? error.message : String(error);
      const silentFor = Date.now() - this.lastHeartbeat;
      if (silentFor >= this.staleAfterMs) {
        this.lose(
          new LockLostError(
            this.holder.app,
            this.holder.runId,
            `no heartbeat reached the state store for ${formatDuration(silentFor)} (last error: ${message}), so another run may break the lock as stale`,
          ),
        );
      } else {
        this.onWarning?.(`deploy lock heartbeat failed, retrying: ${message}`);
      }
    }
  }

  private lose(error: LockLostError): void {
    clearInterval(this.timer);
    this.lostController.abort(error);
  }

  /** Stops the heartbeat and gives the lock back (only if it is still this run's). Safe to call twice. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearInterval(this.timer);
    await this.heartbeatInFlight;
    await this.store.releaseLock(this.holder.app, this.holder.runId);
  }
}
