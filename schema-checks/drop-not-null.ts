import { defineRule } from '../src/lint/define-rule.js';
import { formatTable, tableCommands } from '../src/lint/ast.js';

export default defineRule({
  id: 'drop-not-null',
  category: 'compat',
  severity: 'warning',
  message: 'Dropping NOT NULL lets new code write NULLs that the code still running may not handle.',
  safeAlternative: [
    '1. Deploy code that handles NULL in the column wherever it reads it.',
    '2. Wait until no instance runs the old code.',
    '3. Drop NOT NULL in a later migration, then deploy code that writes NULL.',
  ].join('\n'),
  nodeTypes: ['AlterTableStmt'],
  alterTableCommands: ['AT_DropNotNull'],
  check(statement, context) {
    const { table, commands } = tableCommands(statement.node);
    if (!table || context.isNewTable(table)) return [];
    // A column created nullable, or whose NOT NULL was dropped already, changes nothing for the code running.
    return commands
      .filter((command) => command.subtype === 'AT_DropNotNull' && command.name && context.columnNotNull(table, command.name) !== false)
      .map((command) => ({ message: `Dropping NOT NULL on column "${command.name}" of ${formatTable(table)}: the code still running may not expect NULLs there.` }));
  },
});
