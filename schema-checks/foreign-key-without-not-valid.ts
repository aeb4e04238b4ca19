import { defineRule } from '../src/lint/define-rule.js';
import { addedConstraints, formatTable, offsetOf, tableCommands, tableOf } from '../src/lint/ast.js';

export default defineRule({
  id: 'foreign-key-without-not-valid',
  category: 'lock',
  severity: 'error',
  message: 'Adding a FOREIGN KEY validates every row while holding locks that block writes on both tables.',
  safeAlternative: [
    '1. ALTER TABLE ... ADD CONSTRAINT fk ... FOREIGN KEY (...) REFERENCES ... NOT VALID;  (brief lock; new rows are checked)',
    '2. ALTER TABLE ... VALIDATE CONSTRAINT fk;  in a separate transaction (reads and writes go on)',
    'For a new column: add the column first, then the constraint as above.',
  ].join('\n'),
  nodeTypes: ['AlterTableStmt'],
  alterTableCommands: ['CONSTR_FOREIGN'],
  check(statement, context) {
    const { table, commands } = tableCommands(statement.node);
    if (context.isNewTable(table)) return [];
    const hits = [];
    for (const command of commands) {
      for (const constraint of addedConstraints(command)) {
        if (constraint?.contype !== 'CONSTR_FOREIGN' || constraint.skip_validation) continue;
        hits.push({
          message: `FOREIGN KEY${constraint.conname ? ` "${constraint.conname}"` : ''} from ${formatTable(table)} to ${formatTable(tableOf(constraint.pktable))} is validated at once, blocking writes to both tables; add it NOT VALID and validate separately.`,
          offset: offsetOf(constraint, statement.offset),
        });
      }
    }
    return hits;
  },
});
