import type { LintRule } from '../src/lint/types.js';
import addColumnVolatileDefault from './add-column-volatile-default.js';
import addJsonColumn from './add-json-column.js';
import addSerialColumn from './add-serial-column.js';
import addStoredGeneratedColumn from './add-stored-generated-column.js';
import alterDomainAddConstraint from './alter-domain-add-constraint.js';
import changeColumnType from './change-column-type.js';
import checkWithoutNotValid from './check-without-not-valid.js';
import cluster from './cluster.js';
import concurrentlyInTransaction from './concurrently-in-transaction.js';
import createDomainWithCheck from './create-domain-with-check.js';
import createIndexWithoutConcurrently from './create-index-without-concurrently.js';
import detachPartitionWithoutConcurrently from './detach-partition-without-concurrently.js';
import dropColumn from './drop-column.js';
import dropDatabase from './drop-database.js';
import dropIndexWithoutConcurrently from './drop-index-without-concurrently.js';
import dropNotNull from './drop-not-null.js';
import dropTable from './drop-table.js';
import exclusionConstraint from './exclusion-constraint.js';
import foreignKeyWithoutNotValid from './foreign-key-without-not-valid.js';
import identifierTooLong from './identifier-too-long.js';
import indexTooManyColumns from './index-too-many-columns.js';
import notNullColumnWithoutDefault from './not-null-column-without-default.js';
import notRerunnableOutsideTransaction from './not-rerunnable-outside-transaction.js';
import preferBigintForKeys from './prefer-bigint-for-keys.js';
import preferIdentity from './prefer-identity.js';
import preferJsonb from './prefer-jsonb.js';
import preferTextOverVarchar from './prefer-text-over-varchar.js';
import preferTimestamptz from './prefer-timestamptz.js';
import primaryKeyOnExistingTable from './primary-key-on-existing-table.js';
import reindexWithoutConcurrently from './reindex-without-concurrently.js';
import renameColumn from './rename-column.js';
import renameEnumValue from './rename-enum-value.js';
import renameSchema from './rename-schema.js';
import renameTable from './rename-table.js';
import requireLockTimeout from './require-lock-timeout.js';
import requireStatementTimeout from './require-statement-timeout.js';
import setNotNull from './set-not-null.js';
import tableWithoutSchema from './table-without-schema.js';
import transactionNesting from './transaction-nesting.js';
import truncateCascade from './truncate-cascade.js';
import unbatchedBackfill from './unbatched-backfill.js';
import uncommittedTransaction from './uncommitted-transaction.js';
import uniqueConstraintWithoutIndex from './unique-constraint-without-index.js';
import vacuumFull from './vacuum-full.js';
import validateInSameTransaction from './validate-in-same-transaction.js';

/** Every migration lint rule, in the order findings for one statement are reported. */
export const allRules: readonly LintRule[] = [
  dropColumn,
  dropTable,
  dropDatabase,
  renameColumn,
  renameTable,
  renameSchema,
  renameEnumValue,
  changeColumnType,
  notNullColumnWithoutDefault,
  setNotNull,
  dropNotNull,
  addColumnVolatileDefault,
  addStoredGeneratedColumn,
  addSerialColumn,
  addJsonColumn,
  createIndexWithoutConcurrently,
  indexTooManyColumns,
  dropIndexWithoutConcurrently,
  concurrentlyInTransaction,
  transactionNesting,
  uncommittedTransaction,
  notRerunnableOutsideTransaction,
  reindexWithoutConcurrently,
  detachPartitionWithoutConcurrently,
  foreignKeyWithoutNotValid,
  checkWithoutNotValid,
  validateInSameTransaction,
  uniqueConstraintWithoutIndex,
  primaryKeyOnExistingTable,
  exclusionConstraint,
  createDomainWithCheck,
  alterDomainAddConstraint,
  vacuumFull,
  cluster,
  truncateCascade,
  unbatchedBackfill,
  requireLockTimeout,
  requireStatementTimeout,
  preferJsonb,
  preferTextOverVarchar,
  preferTimestamptz,
  preferIdentity,
  preferBigintForKeys,
  identifierTooLong,
  tableWithoutSchema,
] as readonly LintRule[];
