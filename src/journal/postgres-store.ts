/**
 * The state store for teams: runs, transitions and the deploy lock in a PostgreSQL database that
 * laptops and CI share, so a deploy from CI is refused while one from a laptop holds the lock.
 *
 * ship creates and migrates its own tables (all named `ship_*`), under an advisory lock so two
 * ships starting at once do not race. Lock ages are measured with the database's clock (`now()`),
 * so a laptop whose clock is off can neither break a live lock nor keep a dead one looking fresh.
 * The connection string is a secret: messages name the database as host:port/dbname only.
 */
import pg from 'pg';
import { ERROR_CODES, type CodedError } from '../errors/codes.js';
import { pgConnectionConfig } from '../util/pg-connection.js';
import { describeDatabase, scrubSecrets } from '../util/redact-url.js';
import { redact, redactDeep } from '../util/redact.js';
import { judgeStaleAge, LockAliveError, LockHeldError, LockLostError, type BreakLockOptions, type LockBreak, type LockHolder, type LockStatus } from './lock.js';
import type { Actor } from './actor.js';
import type { JournalEntry, RunOutcome, RunRecord, StageRecord, StateStore, Transition } from './state-store.js';

const APPLICATION_NAME = 'ship-state';
const CONNECT_TIMEOUT_MS = 5_000;
/** A black-holed database must not hang a heartbeat or a transition forever. */
const QUERY_TIMEOUT_MS = 15_000;
const POOL_SIZE = 4;
/** 'shipstat' in ASCII: the advisory lock key that serialises migrations of ship's tables. */
const MIGRATION_LOCK_KEY = '8316012643633881460';
const ACQUIRE_ATTEMPTS = 5;

/** Each migration is idempotent on its own, and runs once, in order, inside the migration transaction. */
const MIGRATIONS: Array<{ version: number; statements: string[] }> = [
  {
    version: 1,
    statements: [
      `create table if not exists ship_runs (
        seq bigserial primary key,
        run_id text not null unique,
        app text not null,
        command text not null,
        version text,
        hosts jsonb not null,
        resume jsonb not null,
        actor jsonb not null,
        started_at timestamptz not null,
        recorded_at timestamptz not null default now(),
        status text,
        summary jsonb,
        finished_at timestamptz,
        -- the newest transition when the outcome was written: later ones mean the run was resumed
        finished_after_seq bigint
      )`,
      'create index if not exists ship_runs_app_seq on ship_runs (app, seq desc)',
      `create table if not exists ship_transitions (
        seq bigserial primary key,
        run_id text not null references ship_runs (run_id) on delete cascade,
        host text not null,
        from_state text not null,
        to_state text not null,
        at timestamptz not null,
        detail text,
        recorded_at timestamptz not null default now()
      )`,
      'create index if not exists ship_transitions_run_seq on ship_transitions (run_id, seq)',
      `create table if not exists ship_locks (
        app text primary key,
        run_id text not null,
        pid integer not null,
        command text not null,
        actor jsonb not null,
        acquired_at timestamptz not null,
        heartbeat_at timestamptz not null,
        stale_after_ms bigint not null
      )`,
      `create table if not exists ship_lock_breaks (
        id bigserial primary key,
        app text not null,
        holder jsonb not null,
        broken_by jsonb not null,
        reason text not null,
        heartbeat_age_ms bigint not null,
        even_if_alive boolean not null,
        broken_at timestamptz not null default now()
      )`,
      'create index if not exists ship_lock_breaks_app on ship_lock_breaks (app, id)',
    ],
  },
  {
    version: 2,
    statements: [
      // Numbered from the transitions' sequence, so "written after the outcome" compares across both tables.
      `create table if not exists ship_stages (
        seq bigint primary key default nextval('ship_transitions_seq_seq'),
        run_id text not null references ship_runs (run_id) on delete cascade,
        stage text not null,
        name text not null,
        status text not null,
        at timestamptz not null,
        version text,
        phase text,
        detail text,
        recorded_at timestamptz not null default now()
      )`,
      'create index if not exists ship_stages_run_seq on ship_stages (run_id, seq)',
    ],
  },
  {
    version: 3,
    // A rollback's facts (the release a host goes back to), so a resume can finish the rollback.
    statements: ['alter table ship_stages add column if not exists facts jsonb'],
  },
];
const SCHEMA_VERSION = Math.max(...MIGRATIONS.map((migration) => migration.version));

/**
 * The state database could not be used (unreachable, wrong password, no rights, a newer schema);
 * names it as host:port/dbname, never with its password. The driver's error is not attached as
 * `cause`: its fields are not vetted for secrets.
 */
export class StateDatabaseError extends Error implements CodedError {
  constructor(message: string) {
    super(message);
    this.name = 'StateDatabaseError';
  }

  get shipCode() {
    return ERROR_CODES.stateStoreUnusable;
  }
}

interface RunRow {
  seq: string;
  run_id: string;
  app: string;
  command: string;
  version: string | null;
  hosts: string[];
  resume: Record<string, unknown>;
  actor: Actor;
  started_at: Date;
  status: RunOutcome['status'] | null;
  summary: RunOutcome['summary'] | null;
  finished_at: Date | null;
  finished_after_seq: string | null;
}

interface TransitionRow {
  seq: string;
  host: string;
  from_state: Transition['from'];
  to_state: Transition['to'];
  at: Date;
  detail: string | null;
}

interface StageRow {
  seq: string;
  stage: StageRecord['stage'];
  name: string;
  status: StageRecord['status'];
  at: Date;
  version: string | null;
  phase: StageRecord['phase'] | null;
  detail: string | null;
  facts: Record<string, string> | null;
}

interface LockRow {
  app: string;
  run_id: string;
  pid: number;
  command: string;
  actor: Actor;
  acquired_at: Date;
  heartbeat_at: Date;
  stale_after_ms: string;
  age_ms: number;
}

const LOCK_COLUMNS = `app, run_id, pid, command, actor, acquired_at, heartbeat_at, stale_after_ms,
  greatest(0, extract(epoch from (now() - heartbeat_at)) * 1000)::float8 as age_ms`;

/** Strings scrubbed of known secrets before they are stored: the journal outlives the run. */
function scrubbed<T>(value: T): T {
  return JSON.parse(JSON.stringify(redactDeep(value))) as T;
}

function json(value: unknown): string {
  return JSON.stringify(scrubbed(value));
}

function lockStatus(row: LockRow, where: string): LockStatus {
  const { staleAfterMs, staleAgeNote } = judgeStaleAge(Number(row.stale_after_ms), `the lock row of app ${row.app} in ${where}`);
  return {
    runId: row.run_id,
    pid: row.pid,
    app: row.app,
    command: row.command,
    actor: row.actor,
    acquiredAt: row.acquired_at.toISOString(),
    heartbeatAt: row.heartbeat_at.toISOString(),
    staleAfterMs,
    heartbeatAgeMs: Math.round(row.age_ms),
    stale: row.age_ms > staleAfterMs,
    ...(staleAgeNote ? { staleAgeNote } : {}),
  };
}

function advice(error: unknown): string {
  const code = (error as { code?: string } | undefined)?.code;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'ETIMEDOUT' || code === 'EHOSTUNREACH') {
    return '; is the database up and reachable from here?';
  }
  if (code === '28P01' || code === '28000') return '; check the user and password in state.url';
  if (code === '42501') return '; the role needs CREATE on the database (ship creates its ship_* tables) and rights on them';
  if (code === '3D000') return '; create the database first, or point state.url at an existing one';
  return '';
}

export class PostgresStateStore implements StateStore {
  readonly kind = 'postgres';
  private readonly pool: pg.Pool;
  private readonly where: string;
  private migrated: Promise<void> | undefined;
  /** Pooled connections already set up by connect(). */
  private readonly prepared = new WeakSet<pg.PoolClient>();

  /** `url` is `state.url`: a secret, never put in a message. */
  constructor(private readonly url: string) {
    this.where = describeDatabase(url);
    this.pool = new pg.Pool({
      // A URL or a libpq key/value string, which pg alone would take for a host name.
      ...pgConnectionConfig(url),
      max: POOL_SIZE,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      query_timeout: QUERY_TIMEOUT_MS,
      application_name: APPLICATION_NAME,
      idleTimeoutMillis: 10_000,
      allowExitOnIdle: true,
    });
    // A server that drops an idle connection emits 'error' on the pool; the next query reports it.
    this.pool.on('error', () => undefined);
  }

  /**
   * A connection from the pool, set up before its first use: "durable before it resolves" must
   * hold even where the server's default trades it for speed. The setting is awaited here, not
   * sent from the pool's 'connect' event, which would run it alongside the caller's first query
   * (pg warns about that, and its failure would go unseen).
   */
  private async connect(what?: string): Promise<pg.PoolClient> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw this.fail(what ? `${what}: cannot connect` : 'cannot connect', error);
    }
    if (this.prepared.has(client)) return client;
    try {
      await client.query('set synchronous_commit = on');
    } catch (error) {
      client.release(error instanceof Error ? error : true);
      throw this.fail(`${what ? `${what}: ` : ''}cannot set up the connection`, error);
    }
    this.prepared.add(client);
    return client;
  }

  private fail(what: string, error: unknown): StateDatabaseError {
    if (error instanceof StateDatabaseError) return error;
    const message = error instanceof Error ? error.message || error.name : String(error);
    return new StateDatabaseError(`state store postgres ${this.where}: ${what}: ${scrubSecrets(message, this.url)}${advice(error)}`);
  }

  /** Creates or migrates ship's tables once per store; a failed attempt is retried by the next call. */
  private ready(): Promise<void> {
    this.migrated ??= this.migrate().catch((error: unknown) => {
      this.migrated = undefined;
      throw error;
    });
    return this.migrated;
  }

  private async migrate(): Promise<void> {
    // The first connection a store makes: its failure says plainly that it cannot connect.
    const client = await this.connect();
    try {
      await client.query('begin');
      // Held to the end of the transaction: a second ship waits here, then finds the work done.
      await client.query('select pg_advisory_xact_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
      await client.query('create table if not exists ship_schema_version (version integer primary key, applied_at timestamptz not null default now())');
      const current = Number((await client.query<{ version: number }>('select coalesce(max(version), 0) as version from ship_schema_version')).rows[0]?.version ?? 0);
      if (current > SCHEMA_VERSION) {
        throw new StateDatabaseError(
          `state store postgres ${this.where}: its ship tables are at schema version ${current}, newer than this ship knows (${SCHEMA_VERSION}); upgrade ship`,
        );
      }
      for (const migration of MIGRATIONS.filter((m) => m.version > current)) {
        for (const statement of migration.statements) await client.query(statement);
        await client.query('insert into ship_schema_version (version) values ($1)', [migration.version]);
      }
      await client.query('commit');
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      throw this.fail("cannot create or migrate ship's tables", error);
    } finally {
      client.release();
    }
  }

  private async query<R extends pg.QueryResultRow>(what: string, text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    await this.ready();
    const client = await this.connect(what);
    try {
      const result = await client.query<R>(text, values);
      client.release();
      return result;
    } catch (error) {
      // As pg's pool.query does: a connection whose query failed (a timeout, a reset) is not reused.
      client.release(error instanceof Error ? error : true);
      throw this.fail(what, error);
    }
  }

  /** Runs `body` in one transaction on one connection. */
  private async transaction<T>(what: string, body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    await this.ready();
    const client = await this.connect(what);
    try {
      await client.query('begin');
      const result = await body(client);
      await client.query('commit');
      return result;
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      if (error instanceof LockAliveError || error instanceof LockHeldError) throw error;
      throw this.fail(what, error);
    } finally {
      client.release();
    }
  }

  async beginRun(run: RunRecord): Promise<void> {
    const clean = scrubbed(run);
    const inserted = await this.query(
      `record the start of run ${run.runId}`,
      `insert into ship_runs (run_id, app, command, version, hosts, resume, actor, started_at)
       values ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7::jsonb, $8)
       on conflict (run_id) do nothing`,
      [clean.runId, clean.app, clean.command, clean.version ?? null, json(clean.hosts), json(clean.resume), json(clean.actor), clean.startedAt],
    );
    if (inserted.rowCount !== 1) {
      throw new StateDatabaseError(`state store postgres ${this.where}: run ${run.runId} is already recorded; a run id is used once`);
    }
  }

  /** Each host's last transition insert: the next waits for it, so concurrent calls keep their order (seq). */
  private readonly hostWrites = new Map<string, Promise<unknown>>();

  recordTransition(transition: Transition): Promise<void> {
    const key = `${transition.runId}\u0000${transition.host}`;
    const written = (this.hostWrites.get(key) ?? Promise.resolve()).catch(() => undefined).then(() => this.insertTransition(transition));
    this.hostWrites.set(key, written);
    void written
      .finally(() => {
        if (this.hostWrites.get(key) === written) this.hostWrites.delete(key);
      })
      .catch(() => undefined);
    return written;
  }

  private async insertTransition(transition: Transition): Promise<void> {
    const clean = scrubbed(transition);
    const result = await this.query(
      `record ${transition.host} ${transition.from} -> ${transition.to} for run ${transition.runId}`,
      // Inserting through a select turns a missing run into zero rows instead of a foreign-key error.
      `insert into ship_transitions (run_id, host, from_state, to_state, at, detail)
       select run_id, $2, $3, $4, $5, $6 from ship_runs where run_id = $1`,
      [clean.runId, clean.host, clean.from, clean.to, clean.at, clean.detail ?? null],
    );
    if (result.rowCount !== 1) {
      throw new StateDatabaseError(`state store postgres ${this.where}: no run ${transition.runId} to record ${transition.host}'s transition in; beginRun must come first`);
    }
  }

  async recordStage(stage: StageRecord): Promise<void> {
    const clean = scrubbed(stage);
    const result = await this.query(
      `record ${stage.stage} ${stage.name} ${stage.status} for run ${stage.runId}`,
      `insert into ship_stages (run_id, stage, name, status, at, version, phase, detail, facts)
       select run_id, $2, $3, $4, $5, $6, $7, $8, $9::jsonb from ship_runs where run_id = $1`,
      [clean.runId, clean.stage, clean.name, clean.status, clean.at, clean.version ?? null, clean.phase ?? null, clean.detail ?? null, clean.facts ? json(clean.facts) : null],
    );
    if (result.rowCount !== 1) throw new StateDatabaseError(`state store postgres ${this.where}: no run ${stage.runId} to record ${stage.name} in; beginRun must come first`);
  }

  async finishRun(runId: string, outcome: RunOutcome): Promise<void> {
    const clean = scrubbed(outcome);
    const result = await this.query(
      `record the outcome of run ${runId}`,
      `update ship_runs set status = $2, summary = $3::jsonb, finished_at = $4,
         finished_after_seq = greatest(
           (select coalesce(max(seq), 0) from ship_transitions where run_id = $1),
           (select coalesce(max(seq), 0) from ship_stages where run_id = $1))
       where run_id = $1`,
      [runId, clean.status, json(clean.summary), clean.finishedAt],
    );
    if (result.rowCount !== 1) throw new StateDatabaseError(`state store postgres ${this.where}: no run ${runId} to record the outcome of`);
  }

  private async entry(row: RunRow): Promise<JournalEntry> {
    const transitions = (
      await this.query<TransitionRow>(
        `read the transitions of run ${row.run_id}`,
        'select seq, host, from_state, to_state, at, detail from ship_transitions where run_id = $1 order by seq',
        [row.run_id],
      )
    ).rows;
    const stages = (
      await this.query<StageRow>(
        `read the stages of run ${row.run_id}`,
        'select seq, stage, name, status, at, version, phase, detail, facts from ship_stages where run_id = $1 order by seq',
        [row.run_id],
      )
    ).rows;
    const run: RunRecord = {
      runId: row.run_id,
      app: row.app,
      command: row.command,
      hosts: row.hosts,
      resume: row.resume,
      actor: row.actor,
      startedAt: row.started_at.toISOString(),
    };
    if (row.version !== null) run.version = row.version;
    const entry: JournalEntry = {
      run,
      transitions: transitions.map((t) => {
        const transition: Transition = { runId: row.run_id, host: t.host, from: t.from_state, to: t.to_state, at: t.at.toISOString() };
        if (t.detail !== null) transition.detail = t.detail;
        return transition;
      }),
      stages: stages.map((s) => {
        const stage: StageRecord = { runId: row.run_id, stage: s.stage, name: s.name, status: s.status, at: s.at.toISOString() };
        if (s.version !== null) stage.version = s.version;
        if (s.phase !== null) stage.phase = s.phase;
        if (s.detail !== null) stage.detail = s.detail;
        if (s.facts !== null) stage.facts = s.facts;
        return stage;
      }),
    };
    const newestSeq = [...transitions, ...stages].reduce((newest, r) => (BigInt(r.seq) > newest ? BigInt(r.seq) : newest), 0n);
    // A run resumed after it ended is running again: its old outcome no longer holds.
    const resumedSince = row.finished_after_seq !== null && newestSeq > BigInt(row.finished_after_seq);
    if (row.status !== null && row.finished_at !== null && !resumedSince) {
      entry.outcome = { status: row.status, summary: row.summary ?? { hosts: [], outOfRotation: [] }, finishedAt: row.finished_at.toISOString() };
    }
    return entry;
  }

  async lastRun(app: string): Promise<JournalEntry | undefined> {
    // Ordered by the database's sequence, not by startedAt: the clocks of laptops and CI differ.
    const row = (await this.query<RunRow>(`read the last run of app ${app}`, 'select * from ship_runs where app = $1 order by seq desc limit 1', [app])).rows[0];
    return row ? this.entry(row) : undefined;
  }

  async run(runId: string): Promise<JournalEntry | undefined> {
    const row = (await this.query<RunRow>(`read run ${runId}`, 'select * from ship_runs where run_id = $1', [runId])).rows[0];
    return row ? this.entry(row) : undefined;
  }

  private async lockRow(app: string, client?: pg.PoolClient, forUpdate = false): Promise<LockRow | undefined> {
    const text = `select ${LOCK_COLUMNS} from ship_locks where app = $1${forUpdate ? ' for update' : ''}`;
    const result = client ? await client.query<LockRow>(text, [app]) : await this.query<LockRow>(`read the deploy lock of app ${app}`, text, [app]);
    return result.rows[0];
  }

  async acquireLock(holder: LockHolder, options: { staleAfterMs: number }): Promise<void> {
    const clean = scrubbed(holder);
    for (let attempt = 1; attempt <= ACQUIRE_ATTEMPTS; attempt++) {
      // Exactly one of several racing inserts creates the row; the others see the conflict.
      const inserted = await this.query(
        `take the deploy lock of app ${holder.app}`,
        `insert into ship_locks (app, run_id, pid, command, actor, acquired_at, heartbeat_at, stale_after_ms)
         values ($1, $2, $3, $4, $5::jsonb, now(), now(), $6)
         on conflict (app) do nothing`,
        [clean.app, clean.runId, clean.pid, clean.command, json(clean.actor), options.staleAfterMs],
      );
      if (inserted.rowCount === 1) return;
      const current = await this.lockRow(holder.app);
      // Released between the insert and the read: try again.
      if (current) {
        const status = lockStatus(current, this.where);
        throw new LockHeldError(status, status.stale);
      }
    }
    throw new StateDatabaseError(`state store postgres ${this.where}: the deploy lock of app ${holder.app} kept changing hands over ${ACQUIRE_ATTEMPTS} attempts; try again`);
  }

  async heartbeat(app: string, runId: string): Promise<void> {
    const result = await this.query(`refresh the deploy lock of app ${app}`, 'update ship_locks set heartbeat_at = now() where app = $1 and run_id = $2', [app, runId]);
    if (result.rowCount === 1) return;
    const current = await this.lockRow(app);
    throw current
      ? new LockLostError(app, runId, `it is now held by run ${current.run_id}`, lockStatus(current, this.where))
      : new LockLostError(app, runId, `it is gone from ${this.where} (broken with \`ship unlock\`?)`);
  }

  async releaseLock(app: string, runId: string): Promise<void> {
    // Never another run's lock: ours may have been broken and taken since.
    await this.query(`release the deploy lock of app ${app}`, 'delete from ship_locks where app = $1 and run_id = $2', [app, runId]);
  }

  async currentLock(app: string): Promise<LockStatus | undefined> {
    const row = await this.lockRow(app);
    return row ? lockStatus(row, this.where) : undefined;
  }

  async breakLock(app: string, by: Actor, reason: string, options: BreakLockOptions = {}): Promise<LockHolder | undefined> {
    if (reason.trim() === '') throw new Error(`breaking the deploy lock of app ${app} needs a reason (--reason "..."): it is recorded`);
    return this.transaction(`break the deploy lock of app ${app}`, async (client) => {
      // Row-locked: the holder's heartbeat, or another breaker, waits until this is decided.
      const row = await this.lockRow(app, client, true);
      if (!row) return undefined;
      const status = lockStatus(row, this.where);
      if (!status.stale && !options.evenIfAlive) throw new LockAliveError(status);
      const { staleAfterMs: _age, heartbeatAgeMs, stale: _stale, staleAgeNote: _note, ...holder } = status;
      await client.query(
        `insert into ship_lock_breaks (app, holder, broken_by, reason, heartbeat_age_ms, even_if_alive)
         values ($1, $2::jsonb, $3::jsonb, $4, $5, $6)`,
        [app, json(holder), json(by), redact(reason), heartbeatAgeMs, !status.stale],
      );
      await client.query('delete from ship_locks where app = $1 and run_id = $2', [app, row.run_id]);
      return holder;
    });
  }

  /** Every lock broken for the app, oldest first. */
  async lockBreaks(app: string): Promise<LockBreak[]> {
    const rows = (
      await this.query<{ app: string; holder: LockHolder; broken_by: Actor; reason: string; heartbeat_age_ms: string; even_if_alive: boolean; broken_at: Date }>(
        `read the lock breaks of app ${app}`,
        'select app, holder, broken_by, reason, heartbeat_age_ms, even_if_alive, broken_at from ship_lock_breaks where app = $1 order by id',
        [app],
      )
    ).rows;
    return rows.map((row) => ({
      app: row.app,
      holder: row.holder,
      by: row.broken_by,
      reason: row.reason,
      brokenAt: row.broken_at.toISOString(),
      heartbeatAgeMs: Number(row.heartbeat_age_ms),
      evenIfAlive: row.even_if_alive,
    }));
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
