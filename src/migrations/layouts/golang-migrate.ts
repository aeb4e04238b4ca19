/**
 * golang-migrate's `schema_migrations(version bigint, dirty boolean)`: one row, the latest version.
 * migrate replaces that row with (version, dirty = true) before running a file and with
 * (version, dirty = false) after it; a file that fails leaves the version dirty, and migrate then
 * refuses to run until someone repairs it (`migrate force`). ship keeps to that, so `migrate` and
 * ship agree on every state the table can be in.
 */
import type { MigrationFile } from '../migration-file.js';
import { ensureSchemaOf, parseTableName, qualifiedName, tableExists } from './table-name.js';
import type { SqlClient, VersionTableAdapter } from './version-table.js';
import { VersionTableError } from './version-table-error.js';

export const GOLANG_MIGRATE_TABLE = 'schema_migrations';

export interface GolangMigrateOptions {
  /** migrate's `x-migrations-table`, as `table` or `schema.table`; default schema_migrations. */
  readonly versionTable?: string;
}

export function golangMigrateVersionTable(options: GolangMigrateOptions = {}): VersionTableAdapter {
  const tableName = parseTableName(options.versionTable ?? GOLANG_MIGRATE_TABLE);
  const table = qualifiedName(tableName);
  const shown = options.versionTable ?? GOLANG_MIGRATE_TABLE;
  // DELETE rather than migrate's TRUNCATE: the same row results, without an ACCESS EXCLUSIVE
  // lock that would stall everything reading the version (the replica checks included).
  const replaceRow = async (client: SqlClient, migration: MigrationFile, dirty: boolean) => {
    await client.query(`delete from ${table}`);
    await client.query(`insert into ${table} ("version", "dirty") values ($1::bigint, $2)`, [wholeNumber(migration, shown), dirty]);
  };
  return {
    tool: 'golang-migrate',
    table: shown,
    privileges: ['SELECT', 'INSERT', 'DELETE'],
    async ensure(client) {
      if (await tableExists(client, tableName)) return;
      await ensureSchemaOf(client, tableName);
      await client.query(`create table if not exists ${table} ("version" bigint not null primary key, "dirty" boolean not null)`);
    },
    markStarted: (client, migration) => replaceRow(client, migration, true),
    recordApplied: (client, migration) => replaceRow(client, migration, false),
  };
}

/** migrate's versions are whole numbers (its file names start with one); anything else cannot go in the bigint column. */
function wholeNumber(migration: MigrationFile, table: string): string {
  if (/^\d{1,18}$/.test(migration.version.replace(/^0+(?=\d)/, ''))) return migration.version;
  throw new VersionTableError(`${migration.path}: version ${migration.version} cannot be recorded in ${table} (golang-migrate keeps whole numbers up to 18 digits)`);
}
