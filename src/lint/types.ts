import type { MigrationPhase } from '../events.js';
import type { AlterTableCmd, Constraint, Node } from 'libpg-query';

/**
 * What a finding puts at risk: the code still running (compat), the site's reads and writes while
 * a lock is held (lock), heavy work proportional to the table (rewrite), the migration itself
 * failing half-way or not being re-runnable because of how it uses transactions (transaction), or
 * a schema style choice that costs later (hygiene: off unless the project turns it on).
 */
export type RuleCategory = 'compat' | 'lock' | 'rewrite' | 'transaction' | 'hygiene';
export type Severity = 'error' | 'warning';

/** Every statement node name the parser can produce (`AlterTableStmt`, `IndexStmt`, ...). */
export type NodeTypeName = Node extends infer N ? (N extends Record<infer K, unknown> ? K & string : never) : never;
export type NodeBody<K extends NodeTypeName> = Extract<Node, Record<K, unknown>>[K];

export interface LintSettings {
  /** Major PostgreSQL version the migrations will run on; decides which operations are cheap. */
  pgVersion: number;
  /** The migration runner wraps each file in one transaction (Flyway, dbmate by default). */
  transactionPerFile: boolean;
  /**
   * The runner sets a lock_timeout before the file's statements (ship does, for the migrations it
   * applies): each file starts with one in force, until the file itself sets it to 0 or resets it.
   */
  lockTimeoutPreset: boolean;
  /** Judge with the rules of category `hygiene` too (schema style: text over varchar(n), bigint keys, ...). */
  hygiene: boolean;
  /**
   * Statements that scan or rewrite a table under a blocking lock need a statement_timeout set in
   * the migration; false where the migration role has one (ALTER ROLE ... SET statement_timeout).
   */
  requireStatementTimeout: boolean;
}

export const DEFAULT_SETTINGS: LintSettings = { pgVersion: 15, transactionPerFile: false, lockTimeoutPreset: false, hygiene: false, requireStatementTimeout: true };

/** When a migration runs in a deploy (src/migrations/phase.ts); one type with the events that report it. */
export type { MigrationPhase } from '../events.js';

/** One parsed statement of a migration, with its place in the file. */
interface StatementBase {
  /** Byte offset of the statement's first token in the file. */
  readonly offset: number;
  /** Byte length of the statement (up to, not including, its semicolon). */
  readonly length: number;
  readonly index: number;
}

export type Statement<K extends NodeTypeName = NodeTypeName> = K extends NodeTypeName ? StatementBase & { readonly type: K; readonly node: NodeBody<K> } : never;

/** A table as migrations name it; `schema` is absent when the name was not qualified. */
export interface TableName {
  readonly schema?: string;
  readonly name: string;
}

/** What a rule may ask about the statements before the current one. */
export interface RuleContext {
  readonly settings: LintSettings;
  /** True while an explicit BEGIN is open, or the runner wraps the file in a transaction. */
  readonly inTransaction: boolean;
  /** A non-zero lock_timeout is in force for this statement. */
  readonly lockTimeoutSet: boolean;
  /** A non-zero statement_timeout is in force for this statement. */
  readonly statementTimeoutSet: boolean;
  /**
   * The file set the session's TimeZone to one at UTC's offset all year (SET TIME ZONE 'UTC'), in
   * force for this statement: from PostgreSQL 12 on, timestamp and timestamptz then convert
   * without a rewrite.
   */
  readonly timeZoneIsUtc: boolean;
  /** The runner wraps this file in a transaction of its own (settings.transactionPerFile, or the file's own marker). */
  readonly wrappedByRunner: boolean;
  /**
   * Byte offset in the file of the BEGIN that opened the transaction in progress; undefined when
   * none is open or the open one is the runner's (a BEGIN inside it opens nothing).
   */
  readonly transactionBegunAt: number | undefined;
  /** An existing table that DDL earlier in the open transaction locked (ALTER TABLE, CREATE INDEX, RENAME): its lock is held until COMMIT. */
  readonly tableLockedInTransaction: TableName | undefined;
  /** An ALTER TABLE earlier in this file changed this table, which the file did not create. */
  wasAlteredInFile(table: TableName): boolean;
  /** An earlier `DROP INDEX ... IF EXISTS` of this file named the index. */
  wasIndexDroppedIfExists(name: string): boolean;
  /** SET search_path ran earlier in this file: unqualified names resolve through it. */
  readonly searchPathSet: boolean;
  /** How the permanent tables created so far in this run (history included) were named: with a schema or without. */
  readonly createdTableNaming: { readonly qualified: number; readonly unqualified: number };
  /** The statement is the file's last: nothing runs after it in the file. */
  isLastStatement(statement: Statement): boolean;
  /** The statement's SQL as written (the parse tree has identifiers cut to 63 bytes, as PostgreSQL does). */
  statementText(statement: Statement): string;
  /**
   * The table (or materialized view, or sequence) was created earlier in this same migration file: the code
   * running does not use it yet, so locks on it block no one. It may hold rows (see isEmptyNewTable).
   */
  isNewTable(table: TableName | undefined): boolean;
  /**
   * A new table that is also empty: created without rows (not by CREATE TABLE AS, SELECT INTO or a
   * materialized view WITH DATA). Checking its rows (a foreign key, NOT NULL) costs nothing.
   */
  isEmptyNewTable(table: TableName | undefined): boolean;
  /**
   * The index was created earlier in this same migration file, on a table also new: locks on it
   * block no one. (An index is opened by every query planned on its table, so a new index on a live table is live.)
   */
  isNewIndex(name: string): boolean;
  /** A validated CHECK (column IS NOT NULL) exists on the column, seen in this run. */
  hasValidatedNotNullCheck(table: TableName, column: string): boolean;
  /** The constraint was added NOT VALID inside the transaction that is still open. */
  wasAddedNotValidInOpenTransaction(table: TableName, constraint: string): boolean;
  /** The table a foreign key added earlier in this file references. */
  foreignKeyTarget(table: TableName, constraint: string): TableName | undefined;
  /** The column's type as the migrations in this run declared it, when known. */
  columnType(table: TableName, column: string): ColumnTypeInfo | undefined;
  /**
   * Whether the column is NOT NULL as the migrations in this run left it (created so, by a primary
   * key, by SET / DROP NOT NULL), across files; undefined when they do not say.
   */
  columnNotNull(table: TableName, column: string): boolean | undefined;
}

/** A column type reduced to what type-change rules compare. */
export interface ColumnTypeInfo {
  /** Lower-case type name without the pg_catalog qualifier (`varchar`, `numeric`, `text`). */
  readonly name: string;
  /** Integer type modifiers (length, precision, scale); empty when unconstrained. */
  readonly modifiers: readonly number[];
  readonly isArray: boolean;
  /** Modifiers that are not plain integers (an expression): such a type is never judged safe. */
  readonly opaque: boolean;
}

/** An ALTER TABLE command subtype, or the type of a constraint a command adds. */
export type AlterTableCommandKind = NonNullable<AlterTableCmd['subtype']> | NonNullable<Constraint['contype']>;

export interface RuleHit {
  /** Replaces the rule's generic message with one naming the table/column. */
  readonly message?: string;
  /** Byte offset of the offending part (a constraint, a column); defaults to the statement start. */
  readonly offset?: number;
  /** Replaces the rule's safe alternative when the generic one would not work here (PostgreSQL would refuse it). */
  readonly safeAlternative?: string;
}

export interface LintRule<K extends NodeTypeName = NodeTypeName> {
  readonly id: string;
  readonly category: RuleCategory;
  /**
   * A `compat` rule whose hazard is to whatever code runs when the statement does, not only to the
   * old code (a NOT NULL column without a default: no running code writes it): it judges contract
   * migrations too. Every other compat rule leaves them alone, the old code being gone by then.
   */
  readonly judgesContract?: boolean;
  readonly severity: Severity;
  readonly message: string;
  /** The expand/contract steps that reach the same end without breaking running code or locking. */
  readonly safeAlternative: string;
  /** Only statements of these node types reach `check`: dispatch is a map lookup, not a scan. */
  readonly nodeTypes: readonly K[];
  /**
   * ALTER TABLE statements reach `check` only when one of their commands is one of these
   * (`AT_DropColumn`) or adds a constraint of one of these types (`CONSTR_FOREIGN`, also when
   * declared on an added column). Absent: every ALTER TABLE. Most ALTER TABLEs concern one or two
   * rules, and asking the other dozen was most of the judging time on a large migration.
   */
  readonly alterTableCommands?: readonly AlterTableCommandKind[];
  check(statement: Statement<K>, context: RuleContext): readonly RuleHit[];
  /**
   * Asked once after the file's last statement, for what only the whole file shows (a BEGIN never
   * committed). A hit's offset is a byte offset in the file.
   */
  atEndOfFile?(context: RuleContext): readonly RuleHit[];
}

export interface Finding {
  readonly ruleId: string;
  readonly category: RuleCategory;
  readonly severity: Severity;
  readonly message: string;
  readonly safeAlternative?: string;
  readonly file: string;
  /** 1-based line and column (in characters) of the offending code. */
  readonly line: number;
  readonly column: number;
  readonly sourceLine: string;
}

export interface SuppressedFinding extends Finding {
  readonly reason: string;
  readonly suppressionLine: number;
}

export interface LintReport {
  readonly files: readonly string[];
  readonly statementCount: number;
  readonly findings: readonly Finding[];
  readonly suppressed: readonly SuppressedFinding[];
  readonly errorCount: number;
  readonly warningCount: number;
  /**
   * Earlier migrations that were to be replayed for context but could not be (too large, a NUL
   * byte, the parser gave out): rules that need what they created may miss or misjudge things.
   */
  readonly skippedContext: readonly SkippedContext[];
}

export interface SkippedContext {
  readonly file: string;
  readonly reason: string;
}

/** A migration to lint: its path for messages and the SQL the runner would execute (up section only). */
export interface MigrationSource {
  readonly path: string;
  readonly sql: string;
  /** The runner wraps this file in a transaction; overrides the setting (dbmate `transaction:false`). */
  readonly transaction?: boolean;
  /** Absent: expand. A contract migration is not judged by the `compat` rules: the code it would break is gone. */
  readonly phase?: MigrationPhase;
  /**
   * Why the file cannot be linted (too large, a NUL byte, not a regular file: see sql-input.ts),
   * found when it was read; `sql` is then ''. Linting it refuses; as history it is skipped.
   */
  readonly problem?: string;
}
