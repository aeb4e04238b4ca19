import { defineRule } from '../src/lint/define-rule.js';
import { columnDefOf, formatTable, formatType, tableCommands, typeInfo } from '../src/lint/ast.js';
import type { Node } from 'libpg-query';
import type { ColumnTypeInfo, RuleContext } from '../src/lint/types.js';

/** Types whose typmod is a length or precision that PostgreSQL can widen without touching rows. */
const WIDENABLE = new Set(['varchar', 'varbit', 'timestamp', 'timestamptz', 'time', 'timetz', 'interval']);

/**
 * The changes PostgreSQL makes in the catalog only (binary-coercible, or a wider typmod):
 * no rewrite, no index rebuild, nothing the running code can notice.
 */
export function isSafeTypeChange(from: ColumnTypeInfo, to: ColumnTypeInfo): boolean {
  if (from.opaque || to.opaque || from.isArray || to.isArray) return false;
  const [fromFirst] = from.modifiers;
  const [toFirst] = to.modifiers;
  if (from.name === to.name && from.modifiers.join(',') === to.modifiers.join(',')) return true;
  if (from.name === 'varchar' && to.name === 'text') return true;
  if (from.name === 'text' && to.name === 'varchar' && to.modifiers.length === 0) return true;
  if (from.name === 'cidr' && to.name === 'inet') return true;
  if (from.name === to.name && WIDENABLE.has(from.name)) {
    return to.modifiers.length === 0 || (fromFirst !== undefined && toFirst !== undefined && toFirst >= fromFirst);
  }
  if (from.name === 'numeric' && to.name === 'numeric') {
    if (to.modifiers.length === 0) return true;
    const fromScale = from.modifiers[1] ?? 0;
    const toScale = to.modifiers[1] ?? 0;
    return fromFirst !== undefined && toFirst !== undefined && toFirst >= fromFirst && toScale === fromScale;
  }
  return false;
}

/**
 * timestamp to timestamptz or back, the precision kept, with no USING other than the column itself:
 * from PostgreSQL 12 on, a session whose TimeZone is UTC makes this a catalog-only change
 * (ATColumnChangeRequiresRewrite lets the conversion through when the zone's offset is 0).
 */
function isUtcTimestampChange(from: ColumnTypeInfo, to: ColumnTypeInfo, column: string, using: Node | undefined, context: RuleContext): boolean {
  if (!context.timeZoneIsUtc || context.settings.pgVersion < 12) return false;
  const names = new Set([from.name, to.name]);
  if (from.name === to.name || !names.has('timestamp') || !names.has('timestamptz') || from.isArray || to.isArray) return false;
  if (to.modifiers.join(',') !== from.modifiers.join(',')) return false;
  return using === undefined || isColumnItself(using, column);
}

/** `USING col`: the column's own value, converted as it would be without USING. */
function isColumnItself(using: Node, column: string): boolean {
  if (!('ColumnRef' in using)) return false;
  const fields = using.ColumnRef.fields ?? [];
  const last = fields.at(-1);
  return fields.length === 1 && last !== undefined && 'String' in last && last.String.sval === column;
}

export default defineRule({
  id: 'change-column-type',
  category: 'rewrite',
  severity: 'error',
  message: 'Changing a column type rewrites the table and its indexes under an ACCESS EXCLUSIVE lock, and the code still running may write values the new type rejects.',
  safeAlternative: [
    '1. Expand: add a new column with the new type; deploy code that writes both columns (or a trigger that copies).',
    '2. Backfill the new column in batches.',
    '3. Deploy code that reads the new column.',
    '4. Contract: drop the old column (and rename with a view, if the name matters) in a later migration.',
    "Catalog-only changes are not flagged: varchar(n) to text or a wider varchar, numeric(p,s) to a larger p with the same s, cidr to inet, and (PostgreSQL 12 on) timestamp to timestamptz or back after SET TIME ZONE 'UTC'.",
  ].join('\n'),
  nodeTypes: ['AlterTableStmt'],
  alterTableCommands: ['AT_AlterColumnType'],
  check(statement, context) {
    const { table, commands } = tableCommands(statement.node);
    if (!table || context.isNewTable(table)) return [];
    const hits = [];
    for (const command of commands) {
      if (command.subtype !== 'AT_AlterColumnType' || !command.name) continue;
      const column = columnDefOf(command);
      const to = typeInfo(column?.typeName);
      const from = context.columnType(table, command.name);
      const hasUsing = column?.raw_default !== undefined;
      const changesCollation = column?.collClause !== undefined;
      if (from && to && !hasUsing && !changesCollation && isSafeTypeChange(from, to)) continue;
      if (from && to && !changesCollation && isUtcTimestampChange(from, to, command.name, column?.raw_default, context)) continue;
      const change = to ? ` to ${formatType(to)}` : '';
      const known = from
        ? `from ${formatType(from)}${change}`
        : `${change.trim()} (its current type is not declared in the migrations linted, so the change cannot be proven catalog-only)`;
      hits.push({
        message: `Changing the type of column "${command.name}" of ${formatTable(table)} ${known} rewrites the table under an ACCESS EXCLUSIVE lock.`,
        ...(column?.typeName?.location !== undefined ? { offset: column.typeName.location } : {}),
      });
    }
    return hits;
  },
});
