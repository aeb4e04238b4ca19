import { defineRule } from '../src/lint/define-rule.js';
import { columnConstraints, columnDefOf, formatTable, isSerialType, offsetOf, tableCommands } from '../src/lint/ast.js';

export default defineRule({
  id: 'not-null-column-without-default',
  category: 'compat',
  // After the rollout the new code is the code still running, and it does not write the column either.
  judgesContract: true,
  severity: 'error',
  message: 'Adding a NOT NULL column without a default fails on a table with rows, and the code still running inserts without it.',
  safeAlternative: [
    '1. Add the column with a constant DEFAULT (catalog-only on PostgreSQL 11+), or nullable.',
    '2. Deploy code that writes the column; backfill existing rows in batches.',
    '3. If it must be NOT NULL without a default: add CHECK (col IS NOT NULL) NOT VALID, VALIDATE it, then SET NOT NULL (PostgreSQL 12+ skips the scan) and drop the check.',
  ].join('\n'),
  nodeTypes: ['AlterTableStmt'],
  alterTableCommands: ['CONSTR_NOTNULL', 'CONSTR_PRIMARY'],
  check(statement, context) {
    const { table, commands } = tableCommands(statement.node);
    if (context.isEmptyNewTable(table)) return [];
    // A new table filled as it was made (CREATE TABLE AS) is not in use, but its rows still make the ADD fail.
    const isNew = context.isNewTable(table);
    const hits = [];
    for (const command of commands) {
      const column = command.subtype === 'AT_AddColumn' ? columnDefOf(command) : undefined;
      if (!column) continue;
      const constraints = columnConstraints(column);
      const notNull = constraints.find((constraint) => constraint.contype === 'CONSTR_NOTNULL' || constraint.contype === 'CONSTR_PRIMARY');
      if (!notNull) continue;
      const generatesValues = constraints.some((constraint) => ['CONSTR_DEFAULT', 'CONSTR_IDENTITY', 'CONSTR_GENERATED'].includes(constraint.contype ?? ''));
      if (generatesValues || isSerialType(column.typeName)) continue;
      hits.push({
        message: isNew
          ? `Adding NOT NULL column "${column.colname}" without a default to ${formatTable(table)}, a new table that already holds rows, fails: its rows would be NULL.`
          : `Adding NOT NULL column "${column.colname}" to ${formatTable(table)} without a default fails if the table has rows, and breaks inserts of the code still running.`,
        offset: offsetOf(notNull, statement.offset),
      });
    }
    return hits;
  },
});
