import { defineRule } from '../src/lint/define-rule.js';
import { formatTable, tableOf } from '../src/lint/ast.js';

export default defineRule({
  id: 'rename-table',
  category: 'compat',
  severity: 'error',
  message: 'Renaming a table breaks the code still running, which uses the old name.',
  safeAlternative: [
    '1. Expand: rename the table and create a view with the old name over it (a simple view is updatable), in one migration.',
    '2. Deploy code that uses the new name.',
    '3. Contract: drop the view in a later migration.',
  ].join('\n'),
  nodeTypes: ['RenameStmt'],
  check(statement, context) {
    const rename = statement.node;
    if (rename.renameType !== 'OBJECT_TABLE') return [];
    const table = tableOf(rename.relation);
    if (context.isNewTable(table)) return [];
    return [{ message: `Renaming table ${formatTable(table)} to "${rename.newname}" breaks the code still running, which uses the old name.` }];
  },
});
