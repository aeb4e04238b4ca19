import { notNullColumns, objectNames, tableKey, tableOf, typeInfo } from './ast.js';
import type { CreateStmt, VariableSetStmt } from 'libpg-query';
import type { SourceMap } from './source-map.js';
import { createdRelation } from './statements.js';
import type { ColumnTypeInfo, LintSettings, RuleContext, Statement, TableName } from './types.js';

type ColumnTypes = Map<string, ColumnTypeInfo>;

/**
 * What the migrations of one lint run have established so far, across files: validated
 * NOT NULL checks and declared column types outlive the file that made them.
 */
export class RunState {
  readonly validatedNotNull = new Set<string>();
  /** `table|constraint` → columns a NOT VALID CHECK constraint would prove NOT NULL once validated. */
  readonly pendingNotNullChecks = new Map<string, string[]>();
  /** `schema.table` → its columns' types; a function for a created table not looked at since (see `columnsOf`). */
  private readonly columnTypes = new Map<string, ColumnTypes | (() => ColumnTypes)>();
  /** Permanent tables created so far, named with a schema or without: whether the project qualifies its table names. */
  readonly createdTableNaming = { qualified: 0, unqualified: 0 };

  /** The column types of a table, read from its CREATE TABLE the first time something asks. */
  columnsOf(table: string): ColumnTypes | undefined {
    const columns = this.columnTypes.get(table);
    if (typeof columns !== 'function') return columns;
    const read = columns();
    this.columnTypes.set(table, read);
    return read;
  }

  setColumns(table: string, columns: ColumnTypes | (() => ColumnTypes)): void {
    this.columnTypes.set(table, columns);
  }

  forgetTable(table: string): void {
    this.columnTypes.delete(table);
  }

  /** A copy to lint a file against when the lint may have to start that file over (see engine.ts). */
  copy(): RunState {
    const copy = new RunState();
    copy.adopt(this);
    return copy;
  }

  /** Takes over what `other` knows, replacing what this one knew. */
  adopt(other: RunState): void {
    if (other === this) return;
    this.validatedNotNull.clear();
    this.pendingNotNullChecks.clear();
    this.columnTypes.clear();
    this.createdTableNaming.qualified = other.createdTableNaming.qualified;
    this.createdTableNaming.unqualified = other.createdTableNaming.unqualified;
    for (const key of other.validatedNotNull) this.validatedNotNull.add(key);
    for (const [key, columns] of other.pendingNotNullChecks) this.pendingNotNullChecks.set(key, columns);
    // Observing a statement changes a table's column map in place: copy each. A deferred one makes a new map when called.
    for (const [table, columns] of other.columnTypes) this.columnTypes.set(table, typeof columns === 'function' ? columns : new Map(columns));
  }
}

function columnKey(table: TableName, column: string): string {
  return `${tableKey(table)}|${column}`;
}

function constraintKey(table: TableName, constraint: string): string {
  return `${tableKey(table)}|${constraint}`;
}

const ZERO_DURATION = /^\s*0+(\.0+)?\s*(ms|s|min|h|d)?\s*$/i;

/** Renames that lock the table they name ACCESS EXCLUSIVE (RENAME CONSTRAINT leaves relationType unset). */
const TABLE_RENAMES: ReadonlySet<string> = new Set(['OBJECT_TABLE', 'OBJECT_COLUMN', 'OBJECT_TABCONSTRAINT']);

/** Statement types `FileContext.observe` learns from; every other type leaves the context as it was. */
export const OBSERVED_NODE_TYPES: ReadonlySet<string> = new Set([
  'TransactionStmt',
  'VariableSetStmt',
  'CreateStmt',
  'CreateTableAsStmt',
  'IndexStmt',
  'AlterTableStmt',
  'RenameStmt',
  'DropStmt',
]);

/** A timeout setting as SET and SET LOCAL leave it: SET LOCAL lasts until the transaction ends, SET until the session does. */
class Timeout {
  private session = false;
  private transaction: boolean | undefined;

  get active(): boolean {
    return this.transaction ?? this.session;
  }

  set(set: VariableSetStmt, inTransaction: boolean): void {
    const value = set.args?.[0];
    const isZero = value !== undefined && 'A_Const' in value && isZeroConstant(value.A_Const);
    const active = set.kind === 'VAR_SET_VALUE' && !isZero;
    if (set.is_local) {
      if (inTransaction) this.transaction = active;
    } else {
      // A plain SET overrides an earlier SET LOCAL of the same transaction and outlives it.
      this.session = active;
      this.transaction = undefined;
    }
  }

  endTransaction(): void {
    this.transaction = undefined;
  }
}

/** The state one migration file builds up statement by statement; rules read it before `observe` moves it on. */
export class FileContext implements RuleContext {
  inTransaction: boolean;
  readonly wrappedByRunner: boolean;
  transactionBegunAt: number | undefined;
  tableLockedInTransaction: TableName | undefined;
  searchPathSet = false;
  /** Byte offset in the file of the part being judged: a large file is parsed and judged in parts. */
  private partBase = 0;
  /** Index of the file's last statement when the part being judged holds it, else -1. */
  private lastStatementIndex = -1;
  private readonly lockTimeout = new Timeout();
  private readonly statementTimeout = new Timeout();
  /** Existing tables (not created in the file) that an ALTER TABLE of the file changed. */
  private readonly alteredTables = new Set<string>();
  private readonly indexesDroppedIfExists = new Set<string>();
  private readonly createdTables = new Set<string>();
  /** Unqualified names of every table created in the file, even if dropped since: a cheap first check for isNewTable. */
  private readonly createdTableNames = new Set<string>();
  private readonly createdIndexes = new Set<string>();
  private readonly notValidInTransaction = new Set<string>();

  constructor(
    readonly settings: LintSettings,
    private readonly run: RunState,
    wrappedInTransaction: boolean,
    /** The file's text; absent when the file is only replayed for context. */
    private readonly source?: SourceMap,
  ) {
    this.inTransaction = wrappedInTransaction;
    this.wrappedByRunner = wrappedInTransaction;
  }

  /** Called before judging a part of the file: where it starts, and the index of the file's last statement if the part holds it (else -1). */
  enterPart(base: number, lastStatementIndex: number): void {
    this.partBase = base;
    this.lastStatementIndex = lastStatementIndex;
  }

  get lockTimeoutSet(): boolean {
    return this.lockTimeout.active;
  }

  get statementTimeoutSet(): boolean {
    return this.statementTimeout.active;
  }

  get createdTableNaming(): { readonly qualified: number; readonly unqualified: number } {
    return this.run.createdTableNaming;
  }

  wasAlteredInFile(table: TableName): boolean {
    return this.alteredTables.has(tableKey(table));
  }

  wasIndexDroppedIfExists(name: string): boolean {
    return this.indexesDroppedIfExists.has(name);
  }

  isLastStatement(statement: Statement): boolean {
    return statement.index === this.lastStatementIndex;
  }

  statementText(statement: Statement): string {
    return this.source?.textAt(this.partBase + statement.offset, statement.length) ?? '';
  }

  isNewTable(table: TableName | undefined): boolean {
    // Called by most rules for most statements, which name tables the file did not create: skip building the key.
    return table !== undefined && this.createdTableNames.has(table.name) && this.createdTables.has(tableKey(table));
  }

  isNewIndex(name: string): boolean {
    return this.createdIndexes.has(name);
  }

  hasValidatedNotNullCheck(table: TableName, column: string): boolean {
    return this.run.validatedNotNull.has(columnKey(table, column));
  }

  wasAddedNotValidInOpenTransaction(table: TableName, constraint: string): boolean {
    return this.inTransaction && this.notValidInTransaction.has(constraintKey(table, constraint));
  }

  columnType(table: TableName, column: string): ColumnTypeInfo | undefined {
    return this.run.columnsOf(tableKey(table))?.get(column);
  }

  /** Moves the state past `statement`. Called after the rules have judged it. */
  observe(statement: Statement): void {
    switch (statement.type) {
      case 'TransactionStmt':
        this.observeTransaction(statement.node.kind, this.partBase + statement.offset);
        return;
      case 'VariableSetStmt': {
        const set = statement.node;
        if (set.name === 'lock_timeout') this.lockTimeout.set(set, this.inTransaction);
        else if (set.name === 'statement_timeout') this.statementTimeout.set(set, this.inTransaction);
        else if (set.name === 'search_path' && set.kind === 'VAR_SET_VALUE') this.searchPathSet = true;
        return;
      }
      case 'CreateStmt': {
        const relation = createdRelation(statement);
        const table = tableOf(relation);
        if (!table) return;
        if (relation?.relpersistence !== 't') {
          if (table.schema) this.run.createdTableNaming.qualified++;
          else this.run.createdTableNaming.unqualified++;
        }
        this.addCreatedTable(table);
        // Most created tables never have a column altered later in the run: read the column
        // definitions (most of a CREATE TABLE's tree) only when one is.
        this.run.setColumns(tableKey(table), () => declaredColumnTypes(statement.node));
        return;
      }
      case 'CreateTableAsStmt': {
        const table = tableOf(statement.node.into?.rel);
        if (table) this.addCreatedTable(table);
        return;
      }
      case 'IndexStmt': {
        const index = statement.node;
        if (index.idxname) this.createdIndexes.add(index.idxname);
        if (!index.concurrent) this.lockInTransaction(tableOf(index.relation));
        return;
      }
      case 'AlterTableStmt':
        this.observeAlterTable(statement as Statement<'AlterTableStmt'>);
        return;
      case 'RenameStmt': {
        const rename = statement.node;
        const table = tableOf(rename.relation);
        if (!table || !rename.newname) return;
        if (TABLE_RENAMES.has(rename.renameType ?? '')) this.lockInTransaction(table);
        const columns = this.run.columnsOf(tableKey(table));
        if (rename.renameType === 'OBJECT_COLUMN' && columns && rename.subname) {
          const type = columns.get(rename.subname);
          columns.delete(rename.subname);
          if (type) columns.set(rename.newname, type);
        } else if (rename.renameType === 'OBJECT_TABLE') {
          const renamed = { ...(table.schema ? { schema: table.schema } : {}), name: rename.newname };
          if (columns) this.run.setColumns(tableKey(renamed), columns);
          this.run.forgetTable(tableKey(table));
          if (this.createdTables.delete(tableKey(table))) this.addCreatedTable(renamed);
        }
        return;
      }
      case 'DropStmt':
        if (statement.node.removeType === 'OBJECT_INDEX' && statement.node.missing_ok) {
          for (const index of objectNames(statement.node.objects)) this.indexesDroppedIfExists.add(index.name);
        }
        if (statement.node.removeType !== 'OBJECT_TABLE') return;
        for (const table of objectNames(statement.node.objects)) {
          this.run.forgetTable(tableKey(table));
          this.createdTables.delete(tableKey(table));
        }
        return;
      default:
        return;
    }
  }

  private addCreatedTable(table: TableName): void {
    this.createdTables.add(tableKey(table));
    this.createdTableNames.add(table.name);
  }

  private observeTransaction(kind: string | undefined, offset: number): void {
    if (kind === 'TRANS_STMT_BEGIN' || kind === 'TRANS_STMT_START') {
      // A BEGIN inside a transaction only draws a warning from PostgreSQL: the open one goes on.
      if (!this.inTransaction) this.transactionBegunAt = offset;
      this.inTransaction = true;
    } else if (kind === 'TRANS_STMT_COMMIT' || kind === 'TRANS_STMT_ROLLBACK' || kind === 'TRANS_STMT_PREPARE') {
      this.inTransaction = false;
      this.transactionBegunAt = undefined;
      this.tableLockedInTransaction = undefined;
      this.lockTimeout.endTransaction();
      this.statementTimeout.endTransaction();
      this.notValidInTransaction.clear();
    }
  }

  /** DDL on `table` in an open transaction keeps its lock until COMMIT; a table created in the file locks nobody out. */
  private lockInTransaction(table: TableName | undefined): void {
    if (this.inTransaction && table && !this.tableLockedInTransaction && !this.isNewTable(table)) this.tableLockedInTransaction = table;
  }

  private observeAlterTable(statement: Statement<'AlterTableStmt'>): void {
    const table = tableOf(statement.node.relation);
    if (!table) return;
    const key = tableKey(table);
    if (statement.node.objtype === 'OBJECT_TABLE' && !this.isNewTable(table)) {
      this.alteredTables.add(key);
      this.lockInTransaction(table);
    }
    for (const item of statement.node.cmds ?? []) {
      if (!('AlterTableCmd' in item)) continue;
      const command = item.AlterTableCmd;
      const def = command.def;
      switch (command.subtype) {
        case 'AT_AddColumn':
          if (def && 'ColumnDef' in def && def.ColumnDef.colname) this.setColumnType(key, def.ColumnDef.colname, typeInfo(def.ColumnDef.typeName));
          break;
        case 'AT_AlterColumnType':
          if (def && 'ColumnDef' in def && command.name) this.setColumnType(key, command.name, typeInfo(def.ColumnDef.typeName));
          break;
        case 'AT_DropColumn':
          if (command.name) this.run.columnsOf(key)?.delete(command.name);
          break;
        case 'AT_AddConstraint': {
          if (!def || !('Constraint' in def)) break;
          const constraint = def.Constraint;
          if (constraint.skip_validation && constraint.conname) this.notValidInTransaction.add(constraintKey(table, constraint.conname));
          if (constraint.contype !== 'CONSTR_CHECK') break;
          const columns = notNullColumns(constraint.raw_expr);
          if (!constraint.skip_validation) {
            for (const column of columns) this.run.validatedNotNull.add(columnKey(table, column));
          } else if (constraint.conname && columns.length) {
            this.run.pendingNotNullChecks.set(constraintKey(table, constraint.conname), columns);
          }
          break;
        }
        case 'AT_ValidateConstraint': {
          if (!command.name) break;
          const columns = this.run.pendingNotNullChecks.get(constraintKey(table, command.name));
          for (const column of columns ?? []) this.run.validatedNotNull.add(columnKey(table, column));
          break;
        }
        default:
          break;
      }
    }
  }

  private setColumnType(tableKeyValue: string, column: string, type: ColumnTypeInfo | undefined): void {
    let columns = this.run.columnsOf(tableKeyValue);
    if (!columns) {
      columns = new Map();
      this.run.setColumns(tableKeyValue, columns);
    }
    if (type) columns.set(column, type);
    else columns.delete(column);
  }
}

function declaredColumnTypes(node: CreateStmt): ColumnTypes {
  const columns: ColumnTypes = new Map();
  for (const element of node.tableElts ?? []) {
    if (!('ColumnDef' in element)) continue;
    const type = typeInfo(element.ColumnDef.typeName);
    if (element.ColumnDef.colname && type) columns.set(element.ColumnDef.colname, type);
  }
  return columns;
}

function isZeroConstant(constant: { ival?: { ival?: number }; sval?: { sval?: string } }): boolean {
  if (constant.ival) return (constant.ival.ival ?? 0) === 0;
  if (constant.sval) return ZERO_DURATION.test(constant.sval.sval ?? '');
  return false;
}
