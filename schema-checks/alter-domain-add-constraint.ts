import { defineRule } from '../src/lint/define-rule.js';
import { stringList } from '../src/lint/ast.js';

export default defineRule({
  id: 'alter-domain-add-constraint',
  category: 'lock',
  severity: 'error',
  message: 'ALTER DOMAIN ADD CONSTRAINT (or SET NOT NULL) checks every column of every table that uses the domain, under lock.',
  safeAlternative: [
    '1. ALTER DOMAIN ... ADD CONSTRAINT c CHECK (...) NOT VALID;  (new values are checked at once; for NOT NULL, CHECK (VALUE IS NOT NULL): a NOT NULL cannot be NOT VALID)',
    '2. Fix existing values in batches.',
    "3. ALTER DOMAIN ... VALIDATE CONSTRAINT c;  in a later migration, with lock_timeout set. Unlike a table's VALIDATE it blocks writes (SHARE lock) to every table that uses the domain while it scans them: run it while they are small or quiet.",
    '4. Where that scan is too long, put the rule on each column instead: a table CHECK added NOT VALID and validated separately lets writes go on.',
  ].join('\n'),
  nodeTypes: ['AlterDomainStmt'],
  check(statement) {
    const alter = statement.node;
    const domain = stringList(alter.typeName).join('.');
    if (alter.subtype === 'O') return [{ message: `ALTER DOMAIN "${domain}" SET NOT NULL checks every column that uses the domain under lock.` }];
    if (alter.subtype !== 'C' || !alter.def || !('Constraint' in alter.def) || alter.def.Constraint.skip_validation) return [];
    return [{ message: `ALTER DOMAIN "${domain}" ADD CONSTRAINT without NOT VALID checks every column that uses the domain under lock.` }];
  },
});
