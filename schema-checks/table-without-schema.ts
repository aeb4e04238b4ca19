import { defineRule } from '../src/lint/define-rule.js';
import { formatTable, tableOf } from '../src/lint/ast.js';
import { createdRelation } from '../src/lint/statements.js';

export default defineRule({
  id: 'table-without-schema',
  category: 'hygiene',
  severity: 'warning',
  message:
    'Every table the project created before names its schema, and this one does not: it lands in the first schema of the search_path of whoever runs the migration (often public), away from the others.',
  safeAlternative: ['1. Name the schema, as the other migrations do: CREATE TABLE app.orders (...);', '2. Or set it for the file first: SET search_path = app;'].join('\n'),
  nodeTypes: ['CreateStmt'],
  check(statement, context) {
    // Only the table's name is read: a CREATE TABLE's columns are parsed only when something needs them.
    const relation = createdRelation(statement);
    const table = tableOf(relation);
    if (!table || table.schema || relation?.relpersistence === 't' || context.searchPathSet) return [];
    const { qualified, unqualified } = context.createdTableNaming;
    // A project that has ever created a table without a schema does not use one consistently: nothing to hold this one to.
    if (qualified === 0 || unqualified > 0) return [];
    return [
      {
        message: `Table ${formatTable(table)} is created without a schema, while the ${qualified} table(s) the project created before all name theirs: it lands in the first schema of the search_path (often public).`,
      },
    ];
  },
});
