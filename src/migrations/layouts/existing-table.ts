/**
 * Numbered files (`001_add_users.sql`) and files named by a configured pattern belong to no tool
 * ship knows, so ship records them in the version table the team already has, in the shape that
 * table has: Flyway's history, golang-migrate's single row, or one row per version (dbmate, Rails).
 * The shape is read from the table's columns, as the pre-flight reads the applied versions; a
 * table ship cannot read that way, or none at all, is refused rather than guessed at.
 */
import type { MigrationFile } from '../migration-file.js';
import { dbmateVersionTable } from './dbmate.js';
import { flywayVersionTable, FLYWAY_TABLE } from './flyway.js';
import { golangMigrateVersionTable, GOLANG_MIGRATE_TABLE } from './golang-migrate.js';
import { parseTableName, qualifiedName } from './table-name.js';
import type { AppliedFacts, SqlClient, TablePrivilege, VersionTableAdapter } from './version-table.js';
import { VersionTableError } from './version-table-error.js';

export interface ExistingTableOptions {
  /** database.versionTable; default: schema_migrations, then flyway_schema_history (as the pre-flight looks them up). */
  readonly versionTable?: string;
  /** database.versionQuery: reads versions, but says nothing of how to record one. */
  readonly versionQuery?: string;
}

const DEFAULT_TABLES = [GOLANG_MIGRATE_TABLE, FLYWAY_TABLE];

/** Until the shape is known: what any of the three shapes may need. */
const ANY_SHAPE_PRIVILEGES: readonly TablePrivilege[] = ['SELECT', 'INSERT', 'DELETE'];

export function existingVersionTable(options: ExistingTableOptions = {}): VersionTableAdapter {
  if (options.versionTable === undefined && options.versionQuery !== undefined) {
    throw new VersionTableError(
      'database.versionQuery tells ship how to read the applied versions, not how to record one: set database.versionTable to the table your runner writes ' +
        '(ship records in it as Flyway, golang-migrate or one row per version, from its columns), or let your own tool apply the files with database.migrate.run: { command }',
    );
  }
  const candidates = options.versionTable === undefined ? DEFAULT_TABLES : [options.versionTable];
  for (const candidate of candidates) parseTableName(candidate);
  let shape: VersionTableAdapter | undefined;
  const detected = (): VersionTableAdapter => {
    if (!shape) throw new Error('existing version table: ensure() must run before recording');
    return shape;
  };
  return {
    get tool() {
      return shape?.tool ?? 'the existing version table';
    },
    get table() {
      return shape?.table ?? candidates.join(' or ');
    },
    get privileges() {
      return shape?.privileges ?? ANY_SHAPE_PRIVILEGES;
    },
    async locate(client) {
      shape ??= await detectShape(client, candidates);
    },
    async ensure(client) {
      shape ??= await detectShape(client, candidates);
      await shape.ensure(client);
    },
    async markStarted(client: SqlClient, migration: MigrationFile) {
      await detected().markStarted?.(client, migration);
    },
    async recordApplied(client: SqlClient, migration: MigrationFile, facts: AppliedFacts) {
      await detected().recordApplied(client, migration, facts);
    },
  };
}

async function detectShape(client: SqlClient, candidates: readonly string[]): Promise<VersionTableAdapter> {
  for (const candidate of candidates) {
    const { rows } = await client.query<{ oid: number | null; name: string | null }>('select to_regclass($1)::oid as oid, to_regclass($1)::text as name', [
      qualifiedName(parseTableName(candidate)),
    ]);
    const found = rows[0];
    if (found?.oid == null || found.name == null) continue;
    const columns = new Set(
      (await client.query<{ attname: string }>('select attname from pg_attribute where attrelid = $1 and attnum > 0 and not attisdropped', [found.oid])).rows.map(
        (row) => row.attname,
      ),
    );
    // regclass text is a correctly quoted name, which parseTableName reads back.
    const versionTable = found.name;
    if (columns.has('version') && columns.has('success') && columns.has('installed_rank')) return flywayVersionTable({ versionTable });
    if (columns.has('version') && columns.has('dirty')) return golangMigrateVersionTable({ versionTable });
    if (columns.has('version')) return { ...dbmateVersionTable({ versionTable }), tool: 'one row per version' };
    throw new VersionTableError(
      `${versionTable} has no "version" column (columns: ${[...columns].join(', ')}), so ship cannot tell how to record a migration in it; ` +
        'set database.versionTable to the table your runner writes, or apply with database.migrate.run: { command }',
    );
  }
  throw new VersionTableError(
    `the version table ${candidates.map((name) => `"${name}"`).join(' or ')} does not exist (looked up with this connection's search_path), ` +
      'and numbered migration files say nothing of its shape: create it as your runner would (one row per version: create table schema_migrations (version varchar(128) primary key)), ' +
      'or set database.versionTable to where the applied versions live',
  );
}
