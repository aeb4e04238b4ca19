/**
 * The version table of each migration layout, keyed by the layout's id (file-name.ts and the
 * layouts added beside it). A layout registers itself here in one line.
 */
import { dbmateVersionTable } from './dbmate.js';
import { existingVersionTable } from './existing-table.js';
import { flywayVersionTable } from './flyway.js';
import { golangMigrateVersionTable } from './golang-migrate.js';
import type { VersionTableAdapter } from './version-table.js';
import { VersionTableError } from './version-table-error.js';

/** What the config says about the version table (database.versionTable, database.versionQuery). */
export interface VersionTableOptions {
  readonly versionTable?: string;
  readonly versionQuery?: string;
}

export type VersionTableFactory = (options: VersionTableOptions) => VersionTableAdapter;

export const VERSION_TABLES: Readonly<Record<string, VersionTableFactory>> = {
  flyway: flywayVersionTable,
  'golang-migrate': golangMigrateVersionTable,
  dbmate: dbmateVersionTable,
  numbered: existingVersionTable,
  pattern: existingVersionTable,
};

export function versionTableFor(layout: string, options: VersionTableOptions = {}): VersionTableAdapter {
  const factory = Object.hasOwn(VERSION_TABLES, layout) ? VERSION_TABLES[layout] : undefined;
  if (!factory) throw new VersionTableError(`ship cannot record migrations of layout "${layout}" (it knows ${Object.keys(VERSION_TABLES).join(', ')})`);
  return factory(options);
}
