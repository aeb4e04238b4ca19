/**
 * The layout of the state folder (`state.path`, default `.ship`) and its privacy: where each app's
 * runs and locks live, names checked before they become file names, and every folder from the root
 * down readable by its owner only, even when it existed before ship did.
 *
 *   runs/<app>/<runId>.jsonl   one run's journal
 *   runs/<app>/latest          the newest run's id
 *   locks/<app>.json           the deploy lock
 *   locks/<app>.breaks.jsonl   every lock broken with `ship unlock`
 */
import { chmod, readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { DIR_MODE, errorText, exists, isErrno, makeDirs, StateFileError } from './durable-files.js';

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
  private readonly readyDirs = new Set<string>();

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
    try {
      return (await readdir(join(this.root, 'runs'))).filter(isSafeName);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return [];
      throw error;
    }
  }

  /** A run's journal found by its id alone, whichever app it belongs to. */
  async findJournal(runId: string): Promise<string | undefined> {
    checkName('run id', runId);
    for (const app of await this.apps()) {
      const file = this.journalPath(app, runId);
      if (await exists(file)) return file;
    }
    return undefined;
  }

  /** Creates the folders from the root down to `dir` and makes each owner-only, even when they existed. */
  async ensureDir(dir: string): Promise<void> {
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
}
