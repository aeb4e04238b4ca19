import { statSync } from 'node:fs';
import { readSqlFile, type SqlFileText } from '../lint/read-sql-file.js';
import { basename, dirname, relative, resolve, sep } from 'node:path';
import type { MigrationSource } from '../lint/types.js';
import { changedFilesSince } from './changed-files.js';
import { discoverMigrations, MigrationDiscoveryError, readMigrationFile, type Discovery, type DiscoveryOptions, type MigrationFile } from './discovery.js';
import { compareVersions, parseMigrationFileName } from './file-name.js';
import { readMigrationPhase } from './phase.js';

export interface Selection {
  /** What to lint, in the order the runner applies it. */
  readonly files: readonly MigrationSource[];
  /** Earlier migrations of the same directories, replayed for context (column types, validated checks). */
  readonly history: readonly MigrationSource[];
  /** Notes for the user (unrecognised files in a directory), not errors. */
  readonly notices: readonly string[];
}

export interface SelectOptions extends DiscoveryOptions {
  readonly cwd: string;
  /** Only the migrations changed since this git ref, restricted to `paths` when given. */
  readonly base?: string;
}

/** A migration file as its directory's discovery reads it, or by its name alone. */
type Located = { readonly discovery: Discovery; readonly index: number } | { readonly migration: MigrationFile };

/**
 * Reads each file the way its tool does, through the discovery of the directory it belongs to:
 * its own for tools with a flat directory, its parent's for those with a folder per migration
 * (Prisma's migration.sql, Diesel's up.sql). Discoveries are made once per directory.
 */
class MigrationFinder {
  private readonly discoveries = new Map<string, Promise<Discovery | undefined>>();

  constructor(private readonly options: DiscoveryOptions) {}

  /** A directory's discovery, or undefined where there is none (a file given alone, a directory its tool would refuse). */
  discoveryOf(dir: string): Promise<Discovery | undefined> {
    let discovery = this.discoveries.get(dir);
    if (!discovery) {
      discovery = discoverMigrations(dir, this.options).catch(() => undefined);
      this.discoveries.set(dir, discovery);
    }
    return discovery;
  }

  /** Migrations of the directories named on the command line, by path. */
  private readonly named = new Map<string, Located>();

  /**
   * A directory named on the command line, discovered already: its files are where it put them.
   * Asking each file's own folder first (a Diesel or Prisma migration's) would discover every
   * folder, and then the directory, again.
   */
  remember(discovery: Discovery): void {
    this.discoveries.set(discovery.dir, Promise.resolve(discovery));
    discovery.migrations.forEach((migration, index) => {
      if (!this.named.has(migration.path)) this.named.set(migration.path, { discovery, index });
    });
  }

  async locate(path: string): Promise<Located | undefined> {
    const named = this.named.get(path);
    if (named) return named;
    for (const dir of [dirname(path), dirname(dirname(path))]) {
      const discovery = await this.discoveryOf(dir);
      const index = discovery?.migrations.findIndex((migration) => migration.path === path) ?? -1;
      if (discovery && index !== -1) return { discovery, index };
    }
    const migration = await readMigrationFile(path, this.options);
    return migration ? { migration } : undefined;
  }
}

/**
 * Turns command-line paths (directories of migrations, or single files) into what to lint.
 * Paths are shown relative to `cwd`, which is what CI annotations expect.
 */
export async function selectMigrations(paths: readonly string[], options: SelectOptions): Promise<Selection> {
  const notices: string[] = [];
  const absolutePaths = paths.map((path) => resolve(options.cwd, path));
  const finder = new MigrationFinder(options);
  let candidates: string[];
  /** The directories named, and those of the files named: most paths shown are under one. */
  const linted: string[] = [];
  if (options.base !== undefined) {
    const changed = await changedFilesSince(options.base, options.cwd);
    candidates = changed.filter(
      (file) =>
        (file.endsWith('.sql') || parseMigrationFileName(basename(file), options.pattern) !== undefined) &&
        (absolutePaths.length === 0 || absolutePaths.some((root) => file === root || file.startsWith(root + sep))),
    );
  } else {
    if (absolutePaths.length === 0) throw new MigrationDiscoveryError('name the migration files or directories to lint, or pass --base <git ref>');
    candidates = [];
    for (const path of absolutePaths) {
      let kind: 'dir' | 'file';
      try {
        // Synchronous, like discovery's reads (see layouts/layout.ts).
        kind = statSync(path).isDirectory() ? 'dir' : 'file';
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        throw new MigrationDiscoveryError(`cannot read ${relative(options.cwd, path) || path}: ${code === 'ENOENT' ? 'no such file or directory' : code}`);
      }
      linted.push(kind === 'dir' ? path : dirname(path));
      if (kind === 'dir') {
        // Not through the finder's cache: a directory named on the command line that its tool would refuse is an error.
        const discovery = await discoverMigrations(path, options);
        finder.remember(discovery);
        candidates.push(...discovery.migrations.map((migration) => migration.path));
        for (const file of discovery.unrecognised) notices.push(`${relative(options.cwd, file)} matches no migration layout and was not linted`);
      } else {
        candidates.push(path);
      }
    }
  }
  const located: Located[] = [];
  const plain: MigrationSource[] = [];
  for (const path of new Set(candidates)) {
    const found = await finder.locate(path);
    if (found) located.push(found);
    // A changed file that is no migration (a seed, a schema dump) is not linted; a file named on the command line is.
    else if (options.base === undefined) plain.push(await readPlainFile(path));
  }
  const { files, history } = inRunOrder(located);
  const shown = displayPath(options.cwd, linted);
  const display = (source: MigrationSource): MigrationSource => withPath(source, shown(source.path));
  return { files: [...files, ...plain].map(display), history: history.map(display), notices };
}

/**
 * `source` with another path. A checksum that discovery computes on demand stays so: a spread
 * would compute it, and hashing loads node:crypto, which a lint never needs otherwise.
 */
function withPath(source: MigrationSource, path: string): MigrationSource {
  if (!Object.getOwnPropertyDescriptor(source, 'checksum')?.get) return { ...source, path };
  const properties = Object.getOwnPropertyDescriptors(source);
  return Object.defineProperties({}, { ...properties, path: { ...properties.path, value: path } }) as MigrationSource;
}

/**
 * relative(cwd, path) || path, for every path of a selection. A path that is already normalised
 * (as discovery writes them: resolved, then joined with entry names) under `cwd` or under one of the
 * `dirs` linted is cut directly, and joined to what relative() makes of that directory: path.relative
 * resolves both of its arguments on each call, ~10 µs under the lint's V8 flags, 3 ms for a directory
 * of 285 migrations. Windows paths compare without case: relative() decides there.
 */
function displayPath(cwd: string, dirs: readonly string[]): (path: string) => string {
  const base = resolve(cwd);
  const known = [base, ...dirs].map((dir) => ({ prefix: dir.endsWith(sep) ? dir : dir + sep, shown: relative(base, dir) }));
  return (path) => {
    if (sep === '/') {
      for (const { prefix, shown } of known) {
        if (!path.startsWith(prefix)) continue;
        const rest = path.slice(prefix.length);
        if (rest !== '' && !UNNORMALISED.test(rest)) return shown === '' ? rest : `${shown}/${rest}`;
      }
    }
    return relative(cwd, path) || path;
  };
}

/** A path part that path.relative would change: an empty, `.` or `..` segment. */
const UNNORMALISED = /(?:^|\/)\.{0,2}(?:\/|$)/;

/**
 * The files to lint in the order their tools run them: each directory's in its discovery's order,
 * then those known by name alone in version order. The history is every migration of those
 * directories that runs before the last linted one and is not linted itself.
 */
function inRunOrder(located: readonly Located[]): { files: MigrationFile[]; history: MigrationFile[] } {
  const byDiscovery = new Map<Discovery, number[]>();
  const byName: MigrationFile[] = [];
  for (const found of located) {
    if ('migration' in found) byName.push(found.migration);
    else {
      const indexes = byDiscovery.get(found.discovery);
      if (indexes) indexes.push(found.index);
      else byDiscovery.set(found.discovery, [found.index]);
    }
  }
  const files: MigrationFile[] = [];
  const history: MigrationFile[] = [];
  for (const [discovery, indexes] of byDiscovery) {
    const linted = new Set(indexes);
    const last = Math.max(...indexes);
    discovery.migrations.forEach((migration, index) => {
      if (linted.has(index)) files.push(migration);
      else if (index < last) history.push(migration);
    });
  }
  byName.sort((a, b) => compareVersions(a.version, b.version));
  return { files: [...files, ...byName], history };
}

/** A file named on the command line that matches no layout: linted all the same, with the phase it declares. */
async function readPlainFile(path: string): Promise<MigrationSource> {
  let text: SqlFileText;
  try {
    text = await readSqlFile(path);
  } catch (error) {
    throw new MigrationDiscoveryError(`cannot read migration ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return { path, ...text, phase: text.problem === undefined ? readMigrationPhase(text.sql, path) : 'expand' };
}
