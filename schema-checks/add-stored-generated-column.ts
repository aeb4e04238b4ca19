import { defineRule } from '../src/lint/define-rule.js';
import { columnConstraints, columnDefOf, formatTable, offsetOf, tableCommands } from '../src/lint/ast.js';

export default defineRule({
  id: 'add-stored-generated-column',
  category: 'rewrite',
  severity: 'error',
  message: 'Adding a STORED generated column computes it for every row: the table is rewritten under an ACCESS EXCLUSIVE lock.',
  safeAlternative: [
    '1. Add a plain nullable column.',
    '2. Deploy code (or a trigger) that fills it on insert and update.',
    '3. Backfill existing rows in batches.',
    '4. On PostgreSQL 18+, a VIRTUAL generated column needs no rewrite, if computing on read is acceptable.',
  ].join('\n'),
  nodeTypes: ['AlterTableStmt'],
  alterTableCommands: ['CONSTR_GENERATED'],
  check(statement, context) {
    const { table, commands } = tableCommands(statement.node);
    if (context.isNewTable(table)) return [];
    const hits = [];
    for (const command of commands) {
      const column = command.subtype === 'AT_AddColumn' ? columnDefOf(command) : undefined;
      if (!column) continue;
      const generated = columnConstraints(column).find((constraint) => constraint.contype === 'CONSTR_GENERATED' && constraint.generated_kind !== 'v');
      if (generated)
        hits.push({
          message: `Adding STORED generated column "${column.colname}" to ${formatTable(table)} rewrites the table under an ACCESS EXCLUSIVE lock.`,
          offset: offsetOf(generated, statement.offset),
        });
    }
    return hits;
  },
});
