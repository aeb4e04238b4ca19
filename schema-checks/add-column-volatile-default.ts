import { defineRule } from '../src/lint/define-rule.js';
import { calledFunctions, columnConstraints, columnDefOf, formatTable, offsetOf, tableCommands } from '../src/lint/ast.js';

/** Built-ins whose value changes per row: a default calling them is evaluated for every existing row. */
export const VOLATILE: ReadonlySet<string> = new Set([
  'random',
  'random_normal',
  'clock_timestamp',
  'timeofday',
  'gen_random_uuid',
  'uuidv4',
  'uuidv7',
  'uuid_generate_v1',
  'uuid_generate_v1mc',
  'uuid_generate_v4',
  'nextval',
  'setval',
  'txid_current',
  'pg_current_xact_id',
]);

/** Built-ins seen in defaults that are STABLE or IMMUTABLE: evaluated once, stored in the catalog (PostgreSQL 11+). */
const NOT_VOLATILE = new Set([
  'now',
  'transaction_timestamp',
  'statement_timestamp',
  'current_setting',
  'timezone',
  'date_trunc',
  'make_interval',
  'make_date',
  'to_timestamp',
  'to_date',
  'to_char',
  'lower',
  'upper',
  'btrim',
  'trim',
  'concat',
  'replace',
  'md5',
  'jsonb_build_object',
  'json_build_object',
  'jsonb_build_array',
  'json_build_array',
  'to_jsonb',
  'to_json',
  'array_fill',
  'int4range',
  'int8range',
  'tstzrange',
  'daterange',
  'numrange',
  'tsrange',
]);

export default defineRule({
  id: 'add-column-volatile-default',
  category: 'rewrite',
  severity: 'error',
  message: 'Adding a column with a volatile default rewrites the whole table under an ACCESS EXCLUSIVE lock.',
  safeAlternative: [
    '1. Add the column without a default (or with a constant one).',
    '2. ALTER TABLE ... ALTER COLUMN ... SET DEFAULT <expression>;  (applies to new rows only, no rewrite)',
    '3. Backfill existing rows in batches (UPDATE ... WHERE id BETWEEN ...).',
    '4. Add NOT NULL afterwards through a validated CHECK if needed (see set-not-null).',
  ].join('\n'),
  nodeTypes: ['AlterTableStmt'],
  alterTableCommands: ['CONSTR_DEFAULT'],
  check(statement, context) {
    const { table, commands } = tableCommands(statement.node);
    if (context.isNewTable(table)) return [];
    const hits = [];
    for (const command of commands) {
      const column = command.subtype === 'AT_AddColumn' ? columnDefOf(command) : undefined;
      if (!column) continue;
      const defaultConstraint = columnConstraints(column).find((constraint) => constraint.contype === 'CONSTR_DEFAULT');
      const expression = defaultConstraint?.raw_expr;
      if (!defaultConstraint || !expression || ('A_Const' in expression && expression.A_Const.isnull)) continue;
      const offset = offsetOf(defaultConstraint, statement.offset);
      const where = `column "${column.colname}" of ${formatTable(table)}`;
      if (context.settings.pgVersion < 11) {
        hits.push({ message: `Before PostgreSQL 11 any non-NULL default rewrites the table: ${where}.`, offset });
        continue;
      }
      const functions = calledFunctions(expression);
      const volatile = functions.find((name) => VOLATILE.has(name));
      const unknown = functions.find((name) => !NOT_VOLATILE.has(name));
      if (volatile) {
        hits.push({ message: `The default of ${where} calls ${volatile}(), which is volatile: every existing row is rewritten under an ACCESS EXCLUSIVE lock.`, offset });
      } else if (unknown) {
        hits.push({
          message: `The default of ${where} calls ${unknown}(), whose volatility the linter cannot see; if it is VOLATILE the table is rewritten. Suppress with a reason if it is STABLE or IMMUTABLE.`,
          offset,
        });
      }
    }
    return hits;
  },
});
