/**
 * dbmate's `schema_migrations(version varchar(128) primary key)`: one row per applied file,
 * inserted in the file's transaction (after it, on its own, for `transaction:false` files).
 */
import { ensureSchemaOf, parseTableName, qualifiedName, tableExists } from './table-name.js';
import type { VersionTableAdapter } from './version-table.js';

export const DBMATE_TABLE = 'schema_migrations';

export interface DbmateOptions {
  /** dbmate's `--migrations-table`, as `table` or `schema.table`; default schema_migrations. */
  readonly versionTable?: string;
}

export function dbmateVersionTable(options: DbmateOptions = {}): VersionTableAdapter {
  const tableName = parseTableName(options.versionTable ?? DBMATE_TABLE);
  const table = qualifiedName(tableName);
  return {
    tool: 'dbmate',
    table: options.versionTable ?? DBMATE_TABLE,
    privileges: ['SELECT', 'INSERT'],
    async ensure(client) {
      if (await tableExists(client, tableName)) return;
      await ensureSchemaOf(client, tableName);
      await client.query(`create table if not exists ${table} ("version" varchar(128) primary key)`);
    },
    async recordApplied(client, migration) {
      await client.query(`insert into ${table} ("version") values ($1)`, [migration.version]);
    },
  };
}
