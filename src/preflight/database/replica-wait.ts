/**
 * After the expand migrations: wait until every replica and every read path reports the schema
 * version the primary now has, so no instance of the new code reads through a server that lacks
 * the columns it needs. A replica is followed on one connection; a read path is sampled with fresh
 * connections each round, as the pre-flight does (a pooler may hand each one to another server).
 * The wait has a deadline; past it, the error names everyone still behind and by how much.
 */
import type pg from 'pg';
import { describeSchemaVersion, readAppliedVersions, sameSchemaVersion, type AppliedVersions, type VersionSource } from './applied-versions.js';
import { connect, DatabaseCheckError, DEFAULT_CONNECT_TIMEOUT_MS, driverMessage } from './connect.js';
import { checkReadPath, DEFAULT_READ_PATH_SAMPLES } from './read-paths.js';
import { currentLag, describeLag, PAUSED_REPLAY } from './replica-lag.js';
import { openReplica } from './replicas.js';
import { ERROR_CODES, type CodedError } from '../../errors/codes.js';
import { sleep } from '../../util/deadline.js';
import { formatDuration } from '../../util/duration.js';
import { describeDatabase } from '../../util/redact-url.js';

export interface SchemaWaitOptions {
  primaryUrl: string;
  replicas: readonly string[];
  readPaths: readonly string[];
  versionSource: VersionSource;
  /** How long everyone has to show the primary's version (database.migrate.waitForReplicas). */
  timeoutMs: number;
  /** Also the limit for each query: a server slower than this to answer is as good as unreachable. */
  connectTimeoutMs?: number;
  /** Fresh connections per read path and round (default 5). */
  readPathSamples?: number;
  /** Between rounds (default 500 ms). */
  pollIntervalMs?: number;
  signal?: AbortSignal;
  /** After each round that leaves someone behind. */
  onProgress?: (progress: SchemaWaitProgress) => void;
}

/** A replica or read path that does not report the primary's schema version yet. */
export interface BehindDatabase {
  kind: 'replica' | 'read path';
  /** host:port/dbname; never the password. */
  name: string;
  /** Its schema version as describeSchemaVersion prints it, when it could be read. */
  version: string | null;
  /** Replicas only, when measured: WAL bytes not replayed yet, and the age of the last transaction it replayed. */
  lagBytes: number | null;
  lagSeconds: number | null;
  replayPaused: boolean | null;
  /** It answered the last check (false: unreachable, its check failed or did not end in time). */
  answered: boolean;
  /** What was seen: its version and lag, or why they are unknown. */
  detail: string;
}

export interface SchemaWaitProgress {
  waitedMs: number;
  primaryVersion: string;
  behind: BehindDatabase[];
  /** One line for events: each one behind and what was seen. */
  detail: string;
}

export interface SchemaWaitResult {
  /** From the start of the wait until the last one showed the primary's version. */
  waitedMs: number;
  primaryVersion: string;
  /** Each replica and read path, with how long after the start of the wait it was seen on the version. */
  caughtUp: Array<{ kind: BehindDatabase['kind']; name: string; afterMs: number }>;
  /** One line for events and the journal. */
  detail: string;
}

/** The deadline passed with replicas or read paths still behind; the run must stop before any instance leaves. */
export class ReplicaWaitTimeout extends Error implements CodedError {
  override readonly name = 'ReplicaWaitTimeout';

  constructor(
    readonly behind: readonly BehindDatabase[],
    readonly primaryVersion: string,
    readonly waitedMs: number,
  ) {
    super(timeoutMessage(behind, primaryVersion, waitedMs));
  }

  get shipCode() {
    return ERROR_CODES.replicaWaitTimeout;
  }
}

function timeoutMessage(behind: readonly BehindDatabase[], primaryVersion: string, waitedMs: number): string {
  const steps = [
    behind.some((b) => b.replayPaused) ? 'resume WAL replay where it is paused (select pg_wal_replay_resume() on that replica)' : undefined,
    behind.some((b) => !b.answered) ? 'make the ones that did not answer reachable' : undefined,
    'raise database.migrate.waitForReplicas if they are only slow',
  ].filter((step) => step !== undefined);
  return (
    `${behind.length} database(s) did not show the primary's schema version ${primaryVersion} after ${formatDuration(waitedMs)}:\n` +
    behind.map((b) => `  ${describeBehind(b)}`).join('\n') +
    `\nThe new code needs that version wherever it reads. To go on: ${steps.join('; ')}; then run \`ship resume\`.`
  );
}

function describeBehind(behind: BehindDatabase): string {
  return `${behind.kind} ${behind.name}: ${behind.detail}`;
}

function describeCaughtUp(primaryVersion: string, caughtUp: SchemaWaitResult['caughtUp']): string {
  if (caughtUp.length === 0) return `no replicas or read paths to wait for (primary at schema version ${primaryVersion})`;
  return `schema version ${primaryVersion} on ${caughtUp.map((one) => `${one.kind} ${one.name} after ${formatDuration(one.afterMs)}`).join(', ')}`;
}

/** Where one replica or read path stands; `check` moves it on and never throws. */
interface Follower {
  readonly caughtUp: boolean;
  readonly behind: BehindDatabase;
  check(): Promise<void>;
  close(): Promise<void>;
}

interface WaitContext {
  primary: pg.Client;
  primaryVersion: AppliedVersions;
  versionSource: VersionSource;
  connectTimeoutMs: number;
  readPathSamples: number;
}

/** Before the first check ends, and what is reported of a server whose first check never does. */
const UNKNOWN = { version: null, lagBytes: null, lagSeconds: null, replayPaused: null, answered: false, detail: 'has not answered yet' } as const;

class ReplicaFollower implements Follower {
  caughtUp = false;
  behind: BehindDatabase;
  private client: pg.Client | undefined;
  private closed = false;

  constructor(
    private readonly url: string,
    private readonly wait: WaitContext,
  ) {
    this.behind = { kind: 'replica', name: describeDatabase(url), ...UNKNOWN };
  }

  async check(): Promise<void> {
    const client = this.client ?? (await this.open());
    if (!client) return;
    try {
      const lag = await currentLag(this.wait.primary, client);
      const applied = await readAppliedVersions(client, this.wait.versionSource, { databaseUrl: this.url, role: 'replica' }).catch((error: unknown) => {
        // The version table itself may not have reached it yet (the first migration made it).
        if (error instanceof DatabaseCheckError) return error;
        throw error;
      });
      if (!(applied instanceof Error) && sameSchemaVersion(applied, this.wait.primaryVersion)) {
        this.caughtUp = true;
        await this.close();
        return;
      }
      const seconds = lag.seconds === null ? null : Math.round(lag.seconds * 1000) / 1000;
      const version = applied instanceof Error ? null : describeSchemaVersion(applied);
      const at = applied instanceof Error ? applied.message.replace(`replica ${this.behind.name}: `, '') : `at schema version ${version}`;
      const paused = lag.paused ? `; ${PAUSED_REPLAY}` : '';
      const detail = `${at}, ${describeLag(lag.bytes, seconds)}${paused}`;
      this.behind = { ...this.behind, version, lagBytes: lag.bytes, lagSeconds: seconds, replayPaused: lag.paused, answered: true, detail };
    } catch (error) {
      this.behind = { ...this.behind, ...UNKNOWN, detail: `could not be checked: ${driverMessage(error, this.url)}` };
      // A fresh connection next round: this one may be broken.
      await this.dropClient();
    }
  }

  private async open(): Promise<pg.Client | undefined> {
    const { connectTimeoutMs } = this.wait;
    const opened = await openReplica(this.url, { connectTimeoutMs, queryTimeoutMs: connectTimeoutMs });
    if ('problem' in opened) {
      this.behind = { ...this.behind, ...UNKNOWN, detail: opened.problem };
      return undefined;
    }
    // The wait may have ended while this connection was being made.
    if (this.closed) {
      await opened.client.end().catch(() => undefined);
      return undefined;
    }
    this.client = opened.client;
    return opened.client;
  }

  private async dropClient(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.dropClient();
  }
}

class ReadPathFollower implements Follower {
  caughtUp = false;
  behind: BehindDatabase;

  constructor(
    private readonly url: string,
    private readonly wait: WaitContext,
  ) {
    this.behind = { kind: 'read path', name: describeDatabase(url), ...UNKNOWN };
  }

  async check(): Promise<void> {
    const { primaryVersion, versionSource, connectTimeoutMs, readPathSamples } = this.wait;
    const result = await checkReadPath(this.url, { primaryVersion, versionSource, samples: readPathSamples, connectTimeoutMs, queryTimeoutMs: connectTimeoutMs });
    if (result.ok) {
      this.caughtUp = true;
      return;
    }
    const stale = result.samples.find((sample) => sample.version !== null && sample.version !== describeSchemaVersion(primaryVersion));
    const answered = result.samples.some((sample) => sample.error === undefined);
    this.behind = { ...this.behind, version: stale?.version ?? null, answered, detail: result.problem ?? 'not ok' };
  }

  async close(): Promise<void> {
    // Each sample's connection is closed when the sample ends.
  }
}

/**
 * Polls every replica and read path until each reports the primary's applied versions; resolves
 * with the time waited. Throws ReplicaWaitTimeout past `timeoutMs` (a round still running then is
 * not waited for: a hung server is reported as not having answered), and a DatabaseCheckError
 * when the primary cannot be asked at all.
 */
export async function waitForSchemaVersion(options: SchemaWaitOptions): Promise<SchemaWaitResult> {
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const primary = await connect(options.primaryUrl, { role: 'primary', connectTimeoutMs, queryTimeoutMs: connectTimeoutMs });
  const followers: Follower[] = [];
  try {
    const primaryVersion = await readAppliedVersions(primary, options.versionSource, { databaseUrl: options.primaryUrl, role: 'primary' });
    const primaryText = describeSchemaVersion(primaryVersion);
    const wait: WaitContext = {
      primary,
      primaryVersion,
      versionSource: options.versionSource,
      connectTimeoutMs,
      readPathSamples: options.readPathSamples ?? DEFAULT_READ_PATH_SAMPLES,
    };
    followers.push(...options.replicas.map((url) => new ReplicaFollower(url, wait)), ...options.readPaths.map((url) => new ReadPathFollower(url, wait)));
    // A follower whose check outlived a round is not checked again until that check ends.
    const running = new Map<Follower, Promise<void>>();
    const caughtUpAt = new Map<Follower, number>();
    for (;;) {
      options.signal?.throwIfAborted();
      const round = followers
        .filter((follower) => !follower.caughtUp)
        .map((follower) => {
          let check = running.get(follower);
          if (!check) {
            check = follower.check().finally(() => running.delete(follower));
            running.set(follower, check);
          }
          return check;
        });
      await untilDeadline(Promise.all(round), options.timeoutMs - elapsed());
      for (const follower of followers) if (follower.caughtUp && !caughtUpAt.has(follower)) caughtUpAt.set(follower, elapsed());
      const behind = followers.filter((follower) => !follower.caughtUp).map((follower) => follower.behind);
      if (behind.length === 0) {
        const caughtUp = followers.map((follower) => ({ kind: follower.behind.kind, name: follower.behind.name, afterMs: caughtUpAt.get(follower) ?? 0 }));
        return { waitedMs: elapsed(), primaryVersion: primaryText, caughtUp, detail: describeCaughtUp(primaryText, caughtUp) };
      }
      const remaining = options.timeoutMs - elapsed();
      if (remaining <= 0) throw new ReplicaWaitTimeout(behind, primaryText, elapsed());
      options.onProgress?.({ waitedMs: elapsed(), primaryVersion: primaryText, behind, detail: behind.map(describeBehind).join('; ') });
      await sleep(Math.min(options.pollIntervalMs ?? 500, remaining), options.signal);
    }
  } finally {
    await Promise.all(followers.map((follower) => follower.close()));
    await primary.end().catch(() => undefined);
  }
}

/** `work`, or nothing once `ms` have passed (the work goes on; its followers report what they last saw). */
async function untilDeadline(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([work, new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, ms))))]);
  } finally {
    clearTimeout(timer);
  }
}
