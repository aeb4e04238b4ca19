import { defineRule } from '../src/lint/define-rule.js';
import { constraintOf, formatTable, offsetOf, tableCommands } from '../src/lint/ast.js';

export default defineRule({
  id: 'check-without-not-valid',
  category: 'lock',
  severity: 'error',
  message: 'Adding a CHECK constraint scans every row under an ACCESS EXCLUSIVE lock.',
  safeAlternative: [
    '1. Deploy code that writes only values that satisfy the check; fix existing rows in batches.',
    '2. ALTER TABLE ... ADD CONSTRAINT c CHECK (...) NOT VALID;  (brief lock; new rows are checked)',
    '3. ALTER TABLE ... VALIDATE CONSTRAINT c;  in a separate transaction (reads and writes go on)',
  ].join('\n'),
  nodeTypes: ['AlterTableStmt'],
  alterTableCommands: ['CONSTR_CHECK'],
  check(statement, context) {
    const { table, commands } = tableCommands(statement.node);
    if (context.isNewTable(table)) return [];
    const hits = [];
    for (const command of commands) {
      const constraint = command.subtype === 'AT_AddConstraint' ? constraintOf(command) : undefined;
      if (constraint?.contype !== 'CONSTR_CHECK' || constraint.skip_validation) continue;
      hits.push({
        message: `CHECK constraint${constraint.conname ? ` "${constraint.conname}"` : ''} on ${formatTable(table)} is validated at once, scanning the table under an ACCESS EXCLUSIVE lock; add it NOT VALID and validate separately.`,
        offset: offsetOf(constraint, statement.offset),
      });
    }
    return hits;
  },
});
