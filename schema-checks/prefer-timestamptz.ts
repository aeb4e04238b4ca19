import { defineRule } from '../src/lint/define-rule.js';
import { declaredColumns, formatTable, offsetOf, typeInfo } from '../src/lint/ast.js';

export default defineRule({
  id: 'prefer-timestamptz',
  category: 'hygiene',
  severity: 'warning',
  message:
    "timestamp (without time zone) stores a wall-clock reading, not an instant: what it means depends on the TimeZone of whoever wrote it, and comparing it with now() converts with the reader's session zone, so times shift by hours between servers and around DST.",
  safeAlternative: [
    '1. Declare it timestamptz (same 8 bytes; it stores an instant and shows it in the session zone): created_at timestamptz NOT NULL DEFAULT now()',
    '2. Keep timestamp only for readings that are local by nature (an opening hour, a birthday at a given time).',
  ].join('\n'),
  nodeTypes: ['CreateStmt', 'AlterTableStmt'],
  alterTableCommands: ['AT_AddColumn'],
  check(statement) {
    const { table, columns, temporary } = declaredColumns(statement);
    if (temporary) return [];
    return columns
      .filter((column) => typeInfo(column.typeName)?.name === 'timestamp')
      .map((column) => ({
        message: `Column "${column.colname}" of ${formatTable(table)} is timestamp without time zone: its values mean different instants to writers in different zones. Use timestamptz.`,
        offset: offsetOf(column.typeName, statement.offset),
      }));
  },
});
