import { defineRule } from '../src/lint/define-rule.js';
import { formatTable, isSystemCatalog, optionIsOn, tableOf } from '../src/lint/ast.js';
import type { ReindexStmt } from 'libpg-query';

/** Whether the REINDEX rebuilds system catalog indexes, which PostgreSQL refuses to do CONCURRENTLY. */
function reindexesCatalogs(reindex: ReindexStmt): boolean {
  const relation = tableOf(reindex.relation);
  if (relation) return isSystemCatalog(relation);
  if (reindex.kind === 'REINDEX_OBJECT_SYSTEM') return true;
  return reindex.kind === 'REINDEX_OBJECT_SCHEMA' && (reindex.name === 'pg_catalog' || reindex.name === 'pg_toast');
}

const TARGETS: Record<string, string> = {
  REINDEX_OBJECT_SYSTEM: 'SYSTEM',
  REINDEX_OBJECT_DATABASE: 'DATABASE',
  REINDEX_OBJECT_SCHEMA: 'SCHEMA',
};

export default defineRule({
  id: 'reindex-without-concurrently',
  category: 'lock',
  severity: 'error',
  message: 'REINDEX without CONCURRENTLY locks the index against every query that uses it, and the table against writes.',
  safeAlternative: [
    '1. PostgreSQL 12+: REINDEX ... CONCURRENTLY, in its own migration outside a transaction (REINDEX DATABASE CONCURRENTLY skips the system catalogs).',
    '2. Before 12: CREATE INDEX CONCURRENTLY a copy, DROP INDEX CONCURRENTLY the old one, ALTER INDEX ... RENAME the copy.',
  ].join('\n'),
  nodeTypes: ['ReindexStmt'],
  check(statement, context) {
    const reindex = statement.node;
    if (optionIsOn(reindex.params, 'concurrently')) return [];
    const relation = tableOf(reindex.relation);
    if (relation && (reindex.kind === 'REINDEX_OBJECT_INDEX' ? context.isNewIndex(relation.name) : context.isNewTable(relation))) return [];
    const target = relation ? ` of ${formatTable(relation)}` : ` ${TARGETS[reindex.kind ?? ''] ?? ''}${reindex.name ? ` "${reindex.name}"` : ''}`;
    if (reindexesCatalogs(reindex)) {
      return [
        {
          message: `REINDEX${target} rebuilds system catalog indexes, which every query reads, under locks; PostgreSQL cannot do it CONCURRENTLY.`,
          safeAlternative: [
            '1. Leave system catalogs out of migrations: PostgreSQL refuses REINDEX CONCURRENTLY on them.',
            '2. If a catalog index is really corrupt or bloated, reindex it by hand in a maintenance window, outside a transaction block, with lock_timeout set.',
          ].join('\n'),
        },
      ];
    }
    return [{ message: `REINDEX${target} without CONCURRENTLY blocks the queries that use the index and writes to the table.` }];
  },
});
