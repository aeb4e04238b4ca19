import type { AlterTableCmd, Constraint, Node } from 'libpg-query';
import { defineRule } from '../src/lint/define-rule.js';
import { calledFunctions, columnConstraints, columnDefOf, constraintOf, formatTable, isSerialType, tableCommands, tableOf, typeInfo } from '../src/lint/ast.js';
import type { RuleContext, Statement, TableName } from '../src/lint/types.js';
import { VOLATILE } from './add-column-volatile-default.js';
import { isSafeTypeChange } from './change-column-type.js';

/** What a statement does to a table for as long as the table takes, and what its lock blocks meanwhile. */
interface HeldWork {
  readonly table: TableName | undefined;
  readonly does: string;
  readonly blocks: 'every read and write' | 'every write';
}

const REWRITES = 'rewrites';
const SCANS = 'scans';
const BUILDS = 'builds an index on';

/** A constraint that is checked against every row (or backed by a new index) when it is added. */
function constraintWork(constraint: Constraint | undefined): string | undefined {
  if (!constraint || constraint.skip_validation) return undefined;
  switch (constraint.contype) {
    case 'CONSTR_CHECK':
    case 'CONSTR_FOREIGN':
      return SCANS;
    case 'CONSTR_PRIMARY':
    case 'CONSTR_UNIQUE':
      // USING INDEX adopts an index built beforehand (CONCURRENTLY): nothing is built.
      return constraint.indexname ? undefined : BUILDS;
    case 'CONSTR_EXCLUSION':
      return BUILDS;
    default:
      return undefined;
  }
}

function addedColumnWork(command: AlterTableCmd, context: RuleContext): string | undefined {
  const column = columnDefOf(command);
  if (!column) return undefined;
  if (isSerialType(column.typeName)) return REWRITES;
  let work: string | undefined;
  for (const constraint of columnConstraints(column)) {
    if (constraint.contype === 'CONSTR_IDENTITY' || (constraint.contype === 'CONSTR_GENERATED' && constraint.generated_kind === 's')) return REWRITES;
    if (constraint.contype === 'CONSTR_DEFAULT' && constraint.raw_expr && !('A_Const' in constraint.raw_expr && constraint.raw_expr.A_Const.isnull)) {
      if (context.settings.pgVersion < 11 || calledFunctions(constraint.raw_expr).some((name) => VOLATILE.has(name))) return REWRITES;
    }
    work ??= constraintWork(constraint);
  }
  return work;
}

function alterCommandWork(command: AlterTableCmd, table: TableName, context: RuleContext): string | undefined {
  switch (command.subtype) {
    case 'AT_AddColumn':
      return addedColumnWork(command, context);
    case 'AT_AlterColumnType': {
      const column = columnDefOf(command);
      const from = command.name ? context.columnType(table, command.name) : undefined;
      const to = typeInfo(column?.typeName);
      const catalogOnly = from && to && column?.raw_default === undefined && column?.collClause === undefined && isSafeTypeChange(from, to);
      return catalogOnly ? undefined : REWRITES;
    }
    case 'AT_SetNotNull':
      // PostgreSQL 12+ skips the scan when a validated CHECK (c IS NOT NULL) proves it.
      return command.name && context.settings.pgVersion >= 12 && context.hasValidatedNotNullCheck(table, command.name) ? undefined : SCANS;
    case 'AT_AddConstraint':
      return constraintWork(constraintOf(command));
    case 'AT_SetLogged':
    case 'AT_SetUnLogged':
    case 'AT_SetAccessMethod':
      return REWRITES;
    case 'AT_SetTableSpace':
      return 'copies';
    default:
      return undefined;
  }
}

function hasOption(options: readonly Node[] | undefined, name: string): boolean {
  return (options ?? []).some((option) => 'DefElem' in option && option.DefElem.defname === name);
}

type Judged = Statement<'AlterTableStmt' | 'IndexStmt' | 'ClusterStmt' | 'VacuumStmt' | 'ReindexStmt' | 'RefreshMatViewStmt'>;

/** The work the statement does on an existing table under a lock that blocks the app, if it scans or rewrites it. */
function heldWork(statement: Judged, context: RuleContext): HeldWork | undefined {
  switch (statement.type) {
    case 'AlterTableStmt': {
      const { table, commands } = tableCommands(statement.node);
      if (!table || context.isNewTable(table)) return undefined;
      for (const command of commands) {
        const does = alterCommandWork(command, table, context);
        // A foreign key alone takes SHARE ROW EXCLUSIVE, which blocks writes; the other forms here take ACCESS EXCLUSIVE.
        const fkOnly = command.subtype === 'AT_AddConstraint' && constraintOf(command)?.contype === 'CONSTR_FOREIGN';
        if (does) return { table, does, blocks: fkOnly ? 'every write' : 'every read and write' };
      }
      return undefined;
    }
    case 'IndexStmt': {
      const table = tableOf(statement.node.relation);
      return statement.node.concurrent || context.isNewTable(table) ? undefined : { table, does: BUILDS, blocks: 'every write' };
    }
    case 'ClusterStmt':
      return { table: tableOf(statement.node.relation), does: REWRITES, blocks: 'every read and write' };
    case 'VacuumStmt': {
      if (!statement.node.is_vacuumcmd || !hasOption(statement.node.options, 'full')) return undefined;
      const [first] = statement.node.rels ?? [];
      return { table: first && 'VacuumRelation' in first ? tableOf(first.VacuumRelation.relation) : undefined, does: REWRITES, blocks: 'every read and write' };
    }
    case 'ReindexStmt':
      if (hasOption(statement.node.params, 'concurrently')) return undefined;
      return { table: tableOf(statement.node.relation), does: 'rebuilds the indexes of', blocks: 'every write' };
    case 'RefreshMatViewStmt': {
      const view = tableOf(statement.node.relation);
      return statement.node.concurrent || context.isNewTable(view) ? undefined : { table: view, does: 'recomputes', blocks: 'every read and write' };
    }
  }
}

export default defineRule({
  id: 'require-statement-timeout',
  category: 'lock',
  severity: 'warning',
  message:
    'lock_timeout bounds only the wait for the lock: once granted, this statement holds it while it scans or rewrites the table, and with no statement_timeout nothing bounds how long the site waits behind it.',
  safeAlternative: [
    "1. SET statement_timeout = '5min';  (SET LOCAL inside the transaction) beside SET lock_timeout = '2s';, sized to what the site can stand; the runner retries when it times out.",
    '2. Better still, the form that does not hold a blocking lock: CREATE INDEX CONCURRENTLY, ADD CONSTRAINT ... NOT VALID then VALIDATE CONSTRAINT, REINDEX ... CONCURRENTLY, REFRESH MATERIALIZED VIEW CONCURRENTLY.',
    '3. If the role that runs migrations has a statement_timeout (ALTER ROLE migrator SET statement_timeout = ...), set database.migrations.requireStatementTimeout: false.',
  ].join('\n'),
  nodeTypes: ['AlterTableStmt', 'IndexStmt', 'ClusterStmt', 'VacuumStmt', 'ReindexStmt', 'RefreshMatViewStmt'],
  alterTableCommands: ['AT_AddColumn', 'AT_AlterColumnType', 'AT_SetNotNull', 'AT_AddConstraint', 'AT_SetLogged', 'AT_SetUnLogged', 'AT_SetAccessMethod', 'AT_SetTableSpace'],
  check(statement, context) {
    // Without lock_timeout, require-lock-timeout (or the rule for the statement itself) speaks first: this one is the second bound.
    if (!context.settings.requireStatementTimeout || context.statementTimeoutSet || !context.lockTimeoutSet) return [];
    const work = heldWork(statement, context);
    if (!work) return [];
    const table = work.table ? ` ${formatTable(work.table)}` : ' the table';
    return [
      {
        message: `lock_timeout is set but statement_timeout is not: once its lock is granted this statement ${work.does}${table} holding it, and ${work.blocks} waits for as long as that takes.`,
      },
    ];
  },
});
