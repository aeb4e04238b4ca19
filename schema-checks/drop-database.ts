import { defineRule } from '../src/lint/define-rule.js';

export default defineRule({
  id: 'drop-database',
  category: 'compat',
  severity: 'error',
  message: 'DROP DATABASE in a migration destroys every table in that database at once, with no way back but a restore: if the app uses it, every running instance fails.',
  safeAlternative: [
    '1. Take databases out of service by hand, outside the migrations: deploy code that no longer connects to it first.',
    "2. Check that nothing does: SELECT count(*) FROM pg_stat_activity WHERE datname = 'old_db';",
    '3. Keep a backup (pg_dump), then DROP DATABASE old_db; from a session connected to another database.',
  ].join('\n'),
  nodeTypes: ['DropdbStmt'],
  check(statement) {
    return [{ message: `DROP DATABASE "${statement.node.dbname}" in a migration destroys every table in it: if the app uses it, every running instance fails.` }];
  },
});
