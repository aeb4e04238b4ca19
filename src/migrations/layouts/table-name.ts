/**
 * A version table's name as the config gives it (`schema_migrations`, `flyway.flyway_schema_history`,
 * `"Audit"."Versions"`), read the way PostgreSQL reads an identifier, and written back quoted: a
 * name from the config never reaches SQL text as is.
 */
import type { SqlClient } from './version-table.js';
import { VersionTableError } from './version-table-error.js';

export interface TableName {
  readonly schema?: string;
  readonly name: string;
}

const PART = /^(?:"((?:[^"]|"")+)"|([A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*))/;

/** Unquoted parts fold to lower case, as PostgreSQL folds them; quoted parts keep their spelling. */
export function parseTableName(text: string): TableName {
  const parts: string[] = [];
  let rest = text.trim();
  for (;;) {
    const match = PART.exec(rest);
    if (!match) break;
    parts.push(match[1] !== undefined ? match[1].replace(/""/g, '"') : (match[2] as string).toLowerCase());
    rest = rest.slice(match[0].length);
    if (!rest.startsWith('.')) break;
    rest = rest.slice(1);
  }
  if (rest !== '' || parts.length === 0 || parts.length > 2) {
    throw new VersionTableError(`version table ${JSON.stringify(text)} is not a table name: expected table or schema.table (quote a part with "..." when it needs it)`);
  }
  return parts.length === 2 ? { schema: parts[0] as string, name: parts[1] as string } : { name: parts[0] as string };
}

export function quoteIdentifier(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

/** The table for SQL text: `"schema"."name"`, or `"name"` found through the search_path. */
export function qualifiedName(table: TableName): string {
  return table.schema === undefined ? quoteIdentifier(table.name) : `${quoteIdentifier(table.schema)}.${quoteIdentifier(table.name)}`;
}

/** Whether the table exists, as this connection's search_path finds it. */
export async function tableExists(client: SqlClient, table: TableName): Promise<boolean> {
  const { rows } = await client.query<{ found: boolean }>('select to_regclass($1) is not null as found', [qualifiedName(table)]);
  return rows[0]?.found === true;
}

/**
 * Creates the table's own schema when it names one that is missing; true when it did. Looked up
 * first: CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege on the database even when the
 * schema is there.
 */
export async function ensureSchemaOf(client: SqlClient, table: TableName): Promise<boolean> {
  if (table.schema === undefined) return false;
  const { rows } = await client.query<{ found: boolean }>('select to_regnamespace($1) is not null as found', [quoteIdentifier(table.schema)]);
  if (rows[0]?.found === true) return false;
  await client.query(`create schema if not exists ${quoteIdentifier(table.schema)}`);
  return true;
}
