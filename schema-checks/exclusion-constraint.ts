import { defineRule } from '../src/lint/define-rule.js';
import { constraintOf, formatTable, offsetOf, tableCommands } from '../src/lint/ast.js';

export default defineRule({
  id: 'exclusion-constraint',
  category: 'lock',
  severity: 'error',
  message: 'Adding an EXCLUDE constraint builds its index under an ACCESS EXCLUSIVE lock, and it cannot be added USING INDEX or NOT VALID.',
  safeAlternative: [
    '1. If possible, enforce the rule another way: a unique index built CONCURRENTLY, or a trigger.',
    '2. Otherwise add it in a maintenance window, or when the table is still small, with SET lock_timeout first.',
    '3. On a new table (created in the same migration) it is fine.',
  ].join('\n'),
  nodeTypes: ['AlterTableStmt'],
  alterTableCommands: ['CONSTR_EXCLUSION'],
  check(statement, context) {
    const { table, commands } = tableCommands(statement.node);
    if (context.isNewTable(table)) return [];
    const hits = [];
    for (const command of commands) {
      const constraint = command.subtype === 'AT_AddConstraint' ? constraintOf(command) : undefined;
      if (constraint?.contype !== 'CONSTR_EXCLUSION') continue;
      hits.push({
        message: `EXCLUDE constraint${constraint.conname ? ` "${constraint.conname}"` : ''} on ${formatTable(table)} builds its index under an ACCESS EXCLUSIVE lock.`,
        offset: offsetOf(constraint, statement.offset),
      });
    }
    return hits;
  },
});
