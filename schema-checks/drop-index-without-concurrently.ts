import { defineRule } from '../src/lint/define-rule.js';
import { objectNames } from '../src/lint/ast.js';

export default defineRule({
  id: 'drop-index-without-concurrently',
  category: 'lock',
  severity: 'error',
  message: 'DROP INDEX without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the table, queued behind every running query.',
  safeAlternative: [
    '1. Make sure no query of the running code needs the index (its plans would change).',
    '2. DROP INDEX CONCURRENTLY ... in its own migration, outside a transaction (one index per statement).',
  ].join('\n'),
  nodeTypes: ['DropStmt'],
  check(statement, context) {
    const drop = statement.node;
    if (drop.removeType !== 'OBJECT_INDEX' || drop.concurrent) return [];
    const existing = objectNames(drop.objects).filter((index) => !context.isNewIndex(index.name));
    if (existing.length === 0) return [];
    const message = `DROP INDEX ${existing.map((index) => `"${index.name}"`).join(', ')} without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the table.`;
    if (drop.behavior !== 'DROP_CASCADE') return [{ message }];
    return [
      {
        message,
        safeAlternative: [
          '1. Make sure no query of the running code needs the index or the objects that depend on it.',
          '2. Drop the dependent objects first, each in its own statement: DROP INDEX CONCURRENTLY refuses CASCADE.',
          '3. DROP INDEX CONCURRENTLY ... in its own migration, outside a transaction (one index per statement).',
        ].join('\n'),
      },
    ];
  },
});
