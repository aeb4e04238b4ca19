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
    if (!table || context.isNewTable(table)) return [];
    return commands
      .filter((command) => command.subtype === 'AT_ValidateConstraint' && command.name && context.wasAddedNotValidInOpenTransaction(table, command.name))
      .map((command) => ({
        message: `Constraint "${command.name}" on ${formatTable(table)} is validated in the same transaction that added it NOT VALID, so the lock of the ADD is held during the scan.`,
      }));
  },
});
