import { defineRule } from '../src/lint/define-rule.js';
import { formatTable, tableCommands } from '../src/lint/ast.js';

export default defineRule({
  id: 'drop-column',
  category: 'compat',
  severity: 'error',
  message: 'Dropping a column breaks the code still running, which selects or inserts it by name.',
  safeAlternative: [
    '1. Deploy code that no longer reads or writes the column (and, with an ORM, ignores it: e.g. Rails ignored_columns).',
    '2. Wait until no instance runs the old code.',
    '3. Drop the column in a later migration, with SET lock_timeout first.',
  ].join('\n'),
  nodeTypes: ['AlterTableStmt'],
  alterTableCommands: ['AT_DropColumn'],
  check(statement, context) {
    const { table, commands } = tableCommands(statement.node);
    if (context.isNewTable(table)) return [];
    return commands
      .filter((command) => command.subtype === 'AT_DropColumn')
      .map((command) => ({ message: `Dropping column "${command.name}" of ${formatTable(table)} breaks the code still running, which selects or inserts it.` }));
  },
});
