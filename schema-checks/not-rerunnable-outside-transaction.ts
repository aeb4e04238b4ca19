import type { Node } from 'libpg-query';
import { defineRule } from '../src/lint/define-rule.js';
import { formatTable, stringList, tableCommands, tableOf } from '../src/lint/ast.js';
import type { RuleHit } from '../src/lint/types.js';

const KIND_WORDS: Record<string, string> = { OBJECT_MATVIEW: 'MATERIALIZED VIEW', OBJECT_FDW: 'FOREIGN DATA WRAPPER', OBJECT_TSCONFIGURATION: 'TEXT SEARCH CONFIGURATION' };

function kindWord(removeType: string | undefined): string {
  return KIND_WORDS[removeType ?? ''] ?? (removeType ?? 'OBJECT').replace(/^OBJECT_/, '').replace(/_/g, ' ');
}

/** A dropped object's name as written: `a.b` from a name list, a type or a function. */
function droppedName(object: Node): string | undefined {
  if ('List' in object) return stringList(object.List.items).join('.');
  if ('String' in object) return object.String.sval;
  if ('TypeName' in object) return stringList(object.TypeName.names).join('.');
  if ('ObjectWithArgs' in object) return stringList(object.ObjectWithArgs.objname).join('.');
  return undefined;
}

const RERUN = 'if a statement after it fails, the migration is half applied, and running it again stops here';

export default defineRule({
  id: 'not-rerunnable-outside-transaction',
  category: 'transaction',
  severity: 'warning',
  message:
    'Outside a transaction, what ran before a failure stays done: this statement fails when the migration is run again after a partial failure, so the deploy stays stuck until someone repairs the database by hand.',
  safeAlternative: [
    '1. DROP ... IF EXISTS (ALTER TABLE ... DROP COLUMN IF EXISTS / DROP CONSTRAINT IF EXISTS), so a second run passes over what the first one did.',
    '2. Before CREATE INDEX CONCURRENTLY, drop what a failed build leaves: DROP INDEX CONCURRENTLY IF EXISTS users_email; CREATE INDEX CONCURRENTLY users_email ON users (email);',
    '   (CREATE INDEX CONCURRENTLY IF NOT EXISTS also re-runs, but it keeps a leftover INVALID index instead of building it.)',
    '3. Or let the runner wrap the file in a transaction, when nothing in it needs to run outside one.',
  ].join('\n'),
  nodeTypes: ['IndexStmt', 'DropStmt', 'AlterTableStmt'],
  alterTableCommands: ['AT_DropColumn', 'AT_DropConstraint'],
  check(statement, context) {
    // Inside a transaction a failure undoes the whole file (or the whole transaction): running it again starts clean.
    if (context.inTransaction) return [];
    switch (statement.type) {
      case 'IndexStmt': {
        const index = statement.node;
        if (!index.concurrent || index.if_not_exists || (index.idxname && context.wasIndexDroppedIfExists(index.idxname))) return [];
        const on = formatTable(tableOf(index.relation));
        return [
          {
            message: index.idxname
              ? `A CREATE INDEX CONCURRENTLY that fails (lock timeout, duplicate key, cancel) leaves the INVALID index "${index.idxname}" behind: running the migration again fails with "relation already exists".`
              : `A CREATE INDEX CONCURRENTLY on ${on} that fails leaves an INVALID index behind, and this one has no name: running the migration again builds a second index beside it. Name the index.`,
          },
        ];
      }
      case 'DropStmt': {
        const drop = statement.node;
        // The file's last statement: if it fails, nothing was dropped, and a second run does it again from the start.
        if (drop.missing_ok || context.isLastStatement(statement)) return [];
        const names = (drop.objects ?? []).map(droppedName).filter((name) => name !== undefined);
        const what = `DROP ${kindWord(drop.removeType)}${names.length ? ` ${names.map((name) => `"${name}"`).join(', ')}` : ''}`;
        return [{ message: `${what} without IF EXISTS, outside a transaction: ${RERUN}, as it is already gone.` }];
      }
      case 'AlterTableStmt': {
        if (context.isLastStatement(statement)) return [];
        const { table, commands } = tableCommands(statement.node);
        const hits: RuleHit[] = [];
        for (const command of commands) {
          if ((command.subtype !== 'AT_DropColumn' && command.subtype !== 'AT_DropConstraint') || command.missing_ok) continue;
          const what = command.subtype === 'AT_DropColumn' ? 'DROP COLUMN' : 'DROP CONSTRAINT';
          hits.push({ message: `${what} "${command.name}" of ${formatTable(table)} without IF EXISTS, outside a transaction: ${RERUN}, as it is already gone.` });
        }
        return hits;
      }
    }
  },
});
