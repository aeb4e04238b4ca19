import { defineRule } from '../src/lint/define-rule.js';
import { declaredColumns, formatTable, offsetOf, typeInfo } from '../src/lint/ast.js';

export default defineRule({
  id: 'prefer-jsonb',
  category: 'hygiene',
  severity: 'warning',
  message:
    'json keeps the text as written and has no equality operator: SELECT DISTINCT, UNION, GROUP BY and unique indexes over the column fail, every read parses it again, and it cannot be indexed with GIN.',
  safeAlternative: [
    "1. Declare it jsonb: payload jsonb NOT NULL DEFAULT '{}'",
    '2. Keep json (or text) only where the exact text must survive: key order, duplicate keys, whitespace.',
  ].join('\n'),
  nodeTypes: ['CreateStmt', 'AlterTableStmt'],
  alterTableCommands: ['AT_AddColumn'],
  check(statement, context) {
    const { table, columns, temporary } = declaredColumns(statement);
    // On an existing table a json column breaks running queries: add-json-column reports that, as an error.
    if (temporary || (statement.type === 'AlterTableStmt' && !context.isNewTable(table))) return [];
    return columns
      .filter((column) => typeInfo(column.typeName)?.name === 'json')
      .map((column) => ({
        message: `Column "${column.colname}" of ${formatTable(table)} is json: DISTINCT, UNION and GROUP BY over it fail (no equality operator) and every read parses it again. Use jsonb.`,
        offset: offsetOf(column.typeName, statement.offset),
      }));
  },
});
