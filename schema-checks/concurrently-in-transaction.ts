import { defineRule } from '../src/lint/define-rule.js';
import { optionIsOn } from '../src/lint/ast.js';
import type { Statement } from '../src/lint/types.js';

type ConcurrentCapable = Statement<'IndexStmt' | 'DropStmt' | 'ReindexStmt' | 'AlterTableStmt'>;

function concurrentOperation(statement: ConcurrentCapable): string | undefined {
  switch (statement.type) {
    case 'IndexStmt':
      return statement.node.concurrent ? 'CREATE INDEX CONCURRENTLY' : undefined;
    case 'DropStmt':
      return statement.node.concurrent ? 'DROP INDEX CONCURRENTLY' : undefined;
    case 'ReindexStmt':
      return optionIsOn(statement.node.params, 'concurrently') ? 'REINDEX CONCURRENTLY' : undefined;
    case 'AlterTableStmt':
      return (statement.node.cmds ?? []).some(
        (item) =>
          'AlterTableCmd' in item &&
          item.AlterTableCmd.subtype === 'AT_DetachPartition' &&
          item.AlterTableCmd.def !== undefined &&
          'PartitionCmd' in item.AlterTableCmd.def &&
          item.AlterTableCmd.def.PartitionCmd.concurrent,
      )
        ? 'DETACH PARTITION CONCURRENTLY'
        : undefined;
  }
}

export default defineRule({
  id: 'concurrently-in-transaction',
  category: 'transaction',
  severity: 'error',
  message: 'A CONCURRENTLY operation cannot run inside a transaction block: PostgreSQL rejects it and the migration fails.',
  safeAlternative: [
    '1. Put the CONCURRENTLY statement in its own migration file, with no BEGIN/COMMIT around it.',
    '2. Tell the runner not to wrap that file in a transaction (Flyway: executeInTransaction=false; dbmate: "-- migrate:up transaction:false"; golang-migrate does not wrap).',
  ].join('\n'),
  nodeTypes: ['IndexStmt', 'DropStmt', 'ReindexStmt', 'AlterTableStmt'],
  alterTableCommands: ['AT_DetachPartition'],
  check(statement, context) {
    if (!context.inTransaction) return [];
    const operation = concurrentOperation(statement);
    if (!operation) return [];
    return [
      {
        message: `${operation} inside a transaction block fails: PostgreSQL refuses to run it there${context.settings.transactionPerFile ? ' (the runner wraps each file in a transaction)' : ''}.`,
      },
    ];
  },
});
