import { defineRule } from '../src/lint/define-rule.js';
import { formatTable, objectNames } from '../src/lint/ast.js';

export default defineRule({
  id: 'drop-table',
  category: 'compat',
  severity: 'error',
  message: 'Dropping a table breaks the code still running, which queries it.',
  safeAlternative: [
    '1. Deploy code that no longer uses the table.',
    '2. Wait until no instance runs the old code (and keep a backup if the data may be needed).',
    '3. Drop the table in a later migration, with SET lock_timeout first.',
  ].join('\n'),
  nodeTypes: ['DropStmt'],
  check(statement, context) {
    if (statement.node.removeType !== 'OBJECT_TABLE') return [];
    return objectNames(statement.node.objects)
      .filter((table) => !context.isNewTable(table))
      .map((table) => ({ message: `Dropping table ${formatTable(table)} breaks the code still running, which queries it.` }));
  },
});
