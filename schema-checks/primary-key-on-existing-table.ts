import { defineRule } from '../src/lint/define-rule.js';
import { addedConstraints, formatTable, offsetOf, tableCommands } from '../src/lint/ast.js';

export default defineRule({
  id: 'primary-key-on-existing-table',
  category: 'lock',
  severity: 'error',
  message: 'Adding a PRIMARY KEY builds its index (and checks NOT NULL) under an ACCESS EXCLUSIVE lock.',
  safeAlternative: [
    '1. Make the columns NOT NULL without a scan (validated CHECK, see set-not-null).',
    '2. CREATE UNIQUE INDEX CONCURRENTLY idx ON ... (...);  in its own migration, outside a transaction',
    '3. ALTER TABLE ... ADD CONSTRAINT pk PRIMARY KEY USING INDEX idx;',
  ].join('\n'),
  nodeTypes: ['AlterTableStmt'],
  alterTableCommands: ['CONSTR_PRIMARY'],
  check(statement, context) {
    const { table, commands } = tableCommands(statement.node);
    if (context.isNewTable(table)) return [];
    const hits = [];
    for (const command of commands) {
      for (const constraint of addedConstraints(command)) {
        if (constraint?.contype !== 'CONSTR_PRIMARY' || constraint.indexname) continue;
        hits.push({
          message: `PRIMARY KEY on existing table ${formatTable(table)} builds its index under an ACCESS EXCLUSIVE lock; build a unique index CONCURRENTLY and add the key USING INDEX.`,
          offset: offsetOf(constraint, statement.offset),
        });
      }
    }
    return hits;
  },
});
