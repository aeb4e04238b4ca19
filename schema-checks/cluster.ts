import { defineRule } from '../src/lint/define-rule.js';
import { formatTable, tableOf } from '../src/lint/ast.js';

export default defineRule({
  id: 'cluster',
  category: 'lock',
  severity: 'error',
  message: 'CLUSTER rewrites the table in index order under an ACCESS EXCLUSIVE lock, blocking reads and writes until done.',
  safeAlternative: [
    '1. Leave physical order alone in migrations; PostgreSQL does not keep it anyway.',
    '2. If the order matters for performance, use pg_repack --order-by outside the migration, online (it needs a primary key or a unique index on NOT NULL columns).',
  ].join('\n'),
  nodeTypes: ['ClusterStmt'],
  check(statement, context) {
    const table = tableOf(statement.node.relation);
    if (context.isNewTable(table)) return [];
    return [{ message: `CLUSTER ${table ? formatTable(table) : '(every clustered table)'} rewrites under an ACCESS EXCLUSIVE lock.` }];
  },
});
