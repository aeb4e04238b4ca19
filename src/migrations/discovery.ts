import { readdirSync } from 'node:fs';
import { readSqlFile, type SqlFileText } from '../lint/read-sql-file.js';
import { basename } from 'node:path';
import { extractDbmateUp, hasDbmateMarkers } from './dbmate.js';
import { compareVersions, parseMigrationFileName, versionParts } from './file-name.js';
import { entryPath, listingPrefix, type DirectoryListing, type FoundMigration, type Layout } from './layouts/layout.js';
import { LAYOUTS } from './layouts/registry.js';
import { MigrationDiscoveryError, type LayoutId, type MigrationFile } from './migration-file.js';
import { readMigrationPhase } from './phase.js';

export { MigrationDiscoveryError, type MigrationFile } from './migration-file.js';

export interface DiscoveryOptions {
  /** A regular expression with a named group `version` (and optionally `name`) for other layouts. */
  readonly pattern?: RegExp;
}

export interface Discovery {
  readonly dir: string;
  /** The tool whose layout the directory has, when one of layouts/ claimed it (else the files' names tell). */
  readonly layout?: LayoutId;
  /** In the order the runner applies them. */
  readonly migrations: readonly MigrationFile[];
  /** `.sql` files whose names match no layout: listed so a misnamed migration does not go unnoticed. */
  readonly unrecognised: readonly string[];
}

const TOOL_LAYOUTS = Object.values(LAYOUTS)
  .map((layout) => layout.looksLike)
  .join(', ');
const LAYOUT_HELP = `expected Flyway V1__name.sql, golang-migrate 1_name.up.sql, dbmate 20240101120000_name.sql with "-- migrate:up", numbered 001_name.sql, ${TOOL_LAYOUTS}; set migrations.pattern for another layout`;

/**
 * Runners that refuse two migrations with one version; the others apply both, in name order.
 * `V1__x.sql` is Flyway's alone. `1_x.up.sql` is golang-migrate's naming, but other runners that
 * order files by name use it too (a project whose migrate refused its duplicates could not have
 * shipped them), so those are linted in name order rather than refused.
 */
const REFUSE_DUPLICATES: Partial<Record<MigrationFile['layout'], string>> = {
  flyway: 'Flyway refuses to migrate with both',
};

async function readText(path: string): Promise<SqlFileText> {
  try {
    return await readSqlFile(path);
  } catch (error) {
    throw new MigrationDiscoveryError(`cannot read migration ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/** Reads one migration file by its name alone: its version, and the SQL the runner would execute. */
export async function readMigrationFile(path: string, options: DiscoveryOptions = {}): Promise<MigrationFile | undefined> {
  const parsed = parseMigrationFileName(basename(path), options.pattern);
  if (!parsed) return undefined;
  const text = await readText(path);
  // Not refused here: discovery cannot tell a file to lint from one read for context (see lintMigrations).
  if (text.problem !== undefined) return { path, version: parsed.version, name: parsed.name, layout: parsed.layout, phase: 'expand', sql: '', problem: text.problem };
  // Read from the whole file: a dbmate header above "-- migrate:up" is outside the up section.
  return { ...migrationOf(path, parsed, text.sql), phase: readMigrationPhase(text.sql, path) };
}

function migrationOf(path: string, parsed: NonNullable<ReturnType<typeof parseMigrationFileName>>, text: string): Omit<MigrationFile, 'phase'> {
  if (parsed.layout === 'numbered' && hasDbmateMarkers(text)) {
    const up = extractDbmateUp(text);
    if (up) return { path, version: parsed.version, name: parsed.name, layout: 'dbmate', sql: up.sql, transaction: up.transaction };
  }
  return { path, version: parsed.version, name: parsed.name, layout: parsed.layout, sql: text };
}

/** A migration of a layout in layouts/, read as its tool reads it. */
async function readLayoutMigration(layout: Layout, found: FoundMigration): Promise<MigrationFile> {
  const text = await readText(found.path);
  const base = { path: found.path, version: found.version, name: found.name, layout: layout.id };
  if (text.problem !== undefined) return { ...base, phase: 'expand', sql: '', problem: text.problem };
  const { checksum, ...read } = layout.read(text.sql, found);
  const migration = { ...base, ...read, phase: readMigrationPhase(text.sql, found.path) };
  return checksum ? withChecksumOnDemand(migration, checksum) : migration;
}

/** `migration` with a `checksum` property computed when first read, then kept. */
function withChecksumOnDemand(migration: MigrationFile, compute: () => string): MigrationFile {
  let checksum: string | undefined;
  return Object.defineProperty(migration, 'checksum', { enumerable: true, get: () => (checksum ??= compute()) });
}

async function listDirectory(dir: string): Promise<DirectoryListing> {
  const files: string[] = [];
  const dirs: string[] = [];
  try {
    // Synchronous, like every read of discovery's (see layouts/layout.ts).
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isFile()) files.push(entry.name);
      else if (entry.isDirectory()) dirs.push(entry.name);
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'it does not exist' : code === 'ENOTDIR' ? 'it is not a directory' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    throw new MigrationDiscoveryError(`cannot read migrations directory ${dir}: ${why}; check database.migrations.dir`);
  }
  return { dir, prefix: listingPrefix(dir), files: files.sort(), dirs: dirs.sort() };
}

/**
 * Every up-migration in `dir`, in the order its tool applies them. The tool is detected: a layout
 * of layouts/ that claims the directory, else each file's name (and dbmate's markers) tells. Two
 * files with one version are an error naming both where the tool refuses them, and otherwise
 * both run, in name order.
 */
export async function discoverMigrations(dir: string, options: DiscoveryOptions = {}): Promise<Discovery> {
  const listing = await listDirectory(dir);
  if (options.pattern === undefined) {
    for (const layout of Object.values(LAYOUTS)) {
      if (!(await layout.detect(listing))) continue;
      const { migrations, unrecognised } = await layout.list(listing);
      if (migrations.length === 0) throw new MigrationDiscoveryError(`no migration files in ${dir} (${layout.tool} layout, ${layout.looksLike})`);
      const read: MigrationFile[] = [];
      for (const found of migrations) read.push(await readLayoutMigration(layout, found));
      return { dir, layout: layout.id, migrations: read, unrecognised };
    }
  }
  const migrations: MigrationFile[] = [];
  const unrecognised: string[] = [];
  for (const entry of listing.files) {
    const migration = await readMigrationFile(entryPath(listing, entry), options);
    if (migration) migrations.push(migration);
    else if (entry.endsWith('.sql') && !entry.endsWith('.down.sql')) unrecognised.push(entryPath(listing, entry));
  }
  if (migrations.length === 0) {
    const others = listing.files.length + listing.dirs.length;
    const seen = others ? ` (found ${others} other entr${others === 1 ? 'y' : 'ies'})` : ' (it is empty)';
    throw new MigrationDiscoveryError(`no migration files in ${dir}${seen}: ${LAYOUT_HELP}`);
  }
  // Name order among equal versions: code units, as the runners compare names.
  migrations.sort((a, b) => compareVersions(a.version, b.version) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (let index = 1; index < migrations.length; index++) {
    const previous = migrations[index - 1] as MigrationFile;
    const current = migrations[index] as MigrationFile;
    const refusal = REFUSE_DUPLICATES[previous.layout] ?? REFUSE_DUPLICATES[current.layout];
    if (refusal !== undefined && compareVersions(previous.version, current.version) === 0) {
      throw new MigrationDiscoveryError(
        `two migrations have version ${versionParts(current.version).join('.')}: ${previous.path} and ${current.path}; ${refusal}; renumber one of them`,
      );
    }
  }
  return { dir, migrations, unrecognised };
}
