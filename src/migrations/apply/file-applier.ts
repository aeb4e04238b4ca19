/**
 * Applies one planned migration file on the applier's connection: unit by unit, each retried
 * whole after a lock timeout (rolled back first when it is a transaction), with a look at who
 * blocks it while it waits. The file is recorded in the version table in its last unit, inside
 * its transaction when it has one, so it is never recorded without being applied.
 */
import { sleep } from '../../util/deadline.js';
import type { AppliedFacts, SqlClient, VersionTableAdapter } from '../layouts/version-table.js';
import { VersionTableError } from '../layouts/version-table-error.js';
import { retryDelayMs, type BackoffOptions } from './backoff.js';
import type { BlockerWatch, BlockingSession } from './blockers.js';
import { MigrationAbortedError } from './errors.js';
import { LOCK_NOT_AVAILABLE, lineOf, lockTimeoutFailure, sqlStateOf, statementFailure, type FailureContext } from './failure.js';
import { dropIndexConcurrently, invalidIndexes } from './invalid-indexes.js';
import type { MigrationPlan, PlannedStatement, RetryUnit, Step } from './plan.js';

export interface RetryNotice {
  readonly line: number | undefined;
  /** The attempt that just failed, from 1. */
  readonly attempt: number;
  readonly retries: number;
  readonly waitMs: number;
  readonly blockers: readonly BlockingSession[];
}

export interface FileApplierOptions {
  readonly client: SqlClient;
  readonly watch: BlockerWatch;
  readonly versionTable: VersionTableAdapter;
  readonly databaseUrl: string;
  readonly database: string;
  readonly lockTimeoutMs: number;
  readonly statementTimeoutMs: number;
  readonly retries: number;
  readonly backoff: BackoffOptions;
  readonly signal?: AbortSignal;
  readonly onRetry: (plan: MigrationPlan, notice: RetryNotice) => void;
  /** Files applied before this one, for the message when the run is interrupted. */
  readonly appliedSoFar: () => readonly string[];
}

export interface FileOutcome {
  readonly executionMs: number;
  /** Attempts of the unit that needed the most. */
  readonly attempts: number;
}

/** Session-level, as SET is: they hold for every statement after them until the file sets its own. */
export async function setSessionTimeouts(client: SqlClient, timeouts: { readonly lockTimeoutMs: number; readonly statementTimeoutMs: number }): Promise<void> {
  await client.query(`select set_config('lock_timeout', $1, false), set_config('statement_timeout', $2, false)`, [
    `${timeouts.lockTimeoutMs}ms`,
    `${timeouts.statementTimeoutMs}ms`,
  ]);
}

/** Where a unit's attempt failed, for the message. */
class UnitFailure extends Error {
  constructor(
    readonly failure: unknown,
    readonly step: Step | undefined,
    readonly atCommit: boolean,
  ) {
    super('unit failed');
  }
}

export class FileApplier {
  constructor(private readonly options: FileApplierOptions) {}

  async apply(plan: MigrationPlan): Promise<FileOutcome> {
    // Again for each file: a file's own SET holds for the statements after it, not for the next file.
    await setSessionTimeouts(this.options.client, this.options);
    let executionMs = 0;
    let attempts = 1;
    for (const unit of plan.units) {
      const done = await this.runWithRetries(plan, unit, executionMs);
      executionMs += done.sqlMs;
      attempts = Math.max(attempts, done.attempts);
    }
    return { executionMs: Math.round(executionMs), attempts };
  }

  private async runWithRetries(plan: MigrationPlan, unit: RetryUnit, executionBefore: number): Promise<{ sqlMs: number; attempts: number }> {
    const { watch, retries } = this.options;
    watch.reset();
    const leftovers: string[] = [];
    for (let attempt = 1; ; attempt++) {
      try {
        const sqlMs = await watch.during(() => this.attempt(plan, unit, executionBefore, leftovers));
        return { sqlMs, attempts: attempt };
      } catch (thrown) {
        if (!(thrown instanceof UnitFailure)) throw thrown;
        const { failure, step, atCommit } = thrown;
        if (failure instanceof VersionTableError) throw failure;
        const context: FailureContext = {
          plan,
          unit,
          step,
          atCommit,
          versionTable: this.options.versionTable,
          databaseUrl: this.options.databaseUrl,
          database: this.options.database,
        };
        if (sqlStateOf(failure) !== LOCK_NOT_AVAILABLE) throw statementFailure(failure, context);
        if (attempt > retries) {
          throw lockTimeoutFailure(failure, context, {
            attempts: attempt,
            lockTimeoutMs: this.options.lockTimeoutMs,
            blockers: watch.lastSeen,
            watchFailure: watch.lastFailure,
            leftoverIndexes: leftovers,
          });
        }
        const waitMs = retryDelayMs(attempt, this.options.backoff);
        this.options.onRetry(plan, { line: lineOf(failure, { plan, step }), attempt, retries, waitMs, blockers: watch.lastSeen });
        await this.pause(plan, waitMs);
      }
    }
  }

  /** Runs the unit once; returns the time its statements took. */
  private async attempt(plan: MigrationPlan, unit: RetryUnit, executionBefore: number, leftovers: string[]): Promise<number> {
    const { client, versionTable } = this.options;
    let sqlMs = 0;
    let current: Step | undefined;
    try {
      if (unit.transaction === 'ship') await client.query('begin');
      for (const step of unit.steps) {
        current = step;
        if (step.kind === 'statement') sqlMs += await this.runStatement(step.statement, leftovers);
        else if (step.kind === 'mark-started') await versionTable.markStarted?.(client, plan.migration);
        else await versionTable.recordApplied(client, plan.migration, { executionMs: Math.round(executionBefore + sqlMs) } satisfies AppliedFacts);
      }
      current = undefined;
    } catch (failure) {
      if (unit.transaction !== 'none') await client.query('rollback').catch(() => undefined);
      throw new UnitFailure(failure, current, false);
    }
    if (unit.transaction === 'ship') {
      try {
        await client.query('commit');
      } catch (failure) {
        await client.query('rollback').catch(() => undefined);
        throw new UnitFailure(failure, undefined, true);
      }
    }
    return sqlMs;
  }

  private async runStatement(statement: PlannedStatement, leftovers: string[]): Promise<number> {
    const { client } = this.options;
    const index = statement.concurrentIndex;
    if (index) {
      while (leftovers.length > 0) {
        await dropIndexConcurrently(client, leftovers[0] as string);
        leftovers.shift();
      }
    }
    let before = index ? await invalidIndexes(client, index) : [];
    // An invalid index of the very name this unrecorded file creates is what an earlier, interrupted
    // attempt of it left (a killed deploy resumed): IF NOT EXISTS would keep it invalid for good, and
    // without it the statement fails on "already exists". Unnamed ones may be another session's build.
    if (index?.name && before.length > 0) {
      for (const leftover of before) await dropIndexConcurrently(client, leftover);
      before = [];
    }
    const started = performance.now();
    try {
      await client.query(statement.text);
    } catch (failure) {
      if (index && sqlStateOf(failure) === LOCK_NOT_AVAILABLE) {
        leftovers.push(...(await invalidIndexes(client, index)).filter((name) => !before.includes(name)));
      }
      throw failure;
    }
    return performance.now() - started;
  }

  private async pause(plan: MigrationPlan, waitMs: number): Promise<void> {
    try {
      await sleep(waitMs, this.options.signal);
    } catch {
      const applied = this.options.appliedSoFar();
      throw new MigrationAbortedError(
        `interrupted while ${plan.migration.path} waited to retry after a lock timeout: it is not recorded` +
          `${plan.outsideTransaction === undefined ? ' and nothing of it is applied' : ` (it runs outside a transaction: ${plan.outsideTransaction})`}; ` +
          `${applied.length} earlier file(s) stay applied and recorded`,
        applied,
      );
    }
  }
}
