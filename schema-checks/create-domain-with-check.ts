import { defineRule } from '../src/lint/define-rule.js';
import { offsetOf, stringList } from '../src/lint/ast.js';

export default defineRule({
  id: 'create-domain-with-check',
  category: 'lock',
  severity: 'warning',
  message: 'A domain with a CHECK ties every column that uses it to the constraint: changing the rule later scans all of them under lock.',
  safeAlternative: [
    '1. Create the domain without the CHECK (or use the base type).',
    '2. Put the CHECK on each table column, added NOT VALID and validated separately, so each can change on its own.',
  ].join('\n'),
  nodeTypes: ['CreateDomainStmt'],
  check(statement) {
    const check = (statement.node.constraints ?? []).find((item) => 'Constraint' in item && item.Constraint.contype === 'CONSTR_CHECK');
    if (!check || !('Constraint' in check)) return [];
    return [
      {
        message: `Domain "${stringList(statement.node.domainname).join('.')}" has a CHECK: changing it later validates every column of that domain under lock.`,
        offset: offsetOf(check.Constraint, statement.offset),
      },
    ];
  },
});
