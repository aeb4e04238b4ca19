import { stat } from 'node:fs/promises';
import { readSqlFile, type SqlFileText } from '../lint/read-sql-file.js';
import { basename, dirname, relative, resolve, sep } from 'node:path';
import type { MigrationSource } from '../lint/types.js';
import { changedFilesSince } from './changed-files.js';
import { discoverMigrations, MigrationDiscoveryError, readMigrationFile, type DiscoveryOptions, type MigrationFile } from './discovery.js';
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

/**
 * Turns command-line paths (directories of migrations, or single files) into what to lint.
 * Paths are shown relative to `cwd`, which is what CI annotations expect.
 */
export async function selectMigrations(paths: readonly string[], options: SelectOptions): Promise<Selection> {
  const notices: string[] = [];
  const absolutePaths = paths.map((path) => resolve(options.cwd, path));
  let candidates: string[];
  if (options.base !== undefined) {
    const changed = await changedFilesSince(options.base, options.cwd);
    candidates = changed.filter(
      (file) =>
        parseMigrationFileName(basename(file), options.pattern) !== undefined &&
        (absolutePaths.length === 0 || absolutePaths.some((root) => file === root || file.startsWith(root + sep))),
    );
  } else {
    if (absolutePaths.length === 0) throw new MigrationDiscoveryError('name the migration files or directories to lint, or pass --base <git ref>');
    candidates = [];
    for (const path of absolutePaths) {
      const kind = await stat(path).then(
        (stats) => (stats.isDirectory() ? 'dir' : 'file'),
        (error: NodeJS.ErrnoException) => {
          throw new MigrationDiscoveryError(`cannot read ${relative(options.cwd, path) || path}: ${error.code === 'ENOENT' ? 'no such file or directory' : error.code}`);
        },
      );
      if (kind === 'dir') {
        const discovery = await discoverMigrations(path, options);
        candidates.push(...discovery.migrations.map((migration) => migration.path));
        for (const file of discovery.unrecognised) notices.push(`${relative(options.cwd, file)} matches no migration layout and was not linted`);
      } else {
        candidates.push(path);
      }
    }
  }
  const unique = [...new Set(candidates)];
  const files: Array<MigrationSource & { version?: string }> = [];
  for (const path of unique) {
    const migration = await readMigrationFile(path, options);
    if (migration) files.push(migration);
    else files.push(await readPlainFile(path));
  }
  files.sort((a, b) => (a.version !== undefined && b.version !== undefined ? compareVersions(a.version, b.version) : 0));
  const history = await historyFor(files, options);
  const display = (source: MigrationSource): MigrationSource => ({ ...source, path: relative(options.cwd, source.path) || source.path });
  return { files: files.map(display), history: history.map(display), notices };
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

/** Migrations in the linted files' directories that come before them and are not linted themselves. */
async function historyFor(files: ReadonlyArray<MigrationSource & { version?: string }>, options: SelectOptions): Promise<MigrationFile[]> {
  const linted = new Set(files.map((file) => file.path));
  const history: MigrationFile[] = [];
  for (const dir of new Set(files.map((file) => dirname(file.path)))) {
    const versions = files.filter((file) => dirname(file.path) === dir && file.version !== undefined).map((file) => file.version as string);
    if (versions.length === 0) continue;
    const latest = versions.reduce((a, b) => (compareVersions(a, b) >= 0 ? a : b));
    const discovery = await discoverMigrations(dir, options).catch(() => undefined);
    for (const migration of discovery?.migrations ?? []) {
      if (!linted.has(migration.path) && compareVersions(migration.version, latest) < 0) history.push(migration);
    }
  }
  return history.sort((a, b) => compareVersions(a.version, b.version));
}
