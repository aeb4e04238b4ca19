import { defineRule } from '../src/lint/define-rule.js';
import { optionIsOn } from '../src/lint/ast.js';

export default defineRule({
  id: 'vacuum-full',
  category: 'lock',
  severity: 'error',
  message: 'VACUUM FULL rewrites the table under an ACCESS EXCLUSIVE lock, blocking reads and writes until done.',
  safeAlternative: [
    '1. Plain VACUUM (no lock against reads or writes) is enough to make space reusable; like every VACUUM it must run outside a transaction block.',
    '2. To give space back to the OS online, use pg_repack or pg_squeeze outside the migration (they need a primary key or a unique index on NOT NULL columns, and cannot rebuild system catalogs).',
  ].join('\n'),
  nodeTypes: ['VacuumStmt'],
  check(statement, context) {
    const vacuum = statement.node;
    if (!vacuum.is_vacuumcmd) return [];
    if (!optionIsOn(vacuum.options, 'full')) return [];
    const tables = (vacuum.rels ?? []).flatMap((rel) => ('VacuumRelation' in rel && rel.VacuumRelation.relation?.relname ? [rel.VacuumRelation.relation.relname] : []));
    if (tables.length > 0 && tables.every((name) => context.isNewTable({ name }))) return [];
    return [{ message: `VACUUM FULL${tables.length ? ` of ${tables.map((name) => `"${name}"`).join(', ')}` : ' of every table'} rewrites under an ACCESS EXCLUSIVE lock.` }];
  },
});
