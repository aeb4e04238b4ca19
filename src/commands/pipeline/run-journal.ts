import type { LoadedConfig } from '../../config/load.js';
import type { EventBus, RunStatus, RunSummary } from '../../events.js';
import { currentActor, type Actor } from '../../journal/actor.js';
import { stateStoreFor } from '../../journal/from-config.js';
import { DEFAULT_STALE_AFTER_MS, DeployLock, LockHeldError } from '../../journal/lock.js';
import type { RunRecord, StageRecord, StateStore, Transition } from '../../journal/state-store.js';
import type { PreflightCheck } from '../../preflight/preflight.js';
import type { ResumeRecord } from './resume-record.js';

export interface RunJournalOptions {
  command: string;
  version?: string;
  hosts: string[];
  /** What `ship resume` needs to continue this run. */
  resume: ResumeRecord;
  /** --lock-wait: how long to wait for another run's lock before refusing. */
  lockWaitMs: number;
  /** Ends a lock wait early (Ctrl-C). */
  signal?: AbortSignal;
  /** `ship resume` and `ship restore`: the interrupted run whose lock this run takes over once its holder is gone. */
  takeOverFrom?: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One run's record in the state store and its hold on the app's deploy lock: the lock is the
 * first pre-flight check (so a second deploy is refused before it touches anything), the run is
 * begun in the journal as soon as the lock is held, and every transition goes through `record`.
 */
export class RunJournal {
  private lock: DeployLock | undefined;
  private begun = false;
  private readonly lostController = new AbortController();

  private constructor(
    readonly store: StateStore,
    readonly actor: Actor,
    private readonly loaded: LoadedConfig,
    private readonly bus: EventBus,
    private readonly options: RunJournalOptions,
  ) {}

  static async open(loaded: LoadedConfig, bus: EventBus, options: RunJournalOptions): Promise<RunJournal> {
    const actor = await currentActor({ cwd: loaded.dir });
    return new RunJournal(await stateStoreFor(loaded), actor, loaded, bus, options);
  }

  /** Aborts when the lock is lost (broken by someone, or heartbeats failing): no new batch may start. */
  get lost(): AbortSignal {
    return this.lostController.signal;
  }

  readonly record = (transition: Transition): Promise<void> => this.store.recordTransition(transition);

  /** A stage of the run itself (a migration, the replica wait, a run-once step, a bake's verdict, a host's rollback), stamped now; durable before it resolves. */
  readonly recordStage = (stage: Omit<StageRecord, 'runId' | 'at'>): Promise<void> => this.store.recordStage({ ...stage, runId: this.bus.runId, at: new Date().toISOString() });

  lockCheck(): PreflightCheck {
    return {
      name: 'lock',
      run: async () => {
        const app = this.loaded.config.app;
        if (this.options.takeOverFrom) await this.takeOver(app, this.options.takeOverFrom);
        this.lock = await DeployLock.acquire(
          this.store,
          { runId: this.bus.runId, app, command: this.options.command, actor: this.actor },
          {
            staleAfterMs: DEFAULT_STALE_AFTER_MS,
            waitMs: this.options.lockWaitMs,
            ...(this.options.signal ? { signal: this.options.signal } : {}),
            onWaiting: (holder) =>
              this.bus.emit({
                type: 'warning',
                message: `waiting for the deploy lock held by ${holder.actor.osUser}@${holder.actor.hostname}: '${holder.command}' since ${holder.acquiredAt}`,
              }),
            onWarning: (message) => this.bus.emit({ type: 'warning', message }),
          },
        );
        this.lock.lost.addEventListener('abort', () => this.lostController.abort(this.lock?.lost.reason), { once: true });
        const record: RunRecord = {
          runId: this.bus.runId,
          app,
          command: this.options.command,
          ...(this.options.version ? { version: this.options.version } : {}),
          hosts: this.options.hosts,
          resume: this.options.resume,
          actor: this.actor,
          startedAt: new Date().toISOString(),
        };
        await this.store.beginRun(record);
        this.begun = true;
        return `held for run ${this.bus.runId} (${this.store.kind} store)`;
      },
    };
  }

  /** For `ship check`: the lock must be free (or stale), but it is not taken. */
  peekLockCheck(): PreflightCheck {
    return {
      name: 'lock',
      run: async () => {
        const lock = await this.store.currentLock(this.loaded.config.app);
        if (lock && !lock.stale) throw new LockHeldError(lock, false);
        return lock ? `stale lock of run ${lock.runId} (a deploy would refuse until \`ship unlock --force\`)` : 'free';
      },
    };
  }

  /** The interrupted run's lock is released for its resumption only when its holder is gone. */
  private async takeOver(app: string, runId: string): Promise<void> {
    const lock = await this.store.currentLock(app);
    if (!lock || lock.runId !== runId) return;
    const sameMachine = lock.actor.hostname === this.actor.hostname;
    const holderGone = lock.stale || (sameMachine && lock.pid > 0 && !alive(lock.pid));
    if (!holderGone) return; // DeployLock.acquire then refuses, naming the live holder
    await this.store.breakLock(app, this.actor, `taken over by '${this.options.command}': run ${runId} was interrupted and its holder is gone`, { evenIfAlive: !lock.stale });
  }

  async finish(status: RunStatus, summary: RunSummary): Promise<void> {
    try {
      if (this.begun) await this.store.finishRun(this.bus.runId, { status, summary, finishedAt: new Date().toISOString() });
    } finally {
      await this.lock?.release();
    }
  }

  async close(): Promise<void> {
    await this.lock?.release();
    await this.store.close();
  }
}
