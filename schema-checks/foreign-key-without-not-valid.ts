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
    // A new empty table has no rows to check. A new table filled as it was made (CREATE TABLE AS)
    // does: its rows are checked while the referenced table, which may be live, is locked.
    if (context.isEmptyNewTable(table)) return [];
    const isNew = context.isNewTable(table);
    const hits = [];
    for (const command of commands) {
      for (const constraint of addedConstraints(command)) {
        if (constraint?.contype !== 'CONSTR_FOREIGN' || constraint.skip_validation) continue;
        const referenced = tableOf(constraint.pktable);
        if (isNew && context.isNewTable(referenced)) continue;
        const name = `FOREIGN KEY${constraint.conname ? ` "${constraint.conname}"` : ''}`;
        hits.push({
          message: isNew
            ? `${name} from ${formatTable(table)}, a new table that already holds rows, checks every row while holding a SHARE ROW EXCLUSIVE lock on ${formatTable(referenced)}, blocking writes to it; add it NOT VALID and validate separately.`
            : `${name} from ${formatTable(table)} to ${formatTable(referenced)} is validated at once, blocking writes to both tables; add it NOT VALID and validate separately.`,
          offset: offsetOf(constraint, statement.offset),
        });
      }
    }
    return hits;
  },
});
