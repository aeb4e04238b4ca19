/**
 * Flyway's `flyway_schema_history`: one row per migration run, ranked. The table, its primary key
 * and its index are created as Flyway's PostgreSQL template creates them; a row is what Flyway's
 * JdbcTableSchemaHistory inserts for a versioned SQL migration.
 */
import { basename } from 'node:path';
import type { MigrationFile } from '../migration-file.js';
import { flywayChecksum } from './flyway-checksum.js';
import { ensureSchemaOf, parseTableName, qualifiedName, quoteIdentifier, tableExists, type TableName } from './table-name.js';
import type { AppliedFacts, SqlClient, VersionTableAdapter } from './version-table.js';

export const FLYWAY_TABLE = 'flyway_schema_history';

/** Flyway's column widths: longer values are shortened as Flyway shortens them, never refused. */
const DESCRIPTION_WIDTH = 200;
const SCRIPT_WIDTH = 1000;

export interface FlywayOptions {
  /** Flyway's `table` (and `defaultSchema`), as `table` or `schema.table`; default flyway_schema_history. */
  readonly versionTable?: string;
}

export function flywayVersionTable(options: FlywayOptions = {}): VersionTableAdapter {
  const tableName = parseTableName(options.versionTable ?? FLYWAY_TABLE);
  const table = qualifiedName(tableName);
  return {
    tool: 'Flyway',
    table: options.versionTable ?? FLYWAY_TABLE,
    privileges: ['SELECT', 'INSERT'],
    async ensure(client) {
      if (await tableExists(client, tableName)) return;
      const createdSchema = await ensureSchemaOf(client, tableName);
      await createFlywayTable(client, tableName);
      // Flyway notes the schemas it created in the first row, so `flyway clean` knows to drop them.
      if (createdSchema)
        await insertRow(client, table, {
          version: null,
          description: '<< Flyway Schema Creation >>',
          type: 'SCHEMA',
          script: quoteIdentifier(tableName.schema as string),
          checksum: null,
          executionMs: 0,
        });
    },
    async recordApplied(client: SqlClient, migration: MigrationFile, facts: AppliedFacts) {
      const script = basename(migration.path);
      await insertRow(client, table, {
        version: migration.version,
        description: shorten(describe(migration), DESCRIPTION_WIDTH, 'cut-end'),
        type: 'SQL',
        script: shorten(script, SCRIPT_WIDTH, 'cut-start'),
        checksum: flywayChecksum(migration.sql),
        executionMs: facts.executionMs,
      });
    },
  };
}

async function createFlywayTable(client: SqlClient, tableName: TableName): Promise<void> {
  const table = qualifiedName(tableName);
  await client.query(`create table ${table} (
    "installed_rank" int not null,
    "version" varchar(50),
    "description" varchar(200) not null,
    "type" varchar(20) not null,
    "script" varchar(1000) not null,
    "checksum" int,
    "installed_by" varchar(100) not null,
    "installed_on" timestamp not null default now(),
    "execution_time" int not null,
    "success" boolean not null
  )`);
  await client.query(`alter table ${table} add constraint ${quoteIdentifier(`${tableName.name}_pk`)} primary key ("installed_rank")`);
  await client.query(`create index ${quoteIdentifier(`${tableName.name}_s_idx`)} on ${table} ("success")`);
}

interface FlywayRow {
  readonly version: string | null;
  readonly description: string;
  readonly type: string;
  readonly script: string;
  readonly checksum: number | null;
  readonly executionMs: number;
}

/** installed_rank is one more than the highest, as Flyway computes it; installed_by is the role, as Flyway's default. */
async function insertRow(client: SqlClient, table: string, row: FlywayRow): Promise<void> {
  await client.query(
    `insert into ${table} ("installed_rank", "version", "description", "type", "script", "checksum", "installed_by", "execution_time", "success")
     select coalesce(max("installed_rank"), 0) + 1, $1::varchar, $2::varchar, $3::varchar, $4::varchar, $5::int, current_user, $6::int, true from ${table}`,
    [row.version, row.description, row.type, row.script, row.checksum, Math.round(row.executionMs)],
  );
}

/** Flyway's description: the name after `__`, underscores as spaces. */
function describe(migration: MigrationFile): string {
  return migration.name.replace(/_/g, ' ');
}

/** Flyway keeps the start of a long description and the end of a long script path, marking the cut with `...`. */
function shorten(text: string, width: number, how: 'cut-end' | 'cut-start'): string {
  if (text.length <= width) return text;
  return how === 'cut-end' ? `${text.slice(0, width - 3)}...` : `...${text.slice(text.length - (width - 3))}`;
}
