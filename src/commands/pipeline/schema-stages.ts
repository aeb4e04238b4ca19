/**
 * A deploy's schema stages around the rollout (DESIGN.md, "The shape of one run"): the expand
 * migrations, then the wait until every replica and read path shows the new schema version, both
 * before the first instance leaves; the contract migrations once the last instance is back. Each
 * migration is journalled before and after it is applied. What is pending is read from the
 * primary's version table at pre-flight, so a resumed run never applies a recorded file twice.
 */
import { codeOf } from '../../errors/coded.js';
import type { EventBus, MigrationPhase } from '../../events.js';
import type { StageRecord } from '../../journal/state-store.js';

/** One pending migration as the stages need it. */
export interface PendingMigration {
  /** The file name, as journals and messages show it. */
  readonly file: string;
  readonly version: string;
  readonly phase: MigrationPhase;
}

/** Applies migrations: ship itself, file by file, or the team's own tool in one go. */
export interface MigrationRunner {
  /** `ship` applies files one by one; `command` runs once and applies whatever it applies. */
  readonly kind: 'ship' | 'command';
  /** Applies one file (kind 'ship'); throws what went wrong, naming the file, line and the server's error. */
  applyFile?(migration: PendingMigration, onRetry: (attempt: number, waitMs: number, detail: string) => void): Promise<void>;
  /** Runs the team's command once (kind 'command'); resolves to the versions it applied. */
  runCommand?(): Promise<string[]>;
}

/** Waits until every replica and read path reports the primary's schema version; throws a coded error on timeout. */
export type ReplicaGate = (onProgress: (detail: string) => void) => Promise<string>;

export type StageOutcome = { ok: true } | { ok: false; status: 'failed' | 'refused' | 'interrupted'; error: Error };

export interface SchemaStagesInput {
  readonly bus: EventBus;
  /** Writes a stage record (durable before it resolves). */
  readonly record: (stage: Omit<StageRecord, 'runId' | 'at'>) => Promise<void>;
  readonly runner: MigrationRunner;
  /** Undefined when there is nothing to wait for (no replicas, no read paths). */
  readonly replicaGate?: ReplicaGate;
  /** Pending at pre-flight, in the order they apply. */
  readonly pending: readonly PendingMigration[];
  /** Ctrl-C: no file starts after it (the one being applied is committed or rolled back whole). */
  readonly signal: AbortSignal;
}

export class SchemaStages {
  private readonly appliedFiles: string[] = [];

  constructor(private readonly input: SchemaStagesInput) {}

  get applied(): readonly string[] {
    return this.appliedFiles;
  }

  /** Contract migrations not applied yet: named in the summary of a run that did not get to them. */
  get pendingContract(): string[] {
    return this.input.pending.filter((m) => m.phase === 'contract' && !this.appliedFiles.includes(m.file)).map((m) => m.file);
  }

  /** Expand migrations, then the replica wait; a failure stops the run before any instance leaves. */
  async beforeRollout(): Promise<StageOutcome> {
    const expand = this.input.pending.filter((m) => m.phase === 'expand');
    const applied = await this.apply(expand, 'expand');
    if (!applied.ok) return applied;
    // Also with nothing applied now: a resumed run may have applied them before it was stopped mid-wait.
    return this.input.replicaGate ? this.waitForReplicas(this.input.replicaGate) : { ok: true };
  }

  /** Contract migrations, once every instance serves the new release. */
  async afterRollout(): Promise<StageOutcome> {
    return this.apply(
      this.input.pending.filter((m) => m.phase === 'contract'),
      'contract',
    );
  }

  private async apply(migrations: readonly PendingMigration[], phase: MigrationPhase): Promise<StageOutcome> {
    const { runner } = this.input;
    if (runner.kind === 'command') return phase === 'expand' ? this.runCommand() : { ok: true };
    for (const migration of migrations) {
      if (this.input.signal.aborted) return { ok: false, status: 'interrupted', error: new Error(`interrupted before migration ${migration.file}`) };
      const outcome = await this.applyOne(migration);
      if (!outcome.ok) return outcome;
    }
    return { ok: true };
  }

  private async applyOne(migration: PendingMigration): Promise<StageOutcome> {
    const { bus, record, runner } = this.input;
    const { file, version, phase } = migration;
    await record({ stage: 'migration', name: file, version, phase, status: 'started' });
    bus.emit({ type: 'migration.started', file, version, phase });
    const started = performance.now();
    try {
      await runner.applyFile!(migration, (attempt, waitMs, detail) => bus.emit({ type: 'migration.retrying', file, attempt, waitMs, detail }));
    } catch (error) {
      return this.failed(migration, error as Error);
    }
    const durationMs = performance.now() - started;
    await record({ stage: 'migration', name: file, version, phase, status: 'done', detail: `applied in ${Math.round(durationMs)} ms` });
    this.appliedFiles.push(file);
    bus.emit({ type: 'migration.applied', file, version, phase, durationMs });
    return { ok: true };
  }

  /** The team's tool applies whatever is pending (pre-flight refused contract files it would apply too early). */
  private async runCommand(): Promise<StageOutcome> {
    const { bus, record, runner } = this.input;
    const command: PendingMigration = { file: 'command', version: '', phase: 'expand' };
    await record({ stage: 'migration', name: 'command', phase: 'expand', status: 'started' });
    bus.emit({ type: 'migration.started', file: 'command', version: '', phase: 'expand' });
    const started = performance.now();
    let versions: string[];
    try {
      versions = await runner.runCommand!();
    } catch (error) {
      return this.failed(command, error as Error);
    }
    const durationMs = performance.now() - started;
    const named = versions.map((version) => this.input.pending.find((m) => m.version === version)?.file ?? version);
    await record({ stage: 'migration', name: 'command', phase: 'expand', status: 'done', detail: named.length ? `applied ${named.join(', ')}` : 'applied nothing' });
    this.appliedFiles.push(...named);
    for (const [i, version] of versions.entries()) bus.emit({ type: 'migration.applied', file: named[i]!, version, phase: 'expand', durationMs });
    return { ok: true };
  }

  private async failed(migration: PendingMigration, error: Error): Promise<StageOutcome> {
    const { file, version, phase } = migration;
    await this.input.record({ stage: 'migration', name: file, ...(version ? { version } : {}), phase, status: 'failed', detail: error.message });
    this.input.bus.emit({ type: 'migration.failed', file, version, phase, error: error.message, ...codeOf(error) });
    return { ok: false, status: 'failed', error };
  }

  private async waitForReplicas(gate: ReplicaGate): Promise<StageOutcome> {
    const { bus, record } = this.input;
    await record({ stage: 'replica-wait', name: 'replicas and read paths', status: 'started' });
    const started = performance.now();
    try {
      const detail = await gate((progress) => bus.emit({ type: 'replicas.waiting', detail: progress }));
      await record({ stage: 'replica-wait', name: 'replicas and read paths', status: 'done', detail });
      bus.emit({ type: 'replicas.ready', durationMs: performance.now() - started, detail });
      return { ok: true };
    } catch (error) {
      await record({ stage: 'replica-wait', name: 'replicas and read paths', status: 'failed', detail: (error as Error).message });
      return { ok: false, status: 'refused', error: error as Error };
    }
  }
}
