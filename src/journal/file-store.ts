/**
 * The default state store: plain files in `.ship/` next to the config, readable only by their owner
 * (the layout is in file/state-folder.ts). A run's journal gets one record a line, appended and on
 * disk before the caller goes on; `latest` names the newest run and is replaced atomically; the
 * deploy lock and the log of broken locks are kept by file/lock-files.ts.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Actor } from './actor.js';
import type { BreakLockOptions, LockBreak, LockHolder, LockStatus } from './lock.js';
import type { RunOutcome, RunRecord, StageRecord, StateStore, Transition } from './state-store.js';
import { errorText, exists, isErrno, readStateFile, replaceFile, StateFileError, syncDir } from './file/durable-files.js';
import { JournalFile } from './file/journal-file.js';
import { parseJournal, type StoredJournalEntry } from './file/journal-format.js';
import { LockFiles } from './file/lock-files.js';
import { isSafeName, StateFolder } from './file/state-folder.js';

export class FileStateStore implements StateStore {
  readonly kind = 'file';
  private readonly folder: StateFolder;
  private readonly locks: LockFiles;
  private readonly journals = new Map<string, Promise<JournalFile>>();

  /** `root` is the resolved `state.path` (default `.ship` next to the config). */
  constructor(readonly root: string) {
    this.folder = new StateFolder(root);
    this.locks = new LockFiles(this.folder);
  }

  async beginRun(run: RunRecord): Promise<void> {
    const dir = this.folder.runsDir(run.app);
    const file = this.folder.journalPath(run.app, run.runId);
    await this.folder.ensureDir(dir);
    const journal = await JournalFile.create(file, run.runId);
    this.journals.set(run.runId, Promise.resolve(journal));
    await journal.append({ type: 'run', run });
    // The new file's name must survive a crash too, before `latest` points at it.
    await syncDir(dir);
    await replaceFile(this.folder.latestPath(run.app), `${run.runId}\n`);
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

  /** A resumed run appends to the journal it began. */
  private async reopen(runId: string): Promise<JournalFile> {
    const file = await this.folder.findJournal(runId);
    if (!file) throw new Error(`state store ${this.root}: no journal for run ${runId}; beginRun must come first`);
    return JournalFile.reopen(file);
  }

  async recordTransition(transition: Transition): Promise<void> {
    const journal = await this.journalFor(transition.runId);
    await journal.append({ type: 'transition', transition });
  }

  async recordStage(stage: StageRecord): Promise<void> {
    const journal = await this.journalFor(stage.runId);
    await journal.append({ type: 'stage', stage });
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
      content = await readStateFile(file);
    } catch (error) {
      if (error instanceof StateFileError) throw error;
      throw new StateFileError(file, `cannot read the journal: ${errorText(error)}`);
    }
    return parseJournal(file, content);
  }

  async lastRun(app: string): Promise<StoredJournalEntry | undefined> {
    const latest = this.folder.latestPath(app);
    await this.folder.verify(this.folder.runsDir(app));
    let runId: string | undefined;
    try {
      runId = (await readStateFile(latest)).toString('utf8').trim();
    } catch (error) {
      if (error instanceof StateFileError) throw error;
      if (!isErrno(error, 'ENOENT')) throw new StateFileError(latest, `cannot read: ${errorText(error)}`);
    }
    if (runId !== undefined) {
      if (!isSafeName(runId)) throw new StateFileError(latest, 'does not hold a run id: remove it and ship will find the newest run again');
      const file = this.folder.journalPath(app, runId);
      // A `latest` naming a journal someone removed falls back to the journals that are there.
      if (await exists(file)) return this.readJournal(file);
    }
    return this.newestByHeader(app);
  }

  /** Without a usable `latest`: the run that started last among the journals present. */
  private async newestByHeader(app: string): Promise<StoredJournalEntry | undefined> {
    let names: string[];
    try {
      names = (await readdir(this.folder.runsDir(app))).filter((name) => name.endsWith('.jsonl'));
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return undefined;
      throw error;
    }
    let newest: StoredJournalEntry | undefined;
    for (const name of names) {
      const entry = await this.readJournal(join(this.folder.runsDir(app), name));
      if (!newest || entry.run.startedAt > newest.run.startedAt) newest = entry;
    }
    return newest;
  }

  async run(runId: string): Promise<StoredJournalEntry | undefined> {
    const file = await this.folder.findJournal(runId);
    return file ? this.readJournal(file) : undefined;
  }

  acquireLock(holder: LockHolder, options: { staleAfterMs: number }): Promise<void> {
    return this.locks.acquire(holder, options);
  }

  heartbeat(app: string, runId: string): Promise<void> {
    return this.locks.heartbeat(app, runId);
  }

  releaseLock(app: string, runId: string): Promise<void> {
    return this.locks.release(app, runId);
  }

  currentLock(app: string): Promise<LockStatus | undefined> {
    return this.locks.current(app);
  }

  breakLock(app: string, by: Actor, reason: string, options: BreakLockOptions = {}): Promise<LockHolder | undefined> {
    return this.locks.break(app, by, reason, options);
  }

  /** Every lock broken for the app, oldest first. */
  lockBreaks(app: string): Promise<LockBreak[]> {
    return this.locks.breaks(app);
  }

  async close(): Promise<void> {
    const journals = [...this.journals.values()];
    this.journals.clear();
    await Promise.all(journals.map(async (journal) => (await journal.catch(() => undefined))?.close()));
  }
}
