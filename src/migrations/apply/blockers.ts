/**
 * Who keeps the applier waiting. While a statement runs, a second connection asks the server for
 * `pg_blocking_pids(<applier>)`: when the lock wait ends in lock_timeout the applier itself no
 * longer waits, so only a look taken during the wait can say who held the lock.
 */
import { formatDuration } from '../../util/duration.js';
import { redact } from '../../util/redact.js';
import { sleep } from '../../util/deadline.js';
import type { SqlClient } from '../layouts/version-table.js';

export interface BlockingSession {
  readonly pid: number;
  /** pg_stat_activity.state (`idle in transaction`, `active`); null when the role may not see it. */
  readonly state: string | null;
  /** Age of its transaction; null when it has none or the role may not see it. */
  readonly transactionMs: number | null;
  readonly applicationName: string | null;
  /** The start of its current or last query on one line, secrets scrubbed. */
  readonly query: string | null;
}

const QUERY_START_CHARACTERS = 120;

const BLOCKERS_SQL = `select a.pid, a.state, a.application_name,
    (extract(epoch from clock_timestamp() - a.xact_start) * 1000)::bigint as transaction_ms,
    left(a.query, ${QUERY_START_CHARACTERS}) as query, length(a.query) > ${QUERY_START_CHARACTERS} as query_cut
  from pg_stat_activity a
  where a.pid = any(pg_blocking_pids($1))
  order by a.xact_start nulls last, a.pid`;

interface BlockerRow extends Record<string, unknown> {
  pid: number;
  state: string | null;
  application_name: string | null;
  transaction_ms: string | null;
  query: string | null;
  query_cut: boolean | null;
}

export class BlockerWatch {
  /** The blockers of the latest look that found any, since the last reset. */
  private seen: readonly BlockingSession[] = [];
  /** Why the last look failed, so a report without blockers says why. */
  private failure: string | undefined;

  constructor(
    private readonly watcher: SqlClient,
    private readonly applierPid: number,
    private readonly intervalMs: number,
  ) {}

  get lastSeen(): readonly BlockingSession[] {
    return this.seen;
  }

  get lastFailure(): string | undefined {
    return this.failure;
  }

  /** Forgets what was seen: a new statement has new blockers. */
  reset(): void {
    this.seen = [];
    this.failure = undefined;
  }

  /** Runs `work`, looking for blockers every intervalMs until it settles. */
  async during<T>(work: () => Promise<T>): Promise<T> {
    const stop = new AbortController();
    const looking = this.look(stop.signal);
    try {
      return await work();
    } finally {
      stop.abort();
      await looking;
    }
  }

  private async look(stop: AbortSignal): Promise<void> {
    for (;;) {
      try {
        await sleep(this.intervalMs, stop);
      } catch {
        return;
      }
      try {
        const { rows } = await this.watcher.query<BlockerRow>(BLOCKERS_SQL, [this.applierPid]);
        if (rows.length > 0) this.seen = rows.map(toSession);
      } catch (error) {
        this.failure = (error as Error).message;
      }
    }
  }
}

function toSession(row: BlockerRow): BlockingSession {
  return {
    pid: Number(row.pid),
    state: row.state,
    transactionMs: row.transaction_ms === null ? null : Number(row.transaction_ms),
    applicationName: row.application_name,
    query: row.query === null ? null : `${redact(row.query).replace(/\s+/g, ' ').trim()}${row.query_cut ? '…' : ''}`,
  };
}

/** `pid 4242 (idle in transaction for 12.30s, application "report", query "select ...")`. */
export function describeBlocker(blocker: BlockingSession): string {
  const facts: string[] = [];
  if (blocker.state === null) facts.push('state hidden from this role (grant it pg_read_all_stats to see more)');
  else facts.push(blocker.transactionMs === null ? blocker.state : `${blocker.state}, transaction open for ${formatDuration(blocker.transactionMs)}`);
  if (blocker.applicationName) facts.push(`application ${JSON.stringify(blocker.applicationName)}`);
  if (blocker.query) facts.push(`query ${JSON.stringify(blocker.query)}`);
  return `pid ${blocker.pid} (${facts.join(', ')})`;
}
