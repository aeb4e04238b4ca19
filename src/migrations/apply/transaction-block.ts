/**
 * Statements PostgreSQL refuses inside a transaction block ("cannot run inside a transaction
 * block", PreventInTransactionBlock in its source), read from the parse tree. A file holding one
 * cannot be wrapped in a transaction: its statements run one by one, each committed on its own.
 */
type Node = Record<string, unknown>;

/** PostgreSQL 12 lets ALTER TYPE ... ADD VALUE run in a transaction block. */
const ENUM_ADD_VALUE_IN_TRANSACTION = 120000;

/** What makes the statement refuse a transaction block, in words for messages; undefined when it does not. */
export function refusesTransactionBlock(type: string, node: Node, serverVersionNum: number): string | undefined {
  switch (type) {
    case 'IndexStmt':
      return node.concurrent === true ? 'CREATE INDEX CONCURRENTLY' : undefined;
    case 'DropStmt':
      return node.concurrent === true ? 'DROP INDEX CONCURRENTLY' : undefined;
    case 'ReindexStmt':
      if (hasOption(node.params, 'concurrently')) return 'REINDEX CONCURRENTLY';
      return REINDEX_MANY[node.kind as string];
    case 'AlterTableStmt':
      return detachesConcurrently(node) ? 'DETACH PARTITION CONCURRENTLY' : undefined;
    case 'VacuumStmt':
      return node.is_vacuumcmd === true ? 'VACUUM' : undefined;
    case 'AlterDatabaseStmt':
      return hasOption(node.options, 'tablespace') ? 'ALTER DATABASE ... SET TABLESPACE' : undefined;
    case 'ClusterStmt':
      return node.relation === undefined ? 'CLUSTER of every clustered table' : undefined;
    case 'DiscardStmt':
      return node.target === 'DISCARD_ALL' ? 'DISCARD ALL' : undefined;
    case 'AlterSubscriptionStmt':
      return SUBSCRIPTION_REFRESHES.has(node.kind as string) ? 'ALTER SUBSCRIPTION ... REFRESH' : undefined;
    case 'AlterEnumStmt':
      return node.newVal !== undefined && node.oldVal === undefined && serverVersionNum < ENUM_ADD_VALUE_IN_TRANSACTION
        ? 'ALTER TYPE ... ADD VALUE before PostgreSQL 12'
        : undefined;
    default:
      return ALWAYS[type];
  }
}

const ALWAYS: Readonly<Record<string, string>> = {
  CreatedbStmt: 'CREATE DATABASE',
  DropdbStmt: 'DROP DATABASE',
  CreateTableSpaceStmt: 'CREATE TABLESPACE',
  DropTableSpaceStmt: 'DROP TABLESPACE',
  AlterSystemStmt: 'ALTER SYSTEM',
  // Only with a replication slot to create or drop, which is the default: decided without a server round trip.
  CreateSubscriptionStmt: 'CREATE SUBSCRIPTION',
  DropSubscriptionStmt: 'DROP SUBSCRIPTION',
};

const REINDEX_MANY: Readonly<Record<string, string>> = {
  REINDEX_OBJECT_SCHEMA: 'REINDEX SCHEMA',
  REINDEX_OBJECT_SYSTEM: 'REINDEX SYSTEM',
  REINDEX_OBJECT_DATABASE: 'REINDEX DATABASE',
};

/** Refreshing copies data through a new replication slot unless told not to: treated as always. */
const SUBSCRIPTION_REFRESHES = new Set([
  'ALTER_SUBSCRIPTION_REFRESH',
  'ALTER_SUBSCRIPTION_SET_PUBLICATION',
  'ALTER_SUBSCRIPTION_ADD_PUBLICATION',
  'ALTER_SUBSCRIPTION_DROP_PUBLICATION',
]);

function hasOption(options: unknown, name: string): boolean {
  return Array.isArray(options) && options.some((option) => (option as { DefElem?: { defname?: string } }).DefElem?.defname === name);
}

function detachesConcurrently(node: Node): boolean {
  const commands = Array.isArray(node.cmds) ? node.cmds : [];
  return commands.some((item) => {
    const command = (item as { AlterTableCmd?: { subtype?: string; def?: { PartitionCmd?: { concurrent?: boolean } } } }).AlterTableCmd;
    return command?.subtype === 'AT_DetachPartition' && command.def?.PartitionCmd?.concurrent === true;
  });
}
