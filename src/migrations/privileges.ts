/**
 * For `ship check`: can the database role ship applies migrations as record them? It must create
 * the version table when it is missing, write it when it is there, and take a lock on it. Asked of
 * the server (has_*_privilege, and a LOCK ... NOWAIT rolled back at once), never inferred from
 * role names; nothing is created or changed.
 */
import { parseTableName, qualifiedName, quoteIdentifier, type TableName } from './layouts/table-name.js';
import type { SqlClient, TablePrivilege, VersionTableAdapter } from './layouts/version-table.js';
import { VersionTableError } from './layouts/version-table-error.js';

const DEFAULT_PRIVILEGES: readonly TablePrivilege[] = ['INSERT', 'UPDATE', 'DELETE'];

interface Who {
  readonly role: string;
  readonly database: string;
}

/** Problems, each naming the table, the role and the database; empty when the role can do all of it. */
export async function checkMigrationPrivileges(client: SqlClient, adapter: VersionTableAdapter): Promise<string[]> {
  const { rows } = await client.query<{ role: string; database: string }>('select current_user as role, current_database() as database');
  const who: Who = { role: rows[0]!.role, database: rows[0]!.database };
  try {
    await adapter.locate?.(client);
  } catch (error) {
    if (error instanceof VersionTableError) return [`role "${who.role}" on database "${who.database}": ${error.message}`];
    throw error;
  }
  const table = parseTableName(adapter.table);
  const named = `${adapter.table} (${adapter.tool})`;
  const found = await client.query<{ oid: number; schema: string }>(
    'select c.oid, n.nspname as schema from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.oid = to_regclass($1)',
    [qualifiedName(table)],
  );
  const existing = found.rows[0];
  if (!existing) return creationProblems(client, table, named, who);
  const problems = await writeProblems(client, existing, adapter, named, who);
  const lock = await lockProblem(client, table, named, who);
  return lock ? [...problems, lock] : problems;
}

async function creationProblems(client: SqlClient, table: TableName, named: string, who: Who): Promise<string[]> {
  if (table.schema !== undefined) {
    const { rows } = await client.query<{ exists: boolean; can_create_schema: boolean; can_create_in: boolean | null }>(
      `select to_regnamespace($1) is not null as exists,
              has_database_privilege(current_database(), 'CREATE') as can_create_schema,
              case when to_regnamespace($1) is null then null else has_schema_privilege(to_regnamespace($1), 'CREATE') end as can_create_in`,
      [quoteIdentifier(table.schema)],
    );
    const row = rows[0]!;
    if (!row.exists && !row.can_create_schema) {
      return [
        `role "${who.role}" cannot create the version table ${named}: its schema "${table.schema}" does not exist and the role lacks CREATE on database "${who.database}"; create the schema, or GRANT CREATE ON DATABASE ${quoteIdentifier(who.database)} TO ${quoteIdentifier(who.role)}`,
      ];
    }
    if (row.exists && !row.can_create_in) return [cannotCreateIn(table.schema, named, who)];
    return [];
  }
  const { rows } = await client.query<{ schema: string | null; can_create: boolean | null }>(
    `select current_schema() as schema, case when current_schema() is null then null else has_schema_privilege(current_schema(), 'CREATE') end as can_create`,
  );
  const row = rows[0]!;
  if (row.schema === null) {
    return [
      `role "${who.role}" cannot create the version table ${named} on database "${who.database}": no schema of its search_path exists; set search_path or qualify the table with its schema`,
    ];
  }
  return row.can_create ? [] : [cannotCreateIn(row.schema, named, who)];
}

function cannotCreateIn(schema: string, named: string, who: Who): string {
  return (
    `role "${who.role}" cannot create the version table ${named}: it lacks CREATE on schema "${schema}" of database "${who.database}"; ` +
    `GRANT CREATE ON SCHEMA ${quoteIdentifier(schema)} TO ${quoteIdentifier(who.role)}, or create the table once as the tool would`
  );
}

async function writeProblems(client: SqlClient, existing: { oid: number; schema: string }, adapter: VersionTableAdapter, named: string, who: Who): Promise<string[]> {
  const { schema } = existing;
  const wanted = adapter.privileges ?? DEFAULT_PRIVILEGES;
  const { rows } = await client.query<{ usage: boolean; granted: boolean[] }>(
    `select has_schema_privilege(c.relnamespace, 'USAGE') as usage,
            array(select has_table_privilege(c.oid, w.p) from unnest($2::text[]) with ordinality as w(p, i) order by w.i) as granted
       from pg_class c where c.oid = $1::oid`,
    [existing.oid, wanted],
  );
  const row = rows[0]!;
  if (!row.usage) {
    return [
      `role "${who.role}" cannot reach the version table ${named}: it lacks USAGE on schema "${schema}" of database "${who.database}"; GRANT USAGE ON SCHEMA ${quoteIdentifier(schema)} TO ${quoteIdentifier(who.role)}`,
    ];
  }
  const missing = wanted.filter((_, index) => row.granted[index] !== true);
  if (missing.length === 0) return [];
  return [
    `role "${who.role}" cannot record migrations in the version table ${named} on database "${who.database}": it lacks ${missing.join(', ')}; ` +
      `GRANT ${missing.join(', ')} ON ${quoteIdentifier(schema)}.${quoteIdentifier(parseTableName(adapter.table).name)} TO ${quoteIdentifier(who.role)}`,
  ];
}

/** The lock a migration run holds on its version table, tried without waiting and released at once. */
async function lockProblem(client: SqlClient, table: TableName, named: string, who: Who): Promise<string | undefined> {
  try {
    await client.query('begin');
    await client.query(`lock table ${qualifiedName(table)} in share row exclusive mode nowait`);
    return undefined;
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    if (code === '55P03')
      return `role "${who.role}" could not lock the version table ${named} on database "${who.database}" right now: another session holds a conflicting lock (${message})`;
    return `role "${who.role}" cannot lock the version table ${named} on database "${who.database}" (SHARE ROW EXCLUSIVE, which needs UPDATE, DELETE or TRUNCATE on it): ${message}${code ? ` (SQLSTATE ${code})` : ''}`;
  } finally {
    await client.query('rollback').catch(() => undefined);
  }
}
