import { defineRule } from '../src/lint/define-rule.js';
import type { Node } from 'libpg-query';
import { formatTable, tableOf } from '../src/lint/ast.js';

const MAX_KEY_COLUMNS = 3;

/** A key with DESC or NULLS FIRST/LAST: the index is shaped for one ORDER BY (keyset pagination), where every key serves the sort. */
function shapedForSort(keys: readonly Node[]): boolean {
  return keys.some(
    (key) => 'IndexElem' in key && (key.IndexElem.ordering === 'SORTBY_DESC' || (key.IndexElem.nulls_ordering ?? 'SORTBY_NULLS_DEFAULT') !== 'SORTBY_NULLS_DEFAULT'),
  );
}

export default defineRule({
  id: 'index-too-many-columns',
  category: 'rewrite',
  severity: 'warning',
  message:
    'A non-unique btree index on more than three columns rarely serves a query better than its first three: it is searched by its leading columns, while every INSERT and every UPDATE of a key column writes the whole wider entry, and the index grows with each column.',
  safeAlternative: [
    '1. Index the one to three columns that narrow the results most, most selective first.',
    '2. Columns a query only needs to read go in INCLUDE, outside the key: CREATE INDEX CONCURRENTLY orders_account_status ON orders (account_id, status) INCLUDE (created_at);',
    '3. A UNIQUE index needs all its columns, and one whose keys say DESC or NULLS FIRST/LAST serves an ORDER BY with all of them: neither is flagged.',
  ].join('\n'),
  nodeTypes: ['IndexStmt'],
  check(statement) {
    const index = statement.node;
    const keys = index.indexParams?.length ?? 0;
    // Unique indexes enforce a constraint over all their columns; GIN, GiST and BRIN search each column on its own.
    if (index.unique || keys <= MAX_KEY_COLUMNS || (index.accessMethod ?? 'btree') !== 'btree' || shapedForSort(index.indexParams ?? [])) return [];
    return [
      {
        message: `Index${index.idxname ? ` "${index.idxname}"` : ''} on ${formatTable(tableOf(index.relation))} has ${keys} key columns: past the first three they rarely help a query, and every write pays for them.`,
      },
    ];
  },
});
