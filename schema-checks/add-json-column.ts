import { defineRule } from '../src/lint/define-rule.js';
import { declaredColumns, formatTable, offsetOf, typeInfo } from '../src/lint/ast.js';

export default defineRule({
  id: 'add-json-column',
  category: 'compat',
  severity: 'error',
  message:
    'json has no equality operator: once the column exists, queries the running code already sends that compare whole rows (SELECT DISTINCT t.*, a UNION of SELECT *, GROUP BY over t.*) fail with "could not identify an equality operator for type json".',
  safeAlternative: [
    '1. Use jsonb: ALTER TABLE events ADD COLUMN payload jsonb;  (it has equality, btree and GIN operators)',
    '2. Only if the exact text must be kept (key order, duplicate keys, whitespace), store it as text and cast where it is read.',
  ].join('\n'),
  nodeTypes: ['AlterTableStmt'],
  alterTableCommands: ['AT_AddColumn'],
  check(statement, context) {
    const { table, columns } = declaredColumns(statement);
    // A table the file created has no running code querying it yet: prefer-jsonb (hygiene) speaks for it.
    if (context.isNewTable(table)) return [];
    return columns
      .filter((column) => typeInfo(column.typeName)?.name === 'json')
      .map((column) => ({
        message: `Adding json column "${column.colname}" to ${formatTable(table)} makes queries over whole rows of the table fail (SELECT DISTINCT, UNION, GROUP BY): json has no equality operator. Use jsonb.`,
        offset: offsetOf(column.typeName, statement.offset),
      }));
  },
});
