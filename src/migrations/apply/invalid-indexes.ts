/**
 * A CREATE INDEX CONCURRENTLY cancelled by lock_timeout after its first phase leaves its index
 * behind, INVALID (unused by queries, yet maintained on every write). Retrying the statement would
 * fail on "already exists"; the leftover is found by comparing the table's invalid indexes before
 * and after the attempt (by name when the statement names the index, so another session's index
 * being built is never taken for it) and dropped CONCURRENTLY, so the drop blocks no writer either.
 */
import { qualifiedName } from '../layouts/table-name.js';
import type { SqlClient } from '../layouts/version-table.js';
import type { ConcurrentIndex } from './plan.js';

/** The table's invalid indexes (of that name, when the statement names it), as regclass text: quoted as needed, ready for SQL. */
export async function invalidIndexes(client: SqlClient, index: ConcurrentIndex): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    `select i.indexrelid::regclass::text as name
       from pg_index i join pg_class c on c.oid = i.indexrelid
      where i.indrelid = to_regclass($1) and not i.indisvalid and ($2::text is null or c.relname = $2)`,
    [qualifiedName(index.table), index.name ?? null],
  );
  return rows.map((row) => row.name);
}

export async function dropIndexConcurrently(client: SqlClient, regclassText: string): Promise<void> {
  await client.query(`drop index concurrently if exists ${regclassText}`);
}
