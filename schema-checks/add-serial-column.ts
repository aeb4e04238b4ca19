import { defineRule } from '../src/lint/define-rule.js';
import { columnConstraints, columnDefOf, formatTable, isSerialType, offsetOf, stringList, tableCommands } from '../src/lint/ast.js';

export default defineRule({
  id: 'add-serial-column',
  category: 'rewrite',
  severity: 'error',
  message: 'Adding a serial or identity column draws a sequence value for every existing row: the table is rewritten under an ACCESS EXCLUSIVE lock.',
  safeAlternative: [
    '1. Add a plain nullable integer column; create the sequence separately.',
    "2. ALTER COLUMN ... SET DEFAULT nextval('seq') so new rows get values (no rewrite).",
    '3. Backfill existing rows in batches from the sequence.',
    '4. Add NOT NULL through a validated CHECK (see set-not-null) and a unique index built CONCURRENTLY if needed.',
  ].join('\n'),
  nodeTypes: ['AlterTableStmt'],
  alterTableCommands: ['AT_AddColumn'],
  check(statement, context) {
    const { table, commands } = tableCommands(statement.node);
    if (context.isNewTable(table)) return [];
    const hits = [];
    for (const command of commands) {
      const column = command.subtype === 'AT_AddColumn' ? columnDefOf(command) : undefined;
      if (!column) continue;
      const serial = isSerialType(column.typeName);
      const identity = columnConstraints(column).find((constraint) => constraint.contype === 'CONSTR_IDENTITY');
      if (!serial && !identity) continue;
      const kind = serial ? (stringList(column.typeName?.names)[0] as string) : 'identity';
      hits.push({
        message: `Adding ${kind} column "${column.colname}" to ${formatTable(table)} rewrites the table under an ACCESS EXCLUSIVE lock.`,
        offset: serial ? offsetOf(column.typeName, statement.offset) : offsetOf(identity, statement.offset),
      });
    }
    return hits;
  },
});
