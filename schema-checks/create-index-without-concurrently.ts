import { defineRule } from '../src/lint/define-rule.js';
import { formatTable, tableOf } from '../src/lint/ast.js';

export default defineRule({
  id: 'create-index-without-concurrently',
  category: 'lock',
  severity: 'error',
  message: 'CREATE INDEX without CONCURRENTLY blocks every write to the table until the index is built.',
  safeAlternative: [
    '1. CREATE INDEX CONCURRENTLY ... in its own migration, outside a transaction (the runner must not wrap it).',
    '2. If it fails, it leaves an INVALID index: DROP INDEX CONCURRENTLY it and retry.',
    '3. For a partitioned table: create the index CONCURRENTLY on each partition, then CREATE INDEX ON ONLY the parent and ALTER INDEX ... ATTACH PARTITION.',
  ].join('\n'),
  nodeTypes: ['IndexStmt'],
  check(statement, context) {
    const index = statement.node;
    const table = tableOf(index.relation);
    if (index.concurrent || context.isNewTable(table)) return [];
    return [{ message: `CREATE INDEX${index.idxname ? ` "${index.idxname}"` : ''} on ${formatTable(table)} without CONCURRENTLY blocks writes to the table while it builds.` }];
  },
});
