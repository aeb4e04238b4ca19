/**
 * The deploy lock as files, safe against racing runs on one machine: the lock is written whole and
 * linked in (link() fails when it exists, so exactly one run wins), its modification time is the
 * heartbeat, it is removed only after checking it is still the file that was judged, and every
 * lock broken with `ship unlock` is appended to a log with who did it and why.
 */
import { constants } from 'node:fs';
import { link, lstat, rename, unlink, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Actor } from '../actor.js';
import { judgeStaleAge, LockAliveError, LockHeldError, LockLostError, type BreakLockOptions, type LockBreak, type LockHolder, type LockStatus } from '../lock.js';
import { errorText, FILE_MODE, isErrno, openStateFile, readStateFile, serialize, StateFileError, syncDir, writeAll, writeTemp } from './durable-files.js';
import { hasStrings, splitLines } from './json-lines.js';
import type { StateFolder } from './state-folder.js';

const ACQUIRE_ATTEMPTS = 5;

interface LockFileRead {
  status: LockStatus;
  ino: number;
}

export class LockFiles {
  constructor(private readonly folder: StateFolder) {}

  /** The lock file opened for reading (never through a link), or undefined when there is none. */
  private async open(path: string, doing: 'read' | 'refresh'): Promise<FileHandle | undefined> {
    await this.folder.verify(this.folder.locksDir());
    try {
      return await openStateFile(path, constants.O_RDONLY);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return undefined;
      if (error instanceof StateFileError) throw error;
      throw new StateFileError(path, `cannot ${doing} the deploy lock: ${errorText(error)}`);
    }
  }

  /** Reads the lock through one descriptor, so the content, inode and heartbeat (mtime) belong to one file. */
  private async read(app: string): Promise<LockFileRead | undefined> {
    const path = this.folder.lockPath(app);
    const handle = await this.open(path, 'read');
    if (!handle) return undefined;
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
      const { staleAfterMs, staleAgeNote } = judgeStaleAge(recorded.staleAfterMs, `the lock file ${path}`);
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
        ...(staleAgeNote ? { staleAgeNote } : {}),
      };
      return { status, ino: info.ino };
    } finally {
      await handle.close();
    }
  }

  async acquire(holder: LockHolder, options: { staleAfterMs: number }): Promise<void> {
    const path = this.folder.lockPath(holder.app);
    await this.folder.ensureDir(this.folder.locksDir());
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
        const current = await this.read(holder.app);
        // Released between our link and our read: try again.
        if (current) throw new LockHeldError(current.status, current.status.stale);
      }
      throw new StateFileError(path, `the deploy lock kept changing hands over ${ACQUIRE_ATTEMPTS} attempts; try again`);
    } finally {
      await unlink(temp).catch(() => undefined);
    }
  }

  async heartbeat(app: string, runId: string): Promise<void> {
    const path = this.folder.lockPath(app);
    const handle = await this.open(path, 'refresh');
    if (!handle) throw new LockLostError(app, runId, `${path} is gone (broken with \`ship unlock\`?)`);
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
        const current = await this.read(app);
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
  private async remove(app: string, expectedIno: number): Promise<boolean> {
    const path = this.folder.lockPath(app);
    const aside = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.removed`;
    try {
      await rename(path, aside);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return false;
      throw new StateFileError(path, `cannot remove the deploy lock: ${errorText(error)}`);
    }
    // lstat: the name itself, never what a link there points at.
    if ((await lstat(aside)).ino !== expectedIno) {
      await link(aside, path).catch(() => undefined);
      await unlink(aside);
      return false;
    }
    await unlink(aside);
    await syncDir(join(path, '..'));
    return true;
  }

  async release(app: string, runId: string): Promise<void> {
    const current = await this.read(app);
    // Never another run's lock: ours may have been broken and taken since.
    if (!current || current.status.runId !== runId) return;
    await this.remove(app, current.ino);
  }

  async current(app: string): Promise<LockStatus | undefined> {
    return (await this.read(app))?.status;
  }

  async break(app: string, by: Actor, reason: string, options: BreakLockOptions = {}): Promise<LockHolder | undefined> {
    if (reason.trim() === '') throw new Error(`breaking the deploy lock of app ${app} needs a reason (--reason "..."): it is recorded`);
    const current = await this.read(app);
    if (!current) return undefined;
    const { status } = current;
    if (!status.stale && !options.evenIfAlive) throw new LockAliveError(status);
    // The log is opened first: a lock is never broken without the break being recorded.
    const log = await this.openBreaks(app);
    try {
      if (!(await this.remove(app, current.ino))) {
        throw new StateFileError(this.folder.lockPath(app), 'the deploy lock changed hands while it was being broken; look at it again with `ship status`');
      }
      const { staleAfterMs: _age, heartbeatAgeMs, stale: _stale, staleAgeNote: _note, ...holder } = status;
      const record: LockBreak = { app, holder, by, reason, brokenAt: new Date().toISOString(), heartbeatAgeMs, evenIfAlive: !status.stale };
      await writeAll(log, Buffer.from(`${serialize(record)}\n`));
      await log.datasync();
      return holder;
    } finally {
      await log.close();
    }
  }

  /** The log of broken locks, opened to append; never through a link, or `ship unlock` would append to whatever file it names. */
  private async openBreaks(app: string): Promise<FileHandle> {
    const path = this.folder.breaksPath(app);
    await this.folder.ensureDir(this.folder.locksDir());
    try {
      return await openStateFile(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, FILE_MODE);
    } catch (error) {
      if (error instanceof StateFileError) throw error;
      throw new StateFileError(path, `cannot open the log of broken locks: ${errorText(error)}`);
    }
  }

  /** Every lock broken for the app, oldest first. */
  async breaks(app: string): Promise<LockBreak[]> {
    const path = this.folder.breaksPath(app);
    await this.folder.verify(this.folder.locksDir());
    let content: Buffer;
    try {
      content = await readStateFile(path);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return [];
      if (error instanceof StateFileError) throw error;
      throw new StateFileError(path, `cannot read: ${errorText(error)}`);
    }
    return splitLines(content).lines.map((line) => {
      try {
        return JSON.parse(line.text) as LockBreak;
      } catch (error) {
        throw new StateFileError(path, `line ${line.number} is not JSON (${errorText(error)})`);
      }
    });
  }
}
