import type { AlterTableCmd, AlterTableStmt, Constraint, CreateStmt, Node, ObjectType, RangeVar } from 'libpg-query';
import { addedConstraints, columnConstraints, objectNames, optionIsOn, stringList, tableOf } from './ast.js';
import { createdRelation, createTableMentions, foreignKeyTargets } from './statements.js';
import type { Statement, TableName } from './types.js';

/**
 * The table-level locks each statement takes, in one place: PostgreSQL's documentation
 * ("Table-Level Lock Modes", and the Notes of each statement) and, where the documentation
 * says "some forms", the server's own choice (AlterTableGetLockLevel in commands/tablecmds.c).
 */

/** The eight table lock modes, weakest first (the order of PostgreSQL's lock numbers, 1 to 8). */
export const LOCK_MODES = ['ACCESS SHARE', 'ROW SHARE', 'ROW EXCLUSIVE', 'SHARE UPDATE EXCLUSIVE', 'SHARE', 'SHARE ROW EXCLUSIVE', 'EXCLUSIVE', 'ACCESS EXCLUSIVE'] as const;

export type LockMode = (typeof LOCK_MODES)[number];

/** The documentation's "Conflicting Lock Modes" table: the modes each mode conflicts with. */
const CONFLICTS: Readonly<Record<LockMode, readonly LockMode[]>> = {
  'ACCESS SHARE': ['ACCESS EXCLUSIVE'],
  'ROW SHARE': ['EXCLUSIVE', 'ACCESS EXCLUSIVE'],
  'ROW EXCLUSIVE': ['SHARE', 'SHARE ROW EXCLUSIVE', 'EXCLUSIVE', 'ACCESS EXCLUSIVE'],
  'SHARE UPDATE EXCLUSIVE': ['SHARE UPDATE EXCLUSIVE', 'SHARE', 'SHARE ROW EXCLUSIVE', 'EXCLUSIVE', 'ACCESS EXCLUSIVE'],
  SHARE: ['ROW EXCLUSIVE', 'SHARE UPDATE EXCLUSIVE', 'SHARE ROW EXCLUSIVE', 'EXCLUSIVE', 'ACCESS EXCLUSIVE'],
  'SHARE ROW EXCLUSIVE': ['ROW EXCLUSIVE', 'SHARE UPDATE EXCLUSIVE', 'SHARE', 'SHARE ROW EXCLUSIVE', 'EXCLUSIVE', 'ACCESS EXCLUSIVE'],
  EXCLUSIVE: ['ROW SHARE', 'ROW EXCLUSIVE', 'SHARE UPDATE EXCLUSIVE', 'SHARE', 'SHARE ROW EXCLUSIVE', 'EXCLUSIVE', 'ACCESS EXCLUSIVE'],
  'ACCESS EXCLUSIVE': LOCK_MODES,
};

export function conflicts(a: LockMode, b: LockMode): boolean {
  return CONFLICTS[a].includes(b);
}

function stronger(a: LockMode, b: LockMode): LockMode {
  return LOCK_MODES.indexOf(a) >= LOCK_MODES.indexOf(b) ? a : b;
}

/**
 * What is locked. `indexes`: every index of `relation` (REINDEX TABLE); a lock on an index blocks
 * the queries planned on its table, as the planner opens every index of the tables it reads.
 */
export type RelationKind = 'table' | 'index' | 'indexes' | 'view' | 'matview' | 'sequence';

export interface RelationLock {
  /** Undefined: relations the statement does not name (every table of a schema, the tables using a domain). */
  readonly relation: TableName | undefined;
  readonly kind: RelationKind;
  readonly mode: LockMode;
  /** NOWAIT or SKIP_LOCKED: the statement fails or skips the relation rather than queue for the lock. */
  readonly nowait?: boolean;
}

/**
 * What the running code is kept from while `lock` waits in the queue (a queued lock blocks every
 * later request that conflicts with it): reads take ACCESS SHARE, writes ROW EXCLUSIVE. No one
 * writes to a materialized view, so a lock on one blocks only reads, or nothing.
 */
export function blockedWhileQueued(lock: RelationLock): 'reads and writes' | 'writes' | undefined {
  if (conflicts(lock.mode, 'ACCESS SHARE')) return 'reads and writes';
  if (lock.kind !== 'matview' && conflicts(lock.mode, 'ROW EXCLUSIVE')) return 'writes';
  return undefined;
}

/**
 * Statement types that lock a relation against more than reads and row changes. Any other
 * statement (SELECT, INSERT, UPDATE, DELETE, COMMENT, CREATE STATISTICS, GRANT, CREATE VIEW, ...)
 * takes at most ACCESS SHARE, ROW EXCLUSIVE or SHARE UPDATE EXCLUSIVE, which block no reader or writer.
 */
export const LOCKING_NODE_TYPES = [
  'AlterTableStmt',
  'CreateStmt',
  'IndexStmt',
  'CreateTrigStmt',
  'DropStmt',
  'RenameStmt',
  'AlterObjectSchemaStmt',
  'TruncateStmt',
  'VacuumStmt',
  'ClusterStmt',
  'ReindexStmt',
  'LockStmt',
  'RefreshMatViewStmt',
  'CreatePolicyStmt',
  'AlterPolicyStmt',
  'RuleStmt',
  'AlterSeqStmt',
  'AlterDomainStmt',
] as const;

export type LockingStatement = Statement<(typeof LOCKING_NODE_TYPES)[number]>;

/** The locks `statement` takes on the PostgreSQL major version given. */
export function locksTakenBy(statement: LockingStatement, pgVersion: number): RelationLock[] {
  switch (statement.type) {
    case 'AlterTableStmt':
      return alterTableLocks(statement.node, pgVersion);
    case 'CreateStmt': {
      // Most CREATE TABLEs reference no table, or only through foreign keys: answer from the text
      // before reading the whole tree, the largest of a typical migration's.
      if (!createTableMentions(statement, '"inhRelations"')) {
        if (!createTableMentions(statement, '"CONSTR_FOREIGN"')) return [];
        const referenced = foreignKeyTargets(statement);
        if (referenced) return foreignKeyLocks(createdRelation(statement), referenced);
      }
      return createTableLocks(statement.node);
    }
    case 'IndexStmt':
      return [table(statement.node.relation, statement.node.concurrent ? 'SHARE UPDATE EXCLUSIVE' : 'SHARE')];
    case 'CreateTrigStmt':
      return [table(statement.node.relation, 'SHARE ROW EXCLUSIVE')];
    case 'DropStmt':
      return dropLocks(statement.node.removeType, statement.node.objects, statement.node.concurrent === true, statement.node.behavior === 'DROP_CASCADE');
    case 'RenameStmt': {
      const rename = statement.node;
      // ALTER INDEX ... RENAME takes SHARE UPDATE EXCLUSIVE since PostgreSQL 12.
      if (rename.renameType === 'OBJECT_INDEX') return [lockOn(rename.relation, 'index', pgVersion >= 12 ? 'SHARE UPDATE EXCLUSIVE' : 'ACCESS EXCLUSIVE')];
      const kind = rename.renameType === 'OBJECT_COLUMN' ? relationKind(rename.relationType) : RENAMED_KINDS[rename.renameType ?? ''];
      return kind ? [lockOn(rename.relation, kind, 'ACCESS EXCLUSIVE')] : [];
    }
    case 'AlterObjectSchemaStmt': {
      const kind = relationKind(statement.node.objectType);
      return statement.node.relation && kind !== 'index' ? [lockOn(statement.node.relation, kind, 'ACCESS EXCLUSIVE')] : [];
    }
    case 'TruncateStmt':
      return rangeVars(statement.node.relations).map((relation) => table(relation, 'ACCESS EXCLUSIVE'));
    case 'VacuumStmt': {
      const vacuum = statement.node;
      // ANALYZE, and VACUUM without FULL, take SHARE UPDATE EXCLUSIVE.
      const mode = vacuum.is_vacuumcmd && optionIsOn(vacuum.options, 'full') ? 'ACCESS EXCLUSIVE' : 'SHARE UPDATE EXCLUSIVE';
      const nowait = optionIsOn(vacuum.options, 'skip_locked');
      const relations = (vacuum.rels ?? []).map((rel) => ('VacuumRelation' in rel ? tableOf(rel.VacuumRelation.relation) : undefined));
      return (relations.length ? relations : [undefined]).map((relation) => ({ relation, kind: 'table' as const, mode, ...(nowait ? { nowait } : {}) }));
    }
    case 'ClusterStmt':
      return [table(statement.node.relation, 'ACCESS EXCLUSIVE')];
    case 'ReindexStmt':
      return reindexLocks(statement.node.kind, statement.node.relation, optionIsOn(statement.node.params, 'concurrently'));
    case 'LockStmt': {
      const mode = LOCK_MODES[(statement.node.mode ?? 8) - 1] ?? 'ACCESS EXCLUSIVE';
      const nowait = statement.node.nowait === true;
      return rangeVars(statement.node.relations).map((relation) => ({ ...table(relation, mode), ...(nowait ? { nowait } : {}) }));
    }
    case 'RefreshMatViewStmt':
      return [lockOn(statement.node.relation, 'matview', statement.node.concurrent ? 'EXCLUSIVE' : 'ACCESS EXCLUSIVE')];
    case 'CreatePolicyStmt':
    case 'AlterPolicyStmt':
      return [table(statement.node.table, 'ACCESS EXCLUSIVE')];
    case 'RuleStmt':
      return [table(statement.node.relation, 'ACCESS EXCLUSIVE')];
    case 'AlterSeqStmt':
      // Conflicts with the ROW EXCLUSIVE lock nextval() takes: inserts that draw from it wait.
      return [lockOn(statement.node.sequence, 'sequence', 'SHARE ROW EXCLUSIVE')];
    case 'AlterDomainStmt': {
      // Checking the values (SET NOT NULL, a validated ADD CONSTRAINT, VALIDATE) locks every table that uses the domain SHARE.
      const alter = statement.node;
      const adds = alter.subtype === 'C' && alter.def !== undefined && 'Constraint' in alter.def && !alter.def.Constraint.skip_validation;
      return adds || alter.subtype === 'O' || alter.subtype === 'V' ? [{ relation: undefined, kind: 'table', mode: 'SHARE' }] : [];
    }
  }
}

function lockOn(relation: RangeVar | undefined, kind: RelationKind, mode: LockMode): RelationLock {
  return { relation: tableOf(relation), kind, mode };
}

function table(relation: RangeVar | undefined, mode: LockMode): RelationLock {
  return lockOn(relation, 'table', mode);
}

function rangeVars(nodes: readonly Node[] | undefined): RangeVar[] {
  return (nodes ?? []).flatMap((node) => ('RangeVar' in node ? [node.RangeVar] : []));
}

function relationKind(type: ObjectType | undefined): RelationKind {
  switch (type) {
    case 'OBJECT_INDEX':
      return 'index';
    case 'OBJECT_VIEW':
      return 'view';
    case 'OBJECT_MATVIEW':
      return 'matview';
    case 'OBJECT_SEQUENCE':
      return 'sequence';
    default:
      return 'table';
  }
}

/** RENAME forms that lock their relation ACCESS EXCLUSIVE (a trigger, policy, rule or constraint: its table). */
const RENAMED_KINDS: Readonly<Record<string, RelationKind>> = {
  OBJECT_TABLE: 'table',
  OBJECT_FOREIGN_TABLE: 'table',
  OBJECT_VIEW: 'view',
  OBJECT_MATVIEW: 'matview',
  OBJECT_SEQUENCE: 'sequence',
  OBJECT_TABCONSTRAINT: 'table',
  OBJECT_TRIGGER: 'table',
  OBJECT_POLICY: 'table',
  OBJECT_RULE: 'table',
};

const DROPPED_KINDS: Readonly<Record<string, RelationKind>> = {
  OBJECT_TABLE: 'table',
  OBJECT_FOREIGN_TABLE: 'table',
  OBJECT_VIEW: 'view',
  OBJECT_MATVIEW: 'matview',
  OBJECT_SEQUENCE: 'sequence',
};

/** DROP TRIGGER, POLICY and RULE name `[schema.]table.object`, and lock the table ACCESS EXCLUSIVE. */
const DROPPED_FROM_TABLE = new Set(['OBJECT_TRIGGER', 'OBJECT_POLICY', 'OBJECT_RULE']);

function dropLocks(type: ObjectType | undefined, objects: readonly Node[] | undefined, concurrent: boolean, cascade: boolean): RelationLock[] {
  if (type === 'OBJECT_INDEX') {
    // ... and its table, in the same mode; the index's lock already stops every query planned on the table.
    const mode = concurrent ? 'SHARE UPDATE EXCLUSIVE' : 'ACCESS EXCLUSIVE';
    return objectNames(objects).map((relation) => ({ relation, kind: 'index', mode }));
  }
  const kind = DROPPED_KINDS[type ?? ''];
  if (kind) return objectNames(objects).map((relation) => ({ relation, kind, mode: 'ACCESS EXCLUSIVE' }));
  if (DROPPED_FROM_TABLE.has(type ?? '')) {
    return (objects ?? []).flatMap((object) => {
      const parts = 'List' in object ? stringList(object.List.items) : [];
      const name = parts[parts.length - 2];
      if (name === undefined) return [];
      const relation = parts.length > 2 ? { schema: parts[parts.length - 3] as string, name } : { name };
      return [{ relation, kind: 'table' as const, mode: 'ACCESS EXCLUSIVE' as const }];
    });
  }
  // DROP SCHEMA ... CASCADE drops its tables.
  return type === 'OBJECT_SCHEMA' && cascade ? [{ relation: undefined, kind: 'table', mode: 'ACCESS EXCLUSIVE' }] : [];
}

function reindexLocks(kind: string | undefined, relation: RangeVar | undefined, concurrently: boolean): RelationLock[] {
  // REINDEX locks the table SHARE (writes wait) and each index it rebuilds ACCESS EXCLUSIVE (queries
  // planned on the table wait); CONCURRENTLY takes SHARE UPDATE EXCLUSIVE on both.
  const tableMode = concurrently ? 'SHARE UPDATE EXCLUSIVE' : 'SHARE';
  const indexMode = concurrently ? 'SHARE UPDATE EXCLUSIVE' : 'ACCESS EXCLUSIVE';
  if (kind === 'REINDEX_OBJECT_INDEX') return [lockOn(relation, 'index', indexMode)];
  const target = tableOf(relation);
  return [
    { relation: target, kind: 'table', mode: tableMode },
    { relation: target, kind: 'indexes', mode: indexMode },
  ];
}

/** Lock level of each ALTER TABLE form below ACCESS EXCLUSIVE (AlterTableGetLockLevel); any other form takes ACCESS EXCLUSIVE. */
const ALTER_TABLE_MODES: Readonly<Record<string, LockMode>> = {
  AT_SetStatistics: 'SHARE UPDATE EXCLUSIVE',
  AT_SetOptions: 'SHARE UPDATE EXCLUSIVE',
  AT_ResetOptions: 'SHARE UPDATE EXCLUSIVE',
  AT_ClusterOn: 'SHARE UPDATE EXCLUSIVE',
  AT_DropCluster: 'SHARE UPDATE EXCLUSIVE',
  AT_ValidateConstraint: 'SHARE UPDATE EXCLUSIVE',
  AT_DetachPartitionFinalize: 'SHARE UPDATE EXCLUSIVE',
  AT_EnableTrig: 'SHARE ROW EXCLUSIVE',
  AT_EnableAlwaysTrig: 'SHARE ROW EXCLUSIVE',
  AT_EnableReplicaTrig: 'SHARE ROW EXCLUSIVE',
  AT_EnableTrigAll: 'SHARE ROW EXCLUSIVE',
  AT_EnableTrigUser: 'SHARE ROW EXCLUSIVE',
  AT_DisableTrig: 'SHARE ROW EXCLUSIVE',
  AT_DisableTrigAll: 'SHARE ROW EXCLUSIVE',
  AT_DisableTrigUser: 'SHARE ROW EXCLUSIVE',
};

/** Storage parameters that need ACCESS EXCLUSIVE (reloptions.c); the others (fillfactor, autovacuum_*, toast.*, parallel_workers, ...) take SHARE UPDATE EXCLUSIVE. */
const EXCLUSIVE_RELOPTIONS = new Set([
  'autosummarize',
  'user_catalog_table',
  'fastupdate',
  'security_barrier',
  'security_invoker',
  'pages_per_range',
  'gin_pending_list_limit',
  'buffering',
  'check_option',
]);

function alterTableCommandMode(command: AlterTableCmd, pgVersion: number): LockMode {
  switch (command.subtype) {
    case 'AT_AddConstraint':
      // A foreign key takes SHARE ROW EXCLUSIVE (as CREATE TRIGGER), also NOT VALID; every other constraint ACCESS EXCLUSIVE.
      return addedConstraints(command)[0]?.contype === 'CONSTR_FOREIGN' ? 'SHARE ROW EXCLUSIVE' : 'ACCESS EXCLUSIVE';
    case 'AT_SetRelOptions':
    case 'AT_ResetRelOptions': {
      const options = command.def && 'List' in command.def ? (command.def.List.items ?? []) : [];
      const exclusive = options.length === 0 || options.some((option) => 'DefElem' in option && EXCLUSIVE_RELOPTIONS.has(option.DefElem.defname ?? ''));
      return exclusive ? 'ACCESS EXCLUSIVE' : 'SHARE UPDATE EXCLUSIVE';
    }
    case 'AT_AttachPartition':
      return pgVersion >= 12 ? 'SHARE UPDATE EXCLUSIVE' : 'ACCESS EXCLUSIVE';
    case 'AT_DetachPartition':
      return partitionCommand(command)?.concurrent ? 'SHARE UPDATE EXCLUSIVE' : 'ACCESS EXCLUSIVE';
    default:
      return ALTER_TABLE_MODES[command.subtype ?? ''] ?? 'ACCESS EXCLUSIVE';
  }
}

function partitionCommand(command: AlterTableCmd) {
  return command.def && 'PartitionCmd' in command.def ? command.def.PartitionCmd : undefined;
}

function alterTableLocks(node: AlterTableStmt, pgVersion: number): RelationLock[] {
  const commands = (node.cmds ?? []).flatMap((item) => ('AlterTableCmd' in item ? [item.AlterTableCmd] : []));
  // The statement locks its relation once, in the strongest mode any of its commands needs.
  let mode: LockMode = 'SHARE UPDATE EXCLUSIVE';
  const kind = relationKind(node.objtype);
  // ALTER INDEX ... ATTACH PARTITION attaches an index: the partition named is one too.
  const partitionKind = kind === 'index' ? 'index' : 'table';
  const others: RelationLock[] = [];
  for (const command of commands) {
    mode = stronger(mode, alterTableCommandMode(command, pgVersion));
    for (const constraint of addedConstraints(command)) {
      if (constraint?.contype === 'CONSTR_FOREIGN') others.push(table(constraint.pktable, 'SHARE ROW EXCLUSIVE'));
    }
    const partition = partitionCommand(command);
    if (command.subtype === 'AT_AttachPartition' || (command.subtype === 'AT_DetachPartition' && !partition?.concurrent)) {
      others.push(lockOn(partition?.name, partitionKind, 'ACCESS EXCLUSIVE'));
    } else if (command.subtype === 'AT_DetachPartition') {
      others.push(lockOn(partition?.name, partitionKind, 'SHARE UPDATE EXCLUSIVE'));
    }
  }
  return commands.length ? [lockOn(node.relation, kind, mode), ...others] : [];
}

function createTableLocks(node: CreateStmt): RelationLock[] {
  // PARTITION OF locks the parent ACCESS EXCLUSIVE; INHERITS, SHARE UPDATE EXCLUSIVE (DefineRelation).
  const locks = rangeVars(node.inhRelations).map((parent) => table(parent, node.partbound ? 'ACCESS EXCLUSIVE' : 'SHARE UPDATE EXCLUSIVE'));
  const constraints: Constraint[] = [];
  for (const element of node.tableElts ?? []) {
    if ('ColumnDef' in element) constraints.push(...columnConstraints(element.ColumnDef));
    else if ('Constraint' in element) constraints.push(element.Constraint);
  }
  const referenced = constraints.flatMap((constraint) => (constraint.contype === 'CONSTR_FOREIGN' && constraint.pktable ? [constraint.pktable] : []));
  return [...locks, ...foreignKeyLocks(node.relation, referenced)];
}

/** A foreign key adds triggers to the referenced table, under SHARE ROW EXCLUSIVE; one to the table being created takes nothing more. */
function foreignKeyLocks(createdTable: RangeVar | undefined, referenced: readonly RangeVar[]): RelationLock[] {
  const created = tableOf(createdTable);
  return referenced.flatMap((relation) => {
    const target = tableOf(relation);
    const self = target && created && target.name === created.name && target.schema === created.schema;
    return self ? [] : [table(relation, 'SHARE ROW EXCLUSIVE')];
  });
}
