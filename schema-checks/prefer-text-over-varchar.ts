import { defineRule } from '../src/lint/define-rule.js';
import { declaredColumns, formatTable, formatType, offsetOf, typeInfo } from '../src/lint/ast.js';

export default defineRule({
  id: 'prefer-text-over-varchar',
  category: 'hygiene',
  severity: 'warning',
  message:
    'varchar(n) is stored and compared exactly like text in PostgreSQL; its only effect is the limit, and changing the limit is a migration: narrowing it rewrites the table under an ACCESS EXCLUSIVE lock.',
  safeAlternative: [
    '1. Declare the column text.',
    '2. If the length matters, say so with a named CHECK, which can later be replaced without a long lock (ADD ... NOT VALID, then VALIDATE CONSTRAINT):',
    '   email text CONSTRAINT users_email_length CHECK (char_length(email) <= 320)',
  ].join('\n'),
  nodeTypes: ['CreateStmt', 'AlterTableStmt'],
  alterTableCommands: ['AT_AddColumn'],
  check(statement) {
    const { table, columns, temporary } = declaredColumns(statement);
    if (temporary) return [];
    return columns.flatMap((column) => {
      const type = typeInfo(column.typeName);
      // varchar without a length is text by another name.
      if (type?.name !== 'varchar' || type.modifiers.length === 0) return [];
      return [
        {
          message: `Column "${column.colname}" of ${formatTable(table)} is ${formatType(type)}: use text, with a CHECK (char_length(${column.colname}) <= ${type.modifiers[0]}) if the limit matters.`,
          offset: offsetOf(column.typeName, statement.offset),
        },
      ];
    });
  },
});
