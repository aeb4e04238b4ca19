import { defineRule } from '../src/lint/define-rule.js';

export default defineRule({
  id: 'uncommitted-transaction',
  category: 'transaction',
  severity: 'error',
  message:
    'The file ends inside the transaction this BEGIN opened: psql rolls it back when it exits, so nothing is applied though the runner may record the migration as done, and a runner that keeps the connection holds every lock the migration took until that connection closes.',
  safeAlternative: [
    '1. End the transaction in the same file: BEGIN; ... COMMIT;',
    '2. Or drop the BEGIN and let the runner wrap the file (Flyway, dbmate, goose, sqlx do by default).',
  ].join('\n'),
  // The BEGIN is judged at the end of the file, when it is known that no COMMIT followed it.
  nodeTypes: ['TransactionStmt'],
  check() {
    return [];
  },
  atEndOfFile(context) {
    // In a file the runner wraps, the runner's COMMIT ends whatever the file left open.
    if (!context.inTransaction || context.transactionBegunAt === undefined || context.wrappedByRunner) return [];
    return [{ offset: context.transactionBegunAt }];
  },
});
