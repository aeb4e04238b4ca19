import { defineRule } from '../src/lint/define-rule.js';
import { stringList } from '../src/lint/ast.js';

export default defineRule({
  id: 'rename-enum-value',
  category: 'compat',
  severity: 'error',
  message: 'Renaming an enum value breaks the code still running, which writes or compares the old value.',
  safeAlternative: [
    '1. Expand: ALTER TYPE ... ADD VALUE with the new label (outside a transaction before PostgreSQL 12).',
    '2. Deploy code that accepts both labels and writes the new one; backfill rows with the old label in batches.',
    '3. Deploy code that no longer knows the old label.',
    '4. Contract: recreate the type without the old label later if it must go (enum values cannot be dropped in place).',
  ].join('\n'),
  nodeTypes: ['AlterEnumStmt'],
  check(statement) {
    const alter = statement.node;
    if (alter.oldVal === undefined) return [];
    return [
      {
        message: `Renaming value '${alter.oldVal}' of enum "${stringList(alter.typeName).join('.')}" to '${alter.newVal}' breaks the code still running, which uses the old label.`,
      },
    ];
  },
});
