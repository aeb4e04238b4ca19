/**
 * The layout of the state folder (`state.path`, default `.ship`) and its privacy: where each app's
 * runs and locks live, names checked before they become file names, and every folder from the root
 * down readable by its owner only, even when it existed before ship did.
 *
 *   runs/<app>/<runId>.jsonl   one run's journal
 *   runs/<app>/latest          the newest run's id
 *   locks/<app>.json           the deploy lock
 *   locks/<app>.breaks.jsonl   every lock broken with `ship unlock`
 *
 * Nothing from the root down may be a symbolic link (it would point ship's chmod 0700 and its
 * writes elsewhere), and the root may not be on a pseudo-filesystem such as /proc.
 */
import { lstat, readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { DIR_MODE, errorText, exists, isErrno, linkRefused, makeDirs, openStateDir, StateFileError } from './durable-files.js';
import { pseudoFilesystemOf } from './pseudo-filesystems.js';

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$/;

/** Whether `name` can be an app's or a run's file name: nothing that could climb out of the folder or hide a file. */
export function isSafeName(name: string): boolean {
  return SAFE_NAME.test(name);
}

function checkName(kind: 'app' | 'run id', name: string): string {
  if (!isSafeName(name)) throw new Error(`state store: ${kind} ${JSON.stringify(name)} is not usable as a file name (letters, digits, ., _ and -; at most 200)`);
  return name;
}

export class StateFolder {
  /** Folders known to be real folders, owner-only, from the root down. */
  private readonly readyDirs = new Set<string>();
  /** Folders known not to be symbolic links (they may not be owner-only yet). */
  private readonly checkedDirs = new Set<string>();
  private placeChecked: Promise<void> | undefined;

  /** `root` is the resolved `state.path`. */
  constructor(readonly root: string) {}

  runsDir(app: string): string {
    return join(this.root, 'runs', checkName('app', app));
  }

  journalPath(app: string, runId: string): string {
    return join(this.runsDir(app), `${checkName('run id', runId)}.jsonl`);
  }

  latestPath(app: string): string {
    return join(this.runsDir(app), 'latest');
  }

  locksDir(): string {
    return join(this.root, 'locks');
  }

  lockPath(app: string): string {
    return join(this.locksDir(), `${checkName('app', app)}.json`);
  }

  breaksPath(app: string): string {
    return join(this.locksDir(), `${checkName('app', app)}.breaks.jsonl`);
  }

  /** The apps that have runs recorded. */
  async apps(): Promise<string[]> {
    const runs = join(this.root, 'runs');
    await this.verify(runs);
    try {
      return (await readdir(runs)).filter(isSafeName);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return [];
      throw error;
    }
  }

  /** A run's journal found by its id alone, whichever app it belongs to. */
  async findJournal(runId: string): Promise<string | undefined> {
    checkName('run id', runId);
    for (const app of await this.apps()) {
      await this.verify(this.runsDir(app));
      const file = this.journalPath(app, runId);
      if (await exists(file)) return file;
    }
    return undefined;
  }

  /** Once per store: the root is not on a pseudo-filesystem, where nothing can be kept (and Node's mkdir spins). */
  private checkPlace(): Promise<void> {
    this.placeChecked ??= pseudoFilesystemOf(this.root).then((pseudo) => {
      if (!pseudo) return;
      const mounted = pseudo.mountPoint ? ` mounted at ${pseudo.mountPoint}` : '';
      throw new StateFileError(
        this.root,
        `state.path is on a pseudo-filesystem (${pseudo.type}${mounted}), which shows the kernel's processes, devices or settings and keeps no files; ` +
          'ship cannot keep its journal and deploy lock there: set state.path to a folder on a disk (the default is .ship next to the config)',
      );
    });
    return this.placeChecked;
  }

  /**
   * Checks, before anything in it is read or written, that the folders from the root down to `dir`
   * are real folders: a symbolic link is refused, naming it. Folders not there yet are fine.
   */
  async verify(dir: string): Promise<void> {
    if (this.checkedDirs.has(dir)) return;
    await this.checkPlace();
    let path = this.root;
    for (const part of ['', ...relative(this.root, dir).split(sep).filter(Boolean)]) {
      path = join(path, part);
      if (this.checkedDirs.has(path)) continue;
      let isLink: boolean;
      let isDir: boolean;
      try {
        const info = await lstat(path);
        isLink = info.isSymbolicLink();
        isDir = info.isDirectory();
      } catch (error) {
        if (isErrno(error, 'ENOENT')) return;
        throw new StateFileError(path, `cannot be examined: ${errorText(error)}`);
      }
      if (isLink) throw linkRefused(path);
      if (!isDir) throw new StateFileError(path, 'is not a folder; ship keeps its state in a folder: move it away or set state.path elsewhere');
      this.checkedDirs.add(path);
    }
  }

  /** Creates the folders from the root down to `dir` and makes each owner-only, even when they existed. */
  async ensureDir(dir: string): Promise<void> {
    if (this.readyDirs.has(dir)) return;
    // Before creating anything: a link in the way would have the folders made in its target.
    await this.verify(dir);
    try {
      await makeDirs(dir);
    } catch (error) {
      throw new StateFileError(dir, `cannot create the state folder: ${errorText(error)}`);
    }
    let path = this.root;
    for (const part of ['', ...relative(this.root, dir).split(sep).filter(Boolean)]) {
      path = join(path, part);
      if (this.readyDirs.has(path)) continue;
      // Through a descriptor opened without following links, so the chmod lands on this folder even
      // if a link was put in its place since it was checked.
      const handle = await openStateDir(path).catch((error: unknown) => {
        throw error instanceof StateFileError ? error : new StateFileError(path, `cannot be opened: ${errorText(error)}`);
      });
      try {
        await handle.chmod(DIR_MODE);
      } catch (error) {
        throw new StateFileError(path, `cannot be made readable by its owner only (0700): ${errorText(error)}; the user running ship must own its state folder`);
      } finally {
        await handle.close();
      }
      this.readyDirs.add(path);
      this.checkedDirs.add(path);
    }
  }
}
