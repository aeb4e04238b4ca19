import { defineRule } from '../src/lint/define-rule.js';

const BEGINS = new Set(['TRANS_STMT_BEGIN', 'TRANS_STMT_START']);
const ENDS = new Set(['TRANS_STMT_COMMIT', 'TRANS_STMT_ROLLBACK']);

export default defineRule({
  id: 'transaction-nesting',
  category: 'transaction',
  severity: 'error',
  message:
    'PostgreSQL has no nested transactions: a BEGIN inside an open transaction is ignored with a warning, and the next COMMIT ends the outer transaction, so the statements after it run one by one and a failure among them leaves the migration half applied.',
  safeAlternative: [
    '1. In a file the runner wraps in a transaction, write no BEGIN, COMMIT or ROLLBACK: the runner makes the file atomic and records it in the same transaction.',
    '2. A statement that must run outside a transaction (CREATE INDEX CONCURRENTLY) goes in a file of its own that the runner does not wrap (Flyway executeInTransaction=false, dbmate "-- migrate:up transaction:false", goose "-- +goose NO TRANSACTION", sqlx "-- no-transaction").',
    '3. Where the runner does not wrap files, open one transaction: BEGIN; ... COMMIT; with no BEGIN in between.',
  ].join('\n'),
  nodeTypes: ['TransactionStmt'],
  check(statement, context) {
    const kind = statement.node.kind ?? '';
    if (!context.inTransaction) return [];
    if (BEGINS.has(kind) && context.transactionBegunAt !== undefined) {
      return [
        {
          message:
            'This BEGIN is inside the transaction an earlier BEGIN of this file opened: PostgreSQL ignores it with a warning, and its COMMIT ends the outer transaction, so the statements after that COMMIT run outside any transaction.',
        },
      ];
    }
    // A BEGIN inside the runner's transaction is harmless on its own: the COMMIT that goes with it ends that transaction early.
    if (ENDS.has(kind) && context.wrappedByRunner && context.transactionBegunAt === undefined) {
      if (kind === 'TRANS_STMT_ROLLBACK') {
        return [
          {
            message:
              'The runner wraps this file in a transaction; this ROLLBACK undoes every statement before it, then the rest of the file runs outside a transaction and the runner records the migration as applied.',
          },
        ];
      }
      const after = context.isLastStatement(statement)
        ? 'the runner then records the migration outside it, so a failure there leaves the schema changed but the migration unrecorded, to be run again on a schema that already has it'
        : 'the statements after it run one by one, and a failure among them leaves the migration half applied and not recorded, so it cannot simply be run again';
      return [{ message: `The runner wraps this file in a transaction; this COMMIT ends it early: ${after}.` }];
    }
    return [];
  },
});
