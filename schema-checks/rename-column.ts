import { defineRule } from '../src/lint/define-rule.js';
import { formatTable, tableOf } from '../src/lint/ast.js';

export default defineRule({
  id: 'rename-column',
  category: 'compat',
  severity: 'error',
  message: 'Renaming a column breaks the code still running, which uses the old name.',
  safeAlternative: [
    '1. Expand: add the new column; deploy code that writes both columns (or a trigger that copies one to the other).',
    '2. Backfill the new column in batches.',
    '3. Deploy code that reads the new column and no longer uses the old one.',
    '4. Contract: drop the old column in a later migration.',
  ].join('\n'),
  nodeTypes: ['RenameStmt'],
  check(statement, context) {
    const rename = statement.node;
    if (rename.renameType !== 'OBJECT_COLUMN' || rename.relationType !== 'OBJECT_TABLE') return [];
    const table = tableOf(rename.relation);
    if (context.isNewTable(table)) return [];
    return [{ message: `Renaming column "${rename.subname}" of ${formatTable(table)} to "${rename.newname}" breaks the code still running, which uses the old name.` }];
  },
});
