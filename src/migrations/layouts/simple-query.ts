import { splitPoint } from '../../lint/split.js';

/**
 * Whether PostgreSQL runs a file sent whole as one simple-protocol query in a transaction: it runs
 * several statements sent that way as one implicit transaction, and a lone statement outside any.
 * Prisma sends every migration so, Diesel and sqlx the ones they do not wrap themselves; so
 * `CREATE INDEX CONCURRENTLY` works alone in such a file and fails beside another statement.
 */
export function runsAsImplicitTransaction(sql: string): boolean {
  const endOfFirst = splitPoint(sql, 0);
  if (endOfFirst === undefined) return false;
  // Comments, blank lines and empty statements after the first one are no second statement.
  const rest = sql.slice(endOfFirst).replace(/--[^\n]*|\/\*[\s\S]*?\*\/|;/g, '');
  return rest.trim() !== '';
}
