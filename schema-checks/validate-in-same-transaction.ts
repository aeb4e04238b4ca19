import { defineRule } from '../src/lint/define-rule.js';
import { formatTable, tableCommands } from '../src/lint/ast.js';

export default defineRule({
  id: 'validate-in-same-transaction',
  category: 'lock',
  severity: 'error',
  message: "VALIDATE CONSTRAINT in the transaction that added the constraint NOT VALID keeps the ADD's lock during the whole scan.",
  safeAlternative: [
    '1. Add the constraint NOT VALID and COMMIT (or end the migration file).',
    '2. VALIDATE CONSTRAINT in a separate transaction or a later migration: it then takes only a SHARE UPDATE EXCLUSIVE lock.',
  ].join('\n'),
  nodeTypes: ['AlterTableStmt'],
  alterTableCommands: ['AT_ValidateConstraint'],
  check(statement, context) {
    const { table, commands } = tableCommands(statement.node);
    if (!table || context.isEmptyNewTable(table)) return [];
    // A new table that holds rows is used by no one, but the live table its foreign key references
    // stays locked SHARE ROW EXCLUSIVE while those rows are checked.
    const isNew = context.isNewTable(table);
    const hits = [];
    for (const command of commands) {
      if (command.subtype !== 'AT_ValidateConstraint' || !command.name || !context.wasAddedNotValidInOpenTransaction(table, command.name)) continue;
      const referenced = context.foreignKeyTarget(table, command.name);
      if (!isNew) {
        hits.push({
          message: `Constraint "${command.name}" on ${formatTable(table)} is validated in the same transaction that added it NOT VALID, so the lock of the ADD is held during the scan.`,
        });
      } else if (referenced && !context.isNewTable(referenced)) {
        hits.push({
          message: `Foreign key "${command.name}" of ${formatTable(table)}, a new table that already holds rows, is validated in the transaction that added it, so its SHARE ROW EXCLUSIVE lock on ${formatTable(referenced)} blocks writes there during the scan.`,
        });
      }
    }
    return hits;
  },
});
