import { defineRule } from '../src/lint/define-rule.js';
import { addedConstraints, formatTable, offsetOf, tableCommands } from '../src/lint/ast.js';

export default defineRule({
  id: 'unique-constraint-without-index',
  category: 'lock',
  severity: 'error',
  message: 'Adding a UNIQUE constraint builds its index under an ACCESS EXCLUSIVE lock.',
  safeAlternative: [
    '1. CREATE UNIQUE INDEX CONCURRENTLY idx ON ... (...);  in its own migration, outside a transaction',
    '2. ALTER TABLE ... ADD CONSTRAINT name UNIQUE USING INDEX idx;  (brief lock, no build)',
  ].join('\n'),
  nodeTypes: ['AlterTableStmt'],
  alterTableCommands: ['CONSTR_UNIQUE'],
  check(statement, context) {
    const { table, commands } = tableCommands(statement.node);
    if (context.isNewTable(table)) return [];
    const hits = [];
    for (const command of commands) {
      for (const constraint of addedConstraints(command)) {
        if (constraint?.contype !== 'CONSTR_UNIQUE' || constraint.indexname) continue;
        hits.push({
          message: `UNIQUE constraint${constraint.conname ? ` "${constraint.conname}"` : ''} on ${formatTable(table)} builds its index under an ACCESS EXCLUSIVE lock; build the index CONCURRENTLY and add the constraint USING INDEX.`,
          offset: offsetOf(constraint, statement.offset),
        });
      }
    }
    return hits;
  },
});
