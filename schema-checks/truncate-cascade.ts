import { defineRule } from '../src/lint/define-rule.js';
import { formatTable, tableOf } from '../src/lint/ast.js';

export default defineRule({
  id: 'truncate-cascade',
  category: 'compat',
  severity: 'error',
  message: 'TRUNCATE ... CASCADE also empties every table that references these, through foreign keys the migration does not name.',
  safeAlternative: [
    '1. Name every table to empty explicitly in the TRUNCATE (without CASCADE), so the data lost is visible in review.',
    '2. Better, delete the rows in batches (DELETE ... WHERE id IN (... LIMIT n)) so no ACCESS EXCLUSIVE lock is taken.',
  ].join('\n'),
  nodeTypes: ['TruncateStmt'],
  check(statement) {
    if (statement.node.behavior !== 'DROP_CASCADE') return [];
    const tables = (statement.node.relations ?? []).flatMap((relation) => ('RangeVar' in relation ? [formatTable(tableOf(relation.RangeVar))] : []));
    return [{ message: `TRUNCATE ${tables.join(', ')} CASCADE also empties every table that references them.` }];
  },
});
