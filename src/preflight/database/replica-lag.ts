/**
 * How far a streaming replica is behind its primary: WAL bytes, seconds, and whether its replay
 * is paused. Shared by the pre-flight (is it close enough to start?) and the wait after the
 * expand migrations (has it caught up yet?).
 */
import type pg from 'pg';

export interface Lag {
  bytes: number;
  /** Null when the replica is behind but has replayed no transaction yet (no timestamp to age). */
  seconds: number | null;
  paused: boolean;
}

interface ReplicaPosition {
  replayLsn: string | null;
  paused: boolean;
  secondsSinceLastReplay: number | null;
}

const POLL_INTERVAL_MS = 25;

export const NOT_A_REPLICA =
  'is not a replica: pg_is_in_recovery() is false, so this URL points at a primary (or a promoted replica); list only streaming replicas in database.replicas';

export const PAUSED_REPLAY = 'its WAL replay is paused (pg_wal_replay_pause()), so it falls further behind with every write: resume it with pg_wal_replay_resume()';

/** A URL that reaches the primary instead of a replica would report the primary's state as the replica's. */
export async function isReplica(client: pg.Client): Promise<boolean> {
  const { rows } = await client.query<{ in_recovery: boolean }>('select pg_is_in_recovery() as in_recovery');
  return rows[0]?.in_recovery === true;
}

async function replicaPosition(replica: pg.Client): Promise<ReplicaPosition> {
  const { rows } = await replica.query<{ replay: string | null; paused: boolean; since: string | null }>(
    `select pg_last_wal_replay_lsn()::text as replay,
            pg_is_wal_replay_paused() as paused,
            extract(epoch from now() - pg_last_xact_replay_timestamp())::text as since`,
  );
  const row = rows[0]!;
  return { replayLsn: row.replay, paused: row.paused, secondsSinceLastReplay: row.since === null ? null : Number(row.since) };
}

/** Bytes of WAL from `lsn` up to `target`, computed by the server (pg_lsn arithmetic). */
async function walBytesBetween(client: pg.Client, lsn: string, target: string): Promise<number> {
  const { rows } = await client.query<{ diff: string }>('select pg_wal_lsn_diff($2::pg_lsn, $1::pg_lsn)::text as diff', [lsn, target]);
  return Number(rows[0]!.diff);
}

/** The replica's position and how many bytes of the primary's current WAL it has not replayed (read replica first: a concurrent write only makes the figure larger). */
async function bytesBehind(primary: pg.Client, replica: pg.Client): Promise<{ position: ReplicaPosition; replayLsn: string; primaryLsn: string; bytes: number }> {
  const position = await replicaPosition(replica);
  if (position.replayLsn === null) throw new Error('has not replayed any WAL yet (pg_last_wal_replay_lsn() is null)');
  const { rows } = await primary.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn');
  const primaryLsn = rows[0]!.lsn;
  const bytes = Math.max(0, await walBytesBetween(primary, position.replayLsn, primaryLsn));
  return { position, replayLsn: position.replayLsn, primaryLsn, bytes };
}

/** The lag as it stands: seconds are the age of the last transaction replayed, when anything is missing. */
export async function currentLag(primary: pg.Client, replica: pg.Client): Promise<Lag> {
  const { position, bytes } = await bytesBehind(primary, replica);
  return { bytes, seconds: bytes === 0 ? 0 : position.secondsSinceLastReplay, paused: position.paused };
}

/**
 * Bytes: as currentLag. Seconds: zero when nothing is missing; otherwise the time the replica takes
 * to replay up to that position, watched for up to the catch-up window. A replica that does not
 * catch up within it is behind by at least the window and by at most the age of the last
 * transaction it replayed; the larger is reported.
 */
export async function measureLag(primary: pg.Client, replica: pg.Client, catchUpWindowMs: number): Promise<Lag & { seconds: number }> {
  const started = Date.now();
  const { position: before, replayLsn, primaryLsn, bytes } = await bytesBehind(primary, replica);
  if (bytes === 0) return { bytes, seconds: 0, paused: before.paused };

  let latest = before;
  for (;;) {
    const remaining = await walBytesBetween(replica, latest.replayLsn ?? replayLsn, primaryLsn);
    const elapsed = Date.now() - started;
    if (remaining <= 0) return { bytes, seconds: elapsed / 1000, paused: latest.paused };
    if (elapsed >= catchUpWindowMs) {
      const sinceReplay = latest.secondsSinceLastReplay ?? 0;
      return { bytes, seconds: Math.max(elapsed / 1000, sinceReplay), paused: latest.paused };
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_INTERVAL_MS, catchUpWindowMs - elapsed)));
    latest = await replicaPosition(replica);
  }
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} kB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** `1.2 MB (1234567 bytes) and 3.5 s behind the primary`. */
export function describeLag(bytes: number, seconds: number | null): string {
  return `${formatBytes(bytes)} (${bytes} bytes) and ${seconds === null ? 'an unknown number of' : seconds} s behind the primary`;
}
