import { defineRule } from '../src/lint/define-rule.js';

export default defineRule({
  id: 'rename-schema',
  category: 'compat',
  severity: 'error',
  message: 'Renaming a schema breaks every query of the code still running that names it or finds it through search_path.',
  safeAlternative: [
    '1. Expand: create the new schema and move objects with views (or set search_path to both) so both names resolve.',
    '2. Deploy code that uses the new schema name.',
    '3. Contract: drop the old names in a later migration.',
  ].join('\n'),
  nodeTypes: ['RenameStmt'],
  check(statement) {
    const rename = statement.node;
    if (rename.renameType !== 'OBJECT_SCHEMA') return [];
    return [{ message: `Renaming schema "${rename.subname}" to "${rename.newname}" breaks the code still running, which uses the old name.` }];
  },
});
