import { defineRule } from '../src/lint/define-rule.js';
import { formatTable, tableCommands, tableOf } from '../src/lint/ast.js';

export default defineRule({
  id: 'detach-partition-without-concurrently',
  category: 'lock',
  severity: 'error',
  message: 'DETACH PARTITION without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the partitioned table: every read and write of every partition waits for it.',
  safeAlternative: [
    '1. ALTER TABLE measurements DETACH PARTITION measurements_2020 CONCURRENTLY;  (PostgreSQL 14+: SHARE UPDATE EXCLUSIVE on the parent, reads and writes go on)',
    '2. It cannot run inside a transaction block: put it in its own migration file that the runner does not wrap.',
    '3. If it is interrupted, finish it with ALTER TABLE measurements DETACH PARTITION measurements_2020 FINALIZE;',
    '(CONCURRENTLY is refused when the partitioned table has a default partition.)',
  ].join('\n'),
  nodeTypes: ['AlterTableStmt'],
  alterTableCommands: ['AT_DetachPartition'],
  check(statement, context) {
    // Before 14 there is no CONCURRENTLY: nothing to suggest that the server would accept.
    if (context.settings.pgVersion < 14) return [];
    const { table, commands } = tableCommands(statement.node);
    if (context.isNewTable(table)) return [];
    return commands.flatMap((command) => {
      const partition = command.def && 'PartitionCmd' in command.def ? command.def.PartitionCmd : undefined;
      if (command.subtype !== 'AT_DetachPartition' || !partition || partition.concurrent) return [];
      return [
        {
          message: `Detaching ${formatTable(tableOf(partition.name))} from ${formatTable(table)} without CONCURRENTLY locks ${formatTable(table)} ACCESS EXCLUSIVE: every query on any of its partitions waits.`,
          ...(partition.name?.location !== undefined ? { offset: partition.name.location } : {}),
        },
      ];
    });
  },
});
