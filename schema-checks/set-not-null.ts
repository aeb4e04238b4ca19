import { defineRule } from '../src/lint/define-rule.js';
import { formatTable, tableCommands } from '../src/lint/ast.js';

export default defineRule({
  id: 'set-not-null',
  category: 'lock',
  severity: 'error',
  message: 'SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock, blocking reads and writes.',
  safeAlternative: [
    '1. Deploy code that never writes NULL to the column; backfill existing NULLs in batches.',
    '2. ALTER TABLE ... ADD CONSTRAINT col_not_null CHECK (col IS NOT NULL) NOT VALID;',
    '3. ALTER TABLE ... VALIDATE CONSTRAINT col_not_null;  (separate transaction; reads and writes go on)',
    '4. ALTER TABLE ... ALTER COLUMN col SET NOT NULL;  (PostgreSQL 12+ uses the validated check and skips the scan)',
    '5. ALTER TABLE ... DROP CONSTRAINT col_not_null;',
  ].join('\n'),
  nodeTypes: ['AlterTableStmt'],
  alterTableCommands: ['AT_SetNotNull'],
  check(statement, context) {
    const { table, commands } = tableCommands(statement.node);
    if (!table || context.isNewTable(table)) return [];
    const hits = [];
    for (const command of commands) {
      if (command.subtype !== 'AT_SetNotNull' || !command.name) continue;
      if (context.settings.pgVersion >= 12 && context.hasValidatedNotNullCheck(table, command.name)) continue;
      const hint =
        context.settings.pgVersion < 12
          ? ' (before PostgreSQL 12 even a validated CHECK does not avoid the scan)'
          : `; no validated CHECK (${command.name} IS NOT NULL) precedes it`;
      hits.push({ message: `SET NOT NULL on column "${command.name}" of ${formatTable(table)} scans the table under an ACCESS EXCLUSIVE lock${hint}.` });
    }
    return hits;
  },
});
