import type { AlterTableCmd } from 'libpg-query';
import { defineRule } from '../src/lint/define-rule.js';
import { constraintOf, formatTable, objectNames, optionIsOn, tableOf } from '../src/lint/ast.js';
import type { RuleContext, Statement, TableName } from '../src/lint/types.js';

/** ALTER TABLE forms that take a weaker lock than ACCESS EXCLUSIVE (PostgreSQL docs, ALTER TABLE). */
const WEAKER_LOCK_SUBTYPES = new Set<string>([
  'AT_SetStatistics',
  'AT_SetOptions',
  'AT_ResetOptions',
  'AT_ClusterOn',
  'AT_DropCluster',
  'AT_SetRelOptions',
  'AT_ResetRelOptions',
  'AT_ValidateConstraint',
  'AT_AttachPartition',
  'AT_EnableTrig',
  'AT_EnableAlwaysTrig',
  'AT_EnableReplicaTrig',
  'AT_DisableTrig',
  'AT_EnableTrigAll',
  'AT_DisableTrigAll',
  'AT_EnableTrigUser',
  'AT_DisableTrigUser',
]);

function takesAccessExclusive(command: AlterTableCmd): boolean {
  if (WEAKER_LOCK_SUBTYPES.has(command.subtype ?? '')) return false;
  if (command.subtype === 'AT_AddConstraint' && constraintOf(command)?.contype === 'CONSTR_FOREIGN') return false;
  if (command.subtype === 'AT_DetachPartition' && command.def && 'PartitionCmd' in command.def && command.def.PartitionCmd.concurrent) return false;
  return true;
}

const DROPPED_RELATIONS = new Set(['OBJECT_TABLE', 'OBJECT_MATVIEW', 'OBJECT_VIEW', 'OBJECT_SEQUENCE']);
const RENAMED_RELATIONS = new Set(['OBJECT_TABLE', 'OBJECT_COLUMN', 'OBJECT_TABCONSTRAINT', 'OBJECT_VIEW', 'OBJECT_MATVIEW', 'OBJECT_TRIGGER']);

type Locking = Statement<'AlterTableStmt' | 'DropStmt' | 'RenameStmt' | 'TruncateStmt' | 'VacuumStmt' | 'ClusterStmt' | 'ReindexStmt' | 'LockStmt' | 'RefreshMatViewStmt'>;

/** The existing tables the statement locks ACCESS EXCLUSIVE; `undefined` entries mean "a table we cannot name". */
function accessExclusiveTargets(statement: Locking): Array<TableName | undefined> {
  switch (statement.type) {
    case 'AlterTableStmt': {
      const alter = statement.node;
      const commands = (alter.cmds ?? []).flatMap((item) => ('AlterTableCmd' in item ? [item.AlterTableCmd] : []));
      return commands.some(takesAccessExclusive) ? [tableOf(alter.relation)] : [];
    }
    case 'DropStmt': {
      const drop = statement.node;
      if (drop.removeType === 'OBJECT_INDEX') return drop.concurrent ? [] : [undefined];
      return DROPPED_RELATIONS.has(drop.removeType ?? '') ? objectNames(drop.objects) : [];
    }
    case 'RenameStmt':
      return RENAMED_RELATIONS.has(statement.node.renameType ?? '') ? [tableOf(statement.node.relation)] : [];
    case 'TruncateStmt':
      return (statement.node.relations ?? []).map((relation) => ('RangeVar' in relation ? tableOf(relation.RangeVar) : undefined));
    case 'VacuumStmt': {
      if (!optionIsOn(statement.node.options, 'full') || !statement.node.is_vacuumcmd) return [];
      const rels = statement.node.rels ?? [];
      return rels.length ? rels.map((rel) => ('VacuumRelation' in rel ? tableOf(rel.VacuumRelation.relation) : undefined)) : [undefined];
    }
    case 'ClusterStmt':
      return [tableOf(statement.node.relation)];
    case 'ReindexStmt': {
      return optionIsOn(statement.node.params, 'concurrently') ? [] : [tableOf(statement.node.relation)];
    }
    case 'LockStmt':
      // LockStmt.mode is the lock mode number: 8 is AccessExclusiveLock.
      return statement.node.mode === 8 ? (statement.node.relations ?? []).map((relation) => ('RangeVar' in relation ? tableOf(relation.RangeVar) : undefined)) : [];
    case 'RefreshMatViewStmt':
      return statement.node.concurrent ? [] : [tableOf(statement.node.relation)];
  }
}

function existing(targets: Array<TableName | undefined>, context: RuleContext): Array<TableName | undefined> {
  return targets.filter((target) => target === undefined || !context.isNewTable(target));
}

export default defineRule({
  id: 'require-lock-timeout',
  category: 'lock',
  severity: 'error',
  message: 'This statement waits for an ACCESS EXCLUSIVE lock with no lock_timeout: while it waits behind a long query, every read and write of the table queues behind it.',
  safeAlternative: [
    "1. SET lock_timeout = '2s';  (or SET LOCAL inside the transaction) before the statement.",
    '2. Let the runner retry the migration when it times out, at a quieter moment.',
    '3. Keep each locking statement short: no data backfill in the same transaction.',
  ].join('\n'),
  nodeTypes: ['AlterTableStmt', 'DropStmt', 'RenameStmt', 'TruncateStmt', 'VacuumStmt', 'ClusterStmt', 'ReindexStmt', 'LockStmt', 'RefreshMatViewStmt'],
  check(statement, context) {
    if (context.lockTimeoutSet) return [];
    const targets = existing(accessExclusiveTargets(statement), context);
    if (targets.length === 0) return [];
    const named = targets.filter((target): target is TableName => target !== undefined).map(formatTable);
    return [
      {
        message: `No lock_timeout is set before this statement, which waits for an ACCESS EXCLUSIVE lock${named.length ? ` on ${named.join(', ')}` : ''}; queued behind a long query it blocks every read and write of the table.`,
      },
    ];
  },
});
