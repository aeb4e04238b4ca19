import type { Node, WithClause } from 'libpg-query';
import { defineRule } from '../src/lint/define-rule.js';
import { formatTable, stringList, tableOf } from '../src/lint/ast.js';

const RANGE_OPERATORS = new Set(['=', '<', '<=', '>', '>=']);
const RANGE_KINDS = new Set(['AEXPR_BETWEEN', 'AEXPR_BETWEEN_SYM', 'AEXPR_OP_ANY', 'AEXPR_LIKE', 'AEXPR_ILIKE']);

/** The expression reads a column of the row being changed (a subquery's own columns do not count). */
function readsRow(node: unknown): boolean {
  if (Array.isArray(node)) return node.some(readsRow);
  if (node === null || typeof node !== 'object') return false;
  if ('ColumnRef' in node) return true;
  if ('SubLink' in node) return false;
  return Object.values(node).some(readsRow);
}

/** A subquery with a LIMIT: `id IN (SELECT id ... LIMIT 1000)`, `ctid = ANY (ARRAY(SELECT ... LIMIT n))`. */
function limitedSubquery(node: unknown): boolean {
  if (Array.isArray(node)) return node.some(limitedSubquery);
  if (node === null || typeof node !== 'object') return false;
  if ('SelectStmt' in node && (node as { SelectStmt: { limitCount?: unknown } }).SelectStmt.limitCount !== undefined) return true;
  return Object.values(node).some(limitedSubquery);
}

/**
 * Whether a WHERE can keep the statement to part of the table: a column compared with a value
 * (=, <, BETWEEN, IN (list), = ANY, LIKE), or a subquery with a LIMIT. `x IS NULL`, a comparison
 * of two columns (a join in UPDATE ... FROM) or NOT IN can match every row, as a backfill's does.
 */
function bounds(node: Node | undefined): boolean {
  if (!node) return false;
  if ('BoolExpr' in node) {
    const args = node.BoolExpr.args ?? [];
    if (node.BoolExpr.boolop === 'AND_EXPR') return args.some(bounds);
    if (node.BoolExpr.boolop === 'OR_EXPR') return args.length > 0 && args.every(bounds);
    return false;
  }
  if ('SubLink' in node) return limitedSubquery(node.SubLink.subselect);
  if ('A_Expr' in node) {
    const expr = node.A_Expr;
    const operator = stringList(expr.name)[0] ?? '';
    const comparesValue = readsRow(expr.lexpr) !== readsRow(expr.rexpr);
    if (expr.kind === 'AEXPR_OP') return RANGE_OPERATORS.has(operator) && (comparesValue || limitedSubquery(expr.rexpr) || limitedSubquery(expr.lexpr));
    if (expr.kind === 'AEXPR_IN') return operator === '=' && comparesValue;
    return RANGE_KINDS.has(expr.kind ?? '') && (comparesValue || limitedSubquery(expr.rexpr));
  }
  return false;
}

/** A CTE with a LIMIT that the WHERE can draw its rows from: WITH batch AS (SELECT id ... LIMIT n) UPDATE ... WHERE id IN (SELECT id FROM batch). */
function batchedByCte(withClause: WithClause | undefined): boolean {
  return (withClause?.ctes ?? []).some((cte) => 'CommonTableExpr' in cte && limitedSubquery(cte.CommonTableExpr.ctequery));
}

export default defineRule({
  id: 'unbatched-backfill',
  category: 'lock',
  severity: 'error',
  message:
    'A backfill of every row in one statement, in a migration that also changes the table or holds DDL locks: one long transaction that locks every row it touches (concurrent writes to them wait), keeps any DDL lock of its transaction until COMMIT, and writes a burst of WAL that puts the replicas behind.',
  safeAlternative: [
    '1. Move the backfill out of the schema migration: a later migration or a job, run after the DDL has committed.',
    '2. Backfill in batches, each its own transaction: UPDATE users SET email_lower = lower(email) WHERE id IN (SELECT id FROM users WHERE email_lower IS NULL ORDER BY id LIMIT 5000);  repeated until it updates 0 rows.',
    '3. Pause between batches so the replicas keep up (ship waits for replica lag before it rolls).',
  ].join('\n'),
  nodeTypes: ['UpdateStmt', 'DeleteStmt'],
  check(statement, context) {
    const node = statement.node;
    const table = tableOf(node.relation);
    // A table this file created is empty or only its own: nobody else waits on it.
    if (!table || context.isNewTable(table)) return [];
    const locked = context.tableLockedInTransaction;
    const altered = context.wasAlteredInFile(table);
    if (!locked && !altered) return [];
    if (bounds(node.whereClause) || (node.whereClause !== undefined && batchedByCte(node.withClause))) return [];
    const verb = statement.type === 'UpdateStmt' ? 'UPDATE' : 'DELETE';
    const scope = node.whereClause ? 'with no WHERE that keeps it to part of the table' : 'with no WHERE';
    const why = locked
      ? `runs in the same transaction as DDL on ${formatTable(locked)}, whose lock is held until COMMIT: everything waiting on ${formatTable(locked)} waits for the whole backfill`
      : `follows DDL on ${formatTable(table)} in the same migration: one long statement locks every row it changes and writes a burst of WAL that puts the replicas behind`;
    return [{ message: `${verb} of ${formatTable(table)} ${scope} ${why}. Backfill in batches, outside the schema migration.` }];
  },
});
