import { readdir } from 'node:fs/promises';
import { readSqlFile, type SqlFileText } from '../lint/read-sql-file.js';
import { basename, join } from 'node:path';
import type { MigrationSource } from '../lint/types.js';
import { extractDbmateUp, hasDbmateMarkers } from './dbmate.js';
import { compareVersions, parseMigrationFileName, versionParts, type MigrationLayout } from './file-name.js';
import { ERROR_CODES, type CodedError } from '../errors/codes.js';
import { readMigrationPhase, type MigrationPhase } from './phase.js';

export interface MigrationFile extends MigrationSource {
  readonly version: string;
  readonly name: string;
  readonly layout: MigrationLayout;
  readonly phase: MigrationPhase;
}

export interface DiscoveryOptions {
  /** A regular expression with a named group `version` (and optionally `name`) for other layouts. */
  readonly pattern?: RegExp;
}

export interface Discovery {
  readonly dir: string;
  /** In the order the runner applies them. */
  readonly migrations: readonly MigrationFile[];
  /** `.sql` files whose names match no layout: listed so a misnamed migration does not go unnoticed. */
  readonly unrecognised: readonly string[];
}

export class MigrationDiscoveryError extends Error implements CodedError {
  override readonly name = 'MigrationDiscoveryError';

  get shipCode() {
    return ERROR_CODES.migrationInputUnreadable;
  }
}

const LAYOUT_HELP =
  'expected Flyway V1__name.sql, golang-migrate 1_name.up.sql, dbmate 20240101120000_name.sql with "-- migrate:up", or numbered 001_name.sql; set migrations.pattern for another layout';

/** Reads one migration file: its version from the name, and the SQL the runner would execute. */
export async function readMigrationFile(path: string, options: DiscoveryOptions = {}): Promise<MigrationFile | undefined> {
  const parsed = parseMigrationFileName(basename(path), options.pattern);
  if (!parsed) return undefined;
  let text: SqlFileText;
  try {
    text = await readSqlFile(path);
  } catch (error) {
    throw new MigrationDiscoveryError(`cannot read migration ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
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

/** Every up-migration in `dir`, sorted by version; two files with one version are an error naming both. */
export async function discoverMigrations(dir: string, options: DiscoveryOptions = {}): Promise<Discovery> {
  let entries: string[];
  try {
    entries = (await readdir(dir, { withFileTypes: true })).filter((entry) => entry.isFile()).map((entry) => entry.name);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'it does not exist' : code === 'ENOTDIR' ? 'it is not a directory' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    throw new MigrationDiscoveryError(`cannot read migrations directory ${dir}: ${why}; check database.migrations.dir`);
  }
  const migrations: MigrationFile[] = [];
  const unrecognised: string[] = [];
  for (const entry of entries.sort()) {
    const migration = await readMigrationFile(join(dir, entry), options);
    if (migration) migrations.push(migration);
    else if (entry.endsWith('.sql') && !entry.endsWith('.down.sql')) unrecognised.push(join(dir, entry));
  }
  if (migrations.length === 0) {
    const seen = entries.length ? ` (found ${entries.length} other file${entries.length === 1 ? '' : 's'})` : ' (it is empty)';
    throw new MigrationDiscoveryError(`no migration files in ${dir}${seen}: ${LAYOUT_HELP}`);
  }
  migrations.sort((a, b) => compareVersions(a.version, b.version) || a.path.localeCompare(b.path));
  for (let index = 1; index < migrations.length; index++) {
    const previous = migrations[index - 1] as MigrationFile;
    const current = migrations[index] as MigrationFile;
    if (compareVersions(previous.version, current.version) === 0) {
      throw new MigrationDiscoveryError(`two migrations have version ${versionParts(current.version).join('.')}: ${previous.path} and ${current.path}; renumber one of them`);
    }
  }
  return { dir, migrations, unrecognised };
}
