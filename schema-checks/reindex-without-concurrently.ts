import { defineRule } from '../src/lint/define-rule.js';
import { optionIsOn } from '../src/lint/ast.js';

export default defineRule({
  id: 'reindex-without-concurrently',
  category: 'lock',
  severity: 'error',
  message: 'REINDEX without CONCURRENTLY locks the index against every query that uses it, and the table against writes.',
  safeAlternative: [
    '1. PostgreSQL 12+: REINDEX ... CONCURRENTLY, in its own migration outside a transaction.',
    '2. Before 12: CREATE INDEX CONCURRENTLY a copy, DROP INDEX CONCURRENTLY the old one, ALTER INDEX ... RENAME the copy.',
  ].join('\n'),
  nodeTypes: ['ReindexStmt'],
  check(statement, context) {
    if (optionIsOn(statement.node.params, 'concurrently')) return [];
    const target = statement.node.relation?.relname ?? statement.node.name;
    if (target && context.isNewTable({ name: target })) return [];
    return [{ message: `REINDEX${target ? ` of "${target}"` : ''} without CONCURRENTLY blocks the queries that use the index and writes to the table.` }];
  },
});
