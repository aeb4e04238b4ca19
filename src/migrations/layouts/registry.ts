/**
 * The migration layouts by id, one line per tool.
 *
 * LAYOUTS: the tools with a layout file of their own (discovery, ordering, version table), which
 * discovery detects per directory and the replica gate reads. Detection takes the first layout
 * that claims a directory, so the ones with a marker of their own (a journal, a folder per
 * migration, an annotation) come before sqlx, which is told apart only by the crate around it; a
 * directory none claims is read by file name (discovery.ts: Flyway, golang-migrate, dbmate,
 * numbered), whose version tables are in VERSION_TABLES.
 */
import type { LayoutId } from '../migration-file.js';
import { dbmateVersionTable } from './dbmate.js';
import { diesel } from './diesel.js';
import { drizzle } from './drizzle.js';
import { existingVersionTable } from './existing-table.js';
import { flywayVersionTable } from './flyway.js';
import { golangMigrateVersionTable } from './golang-migrate.js';
import { goose } from './goose.js';
import type { Layout } from './layout.js';
import { prisma } from './prisma.js';
import { sqlx } from './sqlx.js';
import type { VersionTableAdapter } from './version-table.js';
import { VersionTableError } from './version-table-error.js';

export const LAYOUTS: Readonly<Record<LayoutId, Layout>> = {
  drizzle,
  prisma,
  diesel,
  goose,
  sqlx,
};

/** What the config says about the version table (database.versionTable, database.versionQuery). */
export interface VersionTableOptions {
  readonly versionTable?: string;
  readonly versionQuery?: string;
}

export type VersionTableFactory = (options: VersionTableOptions) => VersionTableAdapter;

/** The layouts known by their file names alone. */
export const VERSION_TABLES: Readonly<Record<string, VersionTableFactory>> = {
  flyway: flywayVersionTable,
  'golang-migrate': golangMigrateVersionTable,
  dbmate: dbmateVersionTable,
  numbered: existingVersionTable,
  pattern: existingVersionTable,
};

/** The adapter that records a file of this layout as its tool would. */
export function versionTableFor(layout: string, options: VersionTableOptions = {}): VersionTableAdapter {
  if (Object.hasOwn(LAYOUTS, layout)) return LAYOUTS[layout as LayoutId].versionTable.adapter();
  const factory = Object.hasOwn(VERSION_TABLES, layout) ? VERSION_TABLES[layout] : undefined;
  if (!factory) {
    throw new VersionTableError(`ship cannot record migrations of layout "${layout}" (it knows ${[...Object.keys(LAYOUTS), ...Object.keys(VERSION_TABLES)].join(', ')})`);
  }
  return factory(options);
}
