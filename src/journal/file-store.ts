/**
 * The default state store: plain files in `.ship/` next to the config, readable only by their owner.
 *
 *   runs/<app>/<runId>.jsonl   one run: its header, every transition and its outcome, one JSON record
 *                              a line, appended and fsynced before the caller goes on
 *   runs/<app>/latest          the newest run's id, replaced atomically (temp, fsync, rename, fsync dir)
 *   locks/<app>.json           the deploy lock; its modification time is the heartbeat
 *   locks/<app>.breaks.jsonl   every lock broken with `ship unlock`, who did it and why
 *
 * A transition costs one synchronous append (O_DSYNC); appends that arrive while one is under way
 * are written together (group commit), so a wide batch does not queue up disk flushes.
 */
import { close as fsClose, constants, ftruncate as fsFtruncate, open as fsOpen, write as fsWrite } from 'node:fs';
import { chmod, link, mkdir, open, readdir, readFile, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join, parse, relative, sep } from 'node:path';
import { redact } from '../util/redact.js';
import {
  DEFAULT_STALE_AFTER_MS,
  LockAliveError,
  LockLostError,
  type BreakLockOptions,
  type LockBreak,
  type LockStatus,
} from './lock.js';
import {
  LockHeldError,
  type Actor,
  type JournalEntry,
  type LockHolder,
  type RunOutcome,
  type RunRecord,
  type StateStore,
  type Transition,
} from './state-store.js';

const DIR_MODE = 0o700;
const FILE_MODE = 0o600;
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$/;
const ACQUIRE_ATTEMPTS = 5;

/** A journal entry with what the reader had to put up with (a record torn by a crash). */
export interface StoredJournalEntry extends JournalEntry {
  warnings?: string[];
}

type JournalRecord =
  | { type: 'run'; run: RunRecord }
  | { type: 'transition'; transition: Transition }
  | { type: 'outcome'; outcome: RunOutcome }
  | { type: 'note'; warning: string };

/** A journal or lock file that cannot be read as one; names the file and the line. */
export class StateFileError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'StateFileError';
  }
}

function checkName(kind: 'app' | 'run id', name: string): string {
  // Both become file names: nothing that could climb out of the folder or hide a file.
  if (!SAFE_NAME.test(name)) throw new Error(`state store: ${kind} ${JSON.stringify(name)} is not usable as a file name (letters, digits, ., _ and -; at most 200)`);
  return name;
}

/** Every string scrubbed of known secrets, whatever the caller forgot: the journal outlives the run. */
function serialize(value: unknown): string {
  return JSON.stringify(value, (_key, field: unknown) => (typeof field === 'string' ? redact(field) : field));
}

function isErrno(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === code;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * mkdir -p with the real reason when it fails: Node's recursive mkdir reports ENOENT for a folder
 * it cannot create on a read-only file system, which would send a person looking for a missing path.
 */
async function makeDirs(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: DIR_MODE });
    return;
  } catch (error) {
    if (!isErrno(error, 'ENOENT')) throw error;
  }
  let path = parse(dir).root;
  for (const part of dir.slice(path.length).split(sep).filter(Boolean)) {
    path = join(path, part);
    try {
      await mkdir(path, { mode: DIR_MODE });
    } catch (error) {
      if (!isErrno(error, 'EEXIST')) throw error;
    }
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  for (let offset = 0; offset < data.length; ) {
    const { bytesWritten } = await handle.write(data, offset, data.length - offset);
    offset += bytesWritten;
  }
}

/** A file fully written and synced under a temporary name next to `besides`, ready to be linked or renamed. */
async function writeTemp(besides: string, content: string): Promise<string> {
  const temp = `${besides}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, FILE_MODE);
  try {
    await writeAll(handle, Buffer.from(content));
    await handle.datasync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await handle.close();
  return temp;
}

function isRecordOfType(value: unknown): value is { type: string } & Record<string, unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}

function hasStrings(value: unknown, keys: string[]): boolean {
  return typeof value === 'object' && value !== null && keys.every((key) => typeof (value as Record<string, unknown>)[key] === 'string');
}

/** Why a parsed line is not a journal record, or undefined when it is one. */
function invalidRecord(record: unknown): string | undefined {
  if (!isRecordOfType(record)) return 'not a journal record (no type)';
  switch (record.type) {
    case 'run':
      return hasStrings(record.run, ['runId', 'app', 'command', 'startedAt']) ? undefined : 'a run header without runId, app, command or startedAt';
    case 'transition':
      return hasStrings(record.transition, ['runId', 'host', 'from', 'to', 'at']) ? undefined : 'a transition without runId, host, from, to or at';
    case 'outcome':
      return hasStrings(record.outcome, ['status', 'finishedAt']) ? undefined : 'an outcome without status or finishedAt';
    case 'note':
      return typeof record.warning === 'string' ? undefined : 'a note without its warning';
    default:
      return undefined;
  }
}

interface SplitJournal {
  /** Complete lines (each ended by a newline), with their 1-based line numbers. */
  lines: Array<{ number: number; text: string }>;
  /** Text after the last newline: a record whose write was cut short. */
  tail?: { number: number; text: string };
  /** Bytes up to and including the last newline. */
  completeBytes: number;
}

function splitJournal(content: Buffer): SplitJournal {
  const lastNewline = content.lastIndexOf(0x0a);
  const completeBytes = lastNewline + 1;
  const complete = content.subarray(0, completeBytes).toString('utf8');
  const texts = complete === '' ? [] : complete.slice(0, -1).split('\n');
  const lines = texts.map((text, index) => ({ number: index + 1, text }));
  const tailText = content.subarray(completeBytes).toString('utf8');
  return tailText === '' ? { lines, completeBytes } : { lines, completeBytes, tail: { number: lines.length + 1, text: tailText } };
}

/** The tail parsed as a record when it happens to be whole (only its newline was lost), else undefined. */
function wholeTail(tail: { text: string }): JournalRecord | undefined {
  try {
    const record: unknown = JSON.parse(tail.text);
    return invalidRecord(record) === undefined ? (record as JournalRecord) : undefined;
  } catch {
    return undefined;
  }
}

/** Folds a journal file into its entry. Garbage in a complete line is an error naming the file and line. */
function parseJournal(file: string, content: Buffer): StoredJournalEntry {
  const { lines, tail } = splitJournal(content);
  const warnings: string[] = [];
  const records: Array<{ number: number; record: JournalRecord }> = [];
  for (const line of lines) {
    let record: unknown;
    try {
      record = JSON.parse(line.text);
    } catch (error) {
      throw new StateFileError(file, `line ${line.number} is not JSON (${errorText(error)}): the journal is damaged; move the file aside to go on, and check the fleet with \`ship status\``);
    }
    const problem = invalidRecord(record);
    if (problem) throw new StateFileError(file, `line ${line.number} is ${problem}: the journal is damaged; move the file aside to go on`);
    records.push({ number: line.number, record: record as JournalRecord });
  }
  if (tail) {
    const record = wholeTail(tail);
    if (record) {
      records.push({ number: tail.number, record });
      warnings.push(`${file}: line ${tail.number} lacks its end of line (a write was interrupted); the record itself is whole and was kept`);
    } else {
      warnings.push(`${file}: line ${tail.number} was cut short by an interrupted write (${tail.text.length} bytes) and was ignored`);
    }
  }
  const header = records[0];
  if (!header || header.record.type !== 'run') {
    throw new StateFileError(file, `line 1 is not a run header${records.length === 0 ? ' (the file is empty or was cut short while the run was starting)' : ''}: not a usable ship journal; move it aside`);
  }
  const run = header.record.run;
  const transitions: Transition[] = [];
  let outcome: RunOutcome | undefined;
  for (const { number, record } of records.slice(1)) {
    switch (record.type) {
      case 'transition':
        if (record.transition.runId !== run.runId) {
          throw new StateFileError(file, `line ${number} is a transition of run ${record.transition.runId} in the journal of run ${run.runId}: the journal is damaged`);
        }
        transitions.push(record.transition);
        // A run resumed after it ended is running again: its old outcome no longer holds.
        outcome = undefined;
        break;
      case 'outcome':
        outcome = record.outcome;
        break;
      case 'note':
        warnings.push(`${file}: ${record.warning}`);
        break;
      case 'run':
        throw new StateFileError(file, `line ${number} is a second run header: the journal is damaged`);
      default:
        warnings.push(`${file}: line ${number} has a record type this ship does not know (${String((record as { type: unknown }).type)}), ignored; written by a newer ship?`);
    }
  }
  const entry: StoredJournalEntry = { run, transitions };
  if (outcome) entry.outcome = outcome;
  if (warnings.length) entry.warnings = warnings;
  return entry;
}

/** fs.write on a raw descriptor: a FileHandle costs about twice the CPU per call, and a rollout makes thousands. */
function writeFd(fd: number, data: Buffer, offset: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fsWrite(fd, data, offset, data.length - offset, null, (error, written) => (error ? reject(error) : resolve(written)));
  });
}

/**
 * One run's journal, open for appending with O_DSYNC, so a write returns only once its data is on
 * stable storage (one system call instead of write + fdatasync). Records that arrive while a write
 * is under way are written together; each caller's promise resolves only once its record is on disk.
 */
class JournalFile {
  private pending: Array<{ line: string; resolve: () => void; reject: (error: Error) => void }> = [];
  private flushing: Promise<void> | undefined;
  private broken: Error | undefined;

  private constructor(
    readonly file: string,
    private readonly fd: number,
    /** Bytes known to be whole records: after a failed write the file is cut back to it. */
    private size: number,
  ) {}

  /** Opens an existing journal whose `size` bytes are whole records. */
  static async open(file: string, size: number): Promise<JournalFile> {
    const fd = await new Promise<number>((resolve, reject) => {
      fsOpen(file, constants.O_WRONLY | constants.O_APPEND | constants.O_DSYNC, (error, opened) => (error ? reject(error) : resolve(opened)));
    });
    return new JournalFile(file, fd, size);
  }

  append(record: JournalRecord): Promise<void> {
    if (this.broken) return Promise.reject(this.broken);
    const line = `${serialize(record)}\n`;
    return new Promise((resolve, reject) => {
      this.pending.push({ line, resolve, reject });
      this.flushing ??= this.flush().finally(() => {
        this.flushing = undefined;
      });
    });
  }

  private async flush(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0);
      const data = Buffer.from(batch.length === 1 ? batch[0]!.line : batch.map((item) => item.line).join(''));
      try {
        for (let offset = 0; offset < data.length; ) offset += await writeFd(this.fd, data, offset);
        this.size += data.length;
        for (const item of batch) item.resolve();
      } catch (error) {
        const failure = new StateFileError(this.file, `could not write to the journal (${errorText(error)}); the run must stop: free disk space or fix permissions, then \`ship resume\``);
        // Cut back a partial write, so later records do not land after half a line.
        await new Promise<void>((resolve) => {
          fsFtruncate(this.fd, this.size, (truncateError) => {
            if (truncateError) this.broken = failure;
            resolve();
          });
        });
        for (const item of [...batch, ...(this.broken ? this.pending.splice(0) : [])]) item.reject(failure);
      }
    }
  }

  async close(): Promise<void> {
    await this.flushing;
    await new Promise<void>((resolve, reject) => fsClose(this.fd, (error) => (error ? reject(error) : resolve())));
  }
}

interface LockFileRead {
  status: LockStatus;
  ino: number;
}

export class FileStateStore implements StateStore {
  readonly kind = 'file';
  private readonly journals = new Map<string, Promise<JournalFile>>();
  private readonly readyDirs = new Set<string>();

  /** `root` is the resolved `state.path` (default `.ship` next to the config). */
  constructor(readonly root: string) {}

  private runsDir(app: string): string {
    return join(this.root, 'runs', checkName('app', app));
  }

  private journalPath(app: string, runId: string): string {
    return join(this.runsDir(app), `${checkName('run id', runId)}.jsonl`);
  }

  private lockPath(app: string): string {
    return join(this.root, 'locks', `${checkName('app', app)}.json`);
  }

  private breaksPath(app: string): string {
    return join(this.root, 'locks', `${checkName('app', app)}.breaks.jsonl`);
  }

  /** Creates the folders from the root down to `dir` and makes each owner-only, even when they existed. */
  private async ensureDir(dir: string): Promise<void> {
    if (this.readyDirs.has(dir)) return;
    try {
      await makeDirs(dir);
    } catch (error) {
      throw new StateFileError(dir, `cannot create the state folder: ${errorText(error)}`);
    }
    let path = this.root;
    for (const part of ['', ...relative(this.root, dir).split(sep).filter(Boolean)]) {
      path = join(path, part);
      if (this.readyDirs.has(path)) continue;
      try {
        await chmod(path, DIR_MODE);
      } catch (error) {
        throw new StateFileError(path, `cannot be made readable by its owner only (0700): ${errorText(error)}; the user running ship must own its state folder`);
      }
      this.readyDirs.add(path);
    }
  }

  async beginRun(run: RunRecord): Promise<void> {
    const dir = this.runsDir(run.app);
    const file = this.journalPath(run.app, run.runId);
    await this.ensureDir(dir);
    try {
      await (await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, FILE_MODE)).close();
    } catch (error) {
      if (isErrno(error, 'EEXIST')) throw new StateFileError(file, `run ${run.runId} already has a journal; a run id is used once`);
      throw new StateFileError(file, `cannot create the journal: ${errorText(error)}`);
    }
    const journal = await JournalFile.open(file, 0);
    this.journals.set(run.runId, Promise.resolve(journal));
    await journal.append({ type: 'run', run });
    // The new file's name must survive a crash too, before `latest` points at it.
    await syncDir(dir);
    await this.replaceFile(join(dir, 'latest'), `${run.runId}\n`);
  }

  /** Atomically replaces `path`: temp file, fsync, rename over, fsync the folder. */
  private async replaceFile(path: string, content: string): Promise<void> {
    const temp = await writeTemp(path, content);
    try {
      await rename(temp, path);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw new StateFileError(path, `cannot be replaced: ${errorText(error)}`);
    }
    await syncDir(join(path, '..'));
  }

  private journalFor(runId: string): Promise<JournalFile> {
    let journal = this.journals.get(runId);
    if (!journal) {
      journal = this.reopen(runId);
      this.journals.set(runId, journal);
      journal.catch(() => this.journals.delete(runId));
    }
    return journal;
  }

  /** Opens an existing run's journal (a resumed run) and repairs a tail torn by the crash that interrupted it. */
  private async reopen(runId: string): Promise<JournalFile> {
    const file = await this.findJournal(runId);
    if (!file) throw new Error(`state store ${this.root}: no journal for run ${checkName('run id', runId)}; beginRun must come first`);
    const handle = await open(file, constants.O_RDWR | constants.O_APPEND);
    let size: number;
    try {
      const content = await handle.readFile();
      const { tail, completeBytes } = splitJournal(content);
      size = content.length;
      if (tail) {
        if (wholeTail(tail)) {
          await writeAll(handle, Buffer.from('\n'));
          size += 1;
        } else {
          await handle.truncate(completeBytes);
          size = completeBytes;
          const note: JournalRecord = { type: 'note', warning: `dropped ${tail.text.length} bytes of a record cut short by an interrupted write (line ${tail.number}) before the run went on` };
          const line = Buffer.from(`${serialize(note)}\n`);
          await writeAll(handle, line);
          size += line.length;
        }
        await handle.datasync();
      }
    } catch (error) {
      throw new StateFileError(file, `cannot reopen the journal: ${errorText(error)}`);
    } finally {
      await handle.close();
    }
    return JournalFile.open(file, size);
  }

  private async appDirs(): Promise<string[]> {
    try {
      return (await readdir(join(this.root, 'runs'))).filter((name) => SAFE_NAME.test(name));
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return [];
      throw error;
    }
  }

  private async findJournal(runId: string): Promise<string | undefined> {
    checkName('run id', runId);
    for (const app of await this.appDirs()) {
      const file = this.journalPath(app, runId);
      if (await exists(file)) return file;
    }
    return undefined;
  }

  async recordTransition(transition: Transition): Promise<void> {
    const journal = await this.journalFor(transition.runId);
    await journal.append({ type: 'transition', transition });
  }

  async finishRun(runId: string, outcome: RunOutcome): Promise<void> {
    const journal = await this.journalFor(runId);
    await journal.append({ type: 'outcome', outcome });
    this.journals.delete(runId);
    await journal.close();
  }

  private async readJournal(file: string): Promise<StoredJournalEntry> {
    let content: Buffer;
    try {
      content = await readFile(file);
    } catch (error) {
      throw new StateFileError(file, `cannot read the journal: ${errorText(error)}`);
    }
    return parseJournal(file, content);
  }

  async lastRun(app: string): Promise<StoredJournalEntry | undefined> {
    const dir = this.runsDir(app);
    const latest = join(dir, 'latest');
    let runId: string | undefined;
    try {
      runId = (await readFile(latest, 'utf8')).trim();
    } catch (error) {
      if (!isErrno(error, 'ENOENT')) throw new StateFileError(latest, `cannot read: ${errorText(error)}`);
    }
    if (runId !== undefined) {
      if (!SAFE_NAME.test(runId)) throw new StateFileError(latest, 'does not hold a run id: remove it and ship will find the newest run again');
      const file = this.journalPath(app, runId);
      // A `latest` naming a journal someone removed falls back to the journals that are there.
      if (await exists(file)) return this.readJournal(file);
    }
    return this.newestByHeader(app);
  }

  /** Without a usable `latest`: the run that started last among the journals present. */
  private async newestByHeader(app: string): Promise<StoredJournalEntry | undefined> {
    let names: string[];
    try {
      names = (await readdir(this.runsDir(app))).filter((name) => name.endsWith('.jsonl'));
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return undefined;
      throw error;
    }
    let newest: StoredJournalEntry | undefined;
    for (const name of names) {
      const entry = await this.readJournal(join(this.runsDir(app), name));
      if (!newest || entry.run.startedAt > newest.run.startedAt) newest = entry;
    }
    return newest;
  }

  async run(runId: string): Promise<StoredJournalEntry | undefined> {
    const file = await this.findJournal(runId);
    return file ? this.readJournal(file) : undefined;
  }

  /** Reads the lock through one descriptor, so the content, inode and heartbeat (mtime) belong to one file. */
  private async readLock(app: string): Promise<LockFileRead | undefined> {
    const path = this.lockPath(app);
    let handle: FileHandle;
    try {
      handle = await open(path, constants.O_RDONLY);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return undefined;
      throw new StateFileError(path, `cannot read the deploy lock: ${errorText(error)}`);
    }
    try {
      const [content, info] = await Promise.all([handle.readFile('utf8'), handle.stat()]);
      const heartbeatAgeMs = Math.max(0, Date.now() - info.mtimeMs);
      let recorded: Partial<LockHolder & { staleAfterMs: number }> = {};
      try {
        recorded = JSON.parse(content) as typeof recorded;
      } catch {
        // Damaged from outside (ship writes it whole and links it in): it still locks, so nobody rolls
        // over an unknown run; once its age passes the default stale age it can be broken.
      }
      const staleAfterMs = typeof recorded.staleAfterMs === 'number' ? recorded.staleAfterMs : DEFAULT_STALE_AFTER_MS;
      const status: LockStatus = {
        runId: typeof recorded.runId === 'string' ? recorded.runId : '(unreadable)',
        // 0 with host 'unknown' when unreadable: no process on this machine can be taken for the holder.
        pid: typeof recorded.pid === 'number' ? recorded.pid : 0,
        app,
        command: typeof recorded.command === 'string' ? recorded.command : `(unreadable lock file ${path})`,
        actor: hasStrings(recorded.actor, ['osUser', 'hostname']) ? (recorded.actor as Actor) : { osUser: 'unknown', hostname: 'unknown' },
        acquiredAt: typeof recorded.acquiredAt === 'string' ? recorded.acquiredAt : info.birthtime.toISOString(),
        heartbeatAt: info.mtime.toISOString(),
        staleAfterMs,
        heartbeatAgeMs,
        stale: heartbeatAgeMs > staleAfterMs,
      };
      return { status, ino: info.ino };
    } finally {
      await handle.close();
    }
  }

  async acquireLock(holder: LockHolder, options: { staleAfterMs: number }): Promise<void> {
    const path = this.lockPath(holder.app);
    await this.ensureDir(join(this.root, 'locks'));
    const { heartbeatAt: _fromFileTime, ...recorded } = holder;
    // Written whole under a temporary name, then linked in: link() fails if the lock exists, so
    // exactly one of several racing runs wins, and nobody ever sees a half-written lock.
    const temp = await writeTemp(path, serialize({ ...recorded, staleAfterMs: options.staleAfterMs }));
    try {
      for (let attempt = 1; attempt <= ACQUIRE_ATTEMPTS; attempt++) {
        try {
          await link(temp, path);
          await syncDir(join(path, '..'));
          return;
        } catch (error) {
          if (!isErrno(error, 'EEXIST')) throw new StateFileError(path, `cannot take the deploy lock: ${errorText(error)}`);
        }
        const current = await this.readLock(holder.app);
        // Released between our link and our read: try again.
        if (current) throw new LockHeldError(current.status, current.status.stale);
      }
      throw new StateFileError(path, `the deploy lock kept changing hands over ${ACQUIRE_ATTEMPTS} attempts; try again`);
    } finally {
      await unlink(temp).catch(() => undefined);
    }
  }

  async heartbeat(app: string, runId: string): Promise<void> {
    const path = this.lockPath(app);
    let handle: FileHandle;
    try {
      handle = await open(path, constants.O_RDONLY);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) throw new LockLostError(app, runId, `${path} is gone (broken with \`ship unlock\`?)`);
      throw new StateFileError(path, `cannot refresh the deploy lock: ${errorText(error)}`);
    }
    try {
      // Checked and touched through the same descriptor: if the lock was broken and retaken
      // meanwhile, this touches our old file, never the new holder's.
      let owner: string | undefined;
      try {
        owner = (JSON.parse(await handle.readFile('utf8')) as { runId?: string }).runId;
      } catch {
        owner = undefined;
      }
      if (owner !== runId) {
        const current = await this.readLock(app);
        throw new LockLostError(app, runId, `it is now held by run ${owner ?? '(unreadable)'}`, current?.status);
      }
      const now = new Date();
      await handle.utimes(now, now);
    } finally {
      await handle.close();
    }
  }

  /**
   * Takes the lock file out of the way under a unique name, then checks it is the file that was
   * judged (same inode): if another run took the lock in between, its lock is put back untouched.
   */
  private async removeLock(app: string, expectedIno: number): Promise<boolean> {
    const path = this.lockPath(app);
    const aside = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.removed`;
    try {
      await rename(path, aside);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return false;
      throw new StateFileError(path, `cannot remove the deploy lock: ${errorText(error)}`);
    }
    if ((await stat(aside)).ino !== expectedIno) {
      await link(aside, path).catch(() => undefined);
      await unlink(aside);
      return false;
    }
    await unlink(aside);
    await syncDir(join(path, '..'));
    return true;
  }

  async releaseLock(app: string, runId: string): Promise<void> {
    const current = await this.readLock(app);
    // Never another run's lock: ours may have been broken and taken since.
    if (!current || current.status.runId !== runId) return;
    await this.removeLock(app, current.ino);
  }

  async currentLock(app: string): Promise<LockStatus | undefined> {
    return (await this.readLock(app))?.status;
  }

  async breakLock(app: string, by: Actor, reason: string, options: BreakLockOptions = {}): Promise<LockHolder | undefined> {
    if (reason.trim() === '') throw new Error(`breaking the deploy lock of app ${app} needs a reason (--reason "..."): it is recorded`);
    const current = await this.readLock(app);
    if (!current) return undefined;
    const { status } = current;
    if (!status.stale && !options.evenIfAlive) throw new LockAliveError(status);
    if (!(await this.removeLock(app, current.ino))) {
      throw new StateFileError(this.lockPath(app), 'the deploy lock changed hands while it was being broken; look at it again with `ship status`');
    }
    const { staleAfterMs: _age, heartbeatAgeMs, stale: _stale, ...holder } = status;
    const record: LockBreak = { app, holder, by, reason, brokenAt: new Date().toISOString(), heartbeatAgeMs, evenIfAlive: !status.stale };
    await this.appendBreak(app, record);
    return holder;
  }

  private async appendBreak(app: string, record: LockBreak): Promise<void> {
    const path = this.breaksPath(app);
    const handle = await open(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, FILE_MODE);
    try {
      await writeAll(handle, Buffer.from(`${serialize(record)}\n`));
      await handle.datasync();
    } finally {
      await handle.close();
    }
  }

  /** Every lock broken for the app, oldest first. */
  async lockBreaks(app: string): Promise<LockBreak[]> {
    const path = this.breaksPath(app);
    let content: Buffer;
    try {
      content = await readFile(path);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return [];
      throw new StateFileError(path, `cannot read: ${errorText(error)}`);
    }
    return splitJournal(content).lines.map((line) => {
      try {
        return JSON.parse(line.text) as LockBreak;
      } catch (error) {
        throw new StateFileError(path, `line ${line.number} is not JSON (${errorText(error)})`);
      }
    });
  }

  async close(): Promise<void> {
    const journals = [...this.journals.values()];
    this.journals.clear();
    await Promise.all(journals.map(async (journal) => (await journal.catch(() => undefined))?.close()));
  }
}
