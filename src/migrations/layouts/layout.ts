/**
 * One migration tool's layout: how its migrations sit in a directory, the order it applies them,
 * what it runs of each file and whether in a transaction, and its version table (read for the
 * replica gate, written when ship applies a migration). Each tool is one file in this folder,
 * registered with one line in registry.ts; discovery asks each registered layout whether a
 * directory is its tool's, and the replica gate looks for each one's table.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import { MigrationDiscoveryError, type LayoutId, type MigrationFile } from '../migration-file.js';
import type { SqlClient, VersionTableAdapter } from './version-table.js';

/** A migrations directory as discovery read it. */
export interface DirectoryListing {
  readonly dir: string;
  /** `dir` as path.join writes it, with a separator after ('' for the current directory): see entryPath. */
  readonly prefix: string;
  /** Names of its regular files (links followed), sorted. */
  readonly files: readonly string[];
  /** Names of its subdirectories, sorted. */
  readonly dirs: readonly string[];
}

/** A migration a layout found, before its file is read. */
export interface FoundMigration {
  /** The file the tool executes. */
  readonly path: string;
  readonly version: string;
  readonly name: string;
  /** What the directory says of the transaction when the file itself does not (Diesel's metadata.toml). */
  readonly runInTransaction?: boolean;
}

export interface LayoutListing {
  /** In the order the tool applies them. */
  readonly migrations: readonly FoundMigration[];
  /** SQL files the tool would skip: listed so a misnamed migration does not go unnoticed. */
  readonly unrecognised: readonly string[];
}

/**
 * What the tool executes of one file and how: `sql` keeps the file's offsets (parts it skips are
 * blanked); `problem` when the tool would refuse the file (then `sql` is '').
 */
export interface MigrationText extends Pick<MigrationFile, 'sql' | 'transaction' | 'problem'> {
  /**
   * Computes the checksum the tool records (see MigrationFile): discovery makes it a property read
   * on first use, since hashing loads node:crypto (~3 ms), which a lint never needs.
   */
  readonly checksum?: () => string;
}

/** A version table's content, read the way its tool reads it. */
export interface VersionTableState {
  /** Each listed version is applied ('each'), or everything up to the only one listed ('up-to'). */
  readonly semantics: 'each' | 'up-to';
  readonly versions: readonly string[];
  /** A migration that failed halfway, which the tool refuses to go past until someone repairs it. */
  readonly dirty?: { readonly version: string; readonly repair: string };
  /** Checksums recorded per version, for a tool that refuses to run when an applied file has changed. */
  readonly checksums?: ReadonlyMap<string, string>;
}

export interface VersionTable {
  /** The table as the tool names it unless configured otherwise, schema-qualified when the tool keeps it in a schema of its own. */
  readonly table: string;
  /** Tells the tool's table by its columns, for a table configured under another name. */
  recognises(columns: ReadonlySet<string>): boolean;
  /** `table` is regclass text: quoted and schema-qualified as needed. */
  read(client: SqlClient, table: string): Promise<VersionTableState>;
  /** Writes rows as the tool does; a new one for each run (Prisma remembers the row it started). */
  adapter(): VersionTableAdapter;
}

export interface Layout {
  readonly id: LayoutId;
  /** The tool, for messages. */
  readonly tool: string;
  /** The file layout in a few words, for the message that lists what discovery knows. */
  readonly looksLike: string;
  /** Whether the directory holds this tool's migrations: from names and marker files, reading at most a file or two. */
  detect(listing: DirectoryListing): Promise<boolean>;
  /** The tool's migrations in the directory; throws MigrationDiscoveryError where the tool would refuse the directory. */
  list(listing: DirectoryListing): Promise<LayoutListing>;
  /** What the tool runs of one migration's text, whether in a transaction, and the checksum it records. */
  read(text: string, found: FoundMigration): MigrationText;
  readonly versionTable: VersionTable;
}

/*
 * The reads here and in discovery are synchronous: a migrations directory is hundreds of small
 * files, and each asynchronous call is a round trip through libuv's thread pool. Measured on
 * crates.io's 285 Diesel migrations: 5 ms to read every up.sql synchronously, 35 ms one awaited
 * call after another, 40 to 100 ms with all of them in flight at once (on two busy cores).
 * Discovery is the whole of a `ship lint-migrations <dir>` run until the parser starts, so
 * nothing waits on the event loop meanwhile.
 */

/** The `prefix` of a DirectoryListing of `dir`: join(dir, name) is prefix + name for any name a directory holds. */
export function listingPrefix(dir: string): string {
  return join(dir, '_').slice(0, -1);
}

/**
 * join(listing.dir, ...names), for names that are one path segment each (a directory's entries, or
 * a file name such as `up.sql`): path.join normalises the whole path on each call, ~6 µs under the
 * lint's V8 flags, which for the three paths of each of a Diesel directory's 285 migrations was
 * 5 ms of a 130 ms lint. The directory is normalised once, in `prefix`.
 */
export function entryPath(listing: DirectoryListing, ...names: string[]): string {
  return listing.prefix + names.join(sep);
}

/** A small file's text (a journal, a TOML file), or undefined when there is none. */
export async function readIfPresent(path: string): Promise<string | undefined> {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new MigrationDiscoveryError(`cannot read ${path}: ${code ?? (error as Error).message}`);
  }
}

/** The names in a directory of a migrations directory (a folder per migration). */
export async function entriesOf(path: string): Promise<string[]> {
  try {
    return readdirSync(path);
  } catch (error) {
    throw new MigrationDiscoveryError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

const subdirectoryEntries = new WeakMap<DirectoryListing, Map<string, Promise<string[]>>>();

/**
 * The names in the subdirectory `name` of a listed directory, read once per listing: detection asks
 * several layouts about a directory of folders (Prisma's, Diesel's), and each would read them all.
 */
export function entriesOfSubdirectory(listing: DirectoryListing, name: string): Promise<string[]> {
  const read = subdirectoryEntries.get(listing) ?? new Map<string, Promise<string[]>>();
  subdirectoryEntries.set(listing, read);
  let entries = read.get(name);
  if (!entries) {
    entries = entriesOf(entryPath(listing, name));
    read.set(name, entries);
  }
  return entries;
}

/**
 * For tools that cannot run two migrations with one version: the first pair (by `key`, the version
 * as the tool compares it) is an error naming both files and what the tool would do.
 */
export function refuseDuplicateVersions(migrations: readonly FoundMigration[], key: (version: string) => string, consequence: string): void {
  const seen = new Map<string, FoundMigration>();
  for (const migration of migrations) {
    const earlier = seen.get(key(migration.version));
    if (earlier) {
      throw new MigrationDiscoveryError(`two migrations have version ${key(migration.version)}: ${earlier.path} and ${migration.path}; ${consequence}; renumber one of them`);
    }
    seen.set(key(migration.version), migration);
  }
}
