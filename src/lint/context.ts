import { declaresNotNull, notNullColumns, objectNames, stringList, tableKey, tableOf, typeInfo } from './ast.js';
import type { ColumnDef, Constraint, CreateStmt, IntoClause, Node, VariableSetStmt } from 'libpg-query';
import type { SourceMap } from './source-map.js';
import { createdRelation } from './statements.js';
import type { ColumnTypeInfo, LintSettings, RuleContext, Statement, TableName } from './types.js';

/** What the migrations say about one column; what they leave unsaid is undefined. Never changed in place (see `adopt`). */
interface ColumnFacts {
  readonly type?: ColumnTypeInfo;
  readonly notNull?: boolean;
}

type Columns = Map<string, ColumnFacts>;

/**
 * What the migrations of one lint run have established so far, across files: validated
 * NOT NULL checks, declared column types and nullability outlive the file that made them.
 */
export class RunState {
  readonly validatedNotNull = new Set<string>();
  /** `table|constraint` → columns a NOT VALID CHECK constraint would prove NOT NULL once validated. */
  readonly pendingNotNullChecks = new Map<string, string[]>();
  /** `schema.table` → what is known of its columns; a function for a created table not looked at since (see `columnsOf`). */
  private readonly columnTypes = new Map<string, Columns | (() => Columns)>();
  /** Permanent tables created so far, named with a schema or without: whether the project qualifies its table names. */
  readonly createdTableNaming = { qualified: 0, unqualified: 0 };

  /** What is known of a table's columns, read from its CREATE TABLE the first time something asks. */
  columnsOf(table: string): Columns | undefined {
    const columns = this.columnTypes.get(table);
    if (typeof columns !== 'function') return columns;
    const read = columns();
    this.columnTypes.set(table, read);
    return read;
  }

  setColumns(table: string, columns: Columns | (() => Columns)): void {
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
  // SELECT ... INTO creates a table: the raw parse tree keeps it a SELECT.
  'SelectStmt',
  'CreateSeqStmt',
  'IndexStmt',
  'AlterTableStmt',
  'RenameStmt',
  'DropStmt',
]);

/** A non-zero timeout. */
function timeoutIsOn(value: Node | undefined): boolean {
  return !(value !== undefined && 'A_Const' in value && isZeroConstant(value.A_Const));
}

/**
 * Time zones at UTC's offset all year, as PostgreSQL names them (case-insensitively): with one of
 * these as the session's TimeZone, ALTER COLUMN ... TYPE between timestamp and timestamptz keeps
 * the rows as they are (PostgreSQL 12 on; TimestampTimestampTzRequiresRewrite asks for a zone whose
 * offset is fixed at 0).
 */
const UTC_ZONES: ReadonlySet<string> = new Set(
  ['UTC', 'UCT', 'GMT', 'GMT0', 'GMT+0', 'GMT-0', 'Greenwich', 'Universal', 'Zulu'].flatMap((zone) => [zone, `Etc/${zone}`]).map((zone) => zone.toLowerCase()),
);

/** SET TIME ZONE 'UTC' (or another name of it), or the offset 0. */
function timeZoneIsUtc(value: Node | undefined): boolean {
  if (value === undefined || !('A_Const' in value)) return false;
  const constant = value.A_Const as { ival?: { ival?: number }; sval?: { sval?: string } };
  if (constant.ival) return (constant.ival.ival ?? 0) === 0;
  return UTC_ZONES.has((constant.sval?.sval ?? '').trim().toLowerCase());
}

/**
 * A setting as SET and SET LOCAL leave it, on or off: SET LOCAL lasts until the transaction ends,
 * SET until the session does. `isOn` tells from the value SET gives it (a timeout is on unless 0).
 */
class Setting {
  private transaction: boolean | undefined;

  /** `session`: in force from the start, when the runner sets it before the file (lockTimeoutPreset). */
  constructor(
    private session = false,
    private readonly isOn: (value: Node | undefined) => boolean = timeoutIsOn,
  ) {}

  get active(): boolean {
    return this.transaction ?? this.session;
  }

  set(set: VariableSetStmt, inTransaction: boolean): void {
    const active = set.kind === 'VAR_SET_VALUE' && this.isOn(set.args?.[0]);
    if (set.is_local) {
      if (inTransaction) this.transaction = active;
    } else {
      // A plain SET overrides an earlier SET LOCAL of the same transaction and outlives it.
      this.session = active;
      this.transaction = undefined;
    }
  }

  /** RESET ALL takes it back to the server's default (none, unless configured there). */
  reset(): void {
    this.session = false;
    this.transaction = undefined;
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
  private readonly lockTimeout: Setting;
  private readonly statementTimeout = new Setting();
  private readonly timeZone = new Setting(false, timeZoneIsUtc);
  /** Existing tables (not created in the file) that an ALTER TABLE of the file changed. */
  private readonly alteredTables = new Set<string>();
  private readonly indexesDroppedIfExists = new Set<string>();
  private readonly createdTables = new Set<string>();
  /** Unqualified names of every table created in the file, even if dropped since: a cheap first check for isNewTable. */
  private readonly createdTableNames = new Set<string>();
  /** Created tables filled as they were made (CREATE TABLE AS, SELECT INTO, a materialized view): new, yet not empty. */
  private readonly populatedTables = new Set<string>();
  /** Index name → its table, for each index created in the file. */
  private readonly createdIndexes = new Map<string, TableName | undefined>();
  private readonly notValidInTransaction = new Set<string>();
  /** `table|constraint` → the table a foreign key added in this file references. */
  private readonly foreignKeyTargets = new Map<string, TableName>();

  constructor(
    readonly settings: LintSettings,
    private readonly run: RunState,
    wrappedInTransaction: boolean,
    /** The file's text; absent when the file is only replayed for context. */
    private readonly source?: SourceMap,
  ) {
    this.inTransaction = wrappedInTransaction;
    this.wrappedByRunner = wrappedInTransaction;
    this.lockTimeout = new Setting(settings.lockTimeoutPreset);
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

  get timeZoneIsUtc(): boolean {
    return this.timeZone.active;
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

  isEmptyNewTable(table: TableName | undefined): boolean {
    return this.isNewTable(table) && !this.populatedTables.has(tableKey(table as TableName));
  }

  isNewIndex(name: string): boolean {
    // A new index on a live table is not new to its queries: the planner opens every index of the tables it reads.
    return this.isNewTable(this.createdIndexes.get(name));
  }

  hasValidatedNotNullCheck(table: TableName, column: string): boolean {
    return this.run.validatedNotNull.has(columnKey(table, column));
  }

  wasAddedNotValidInOpenTransaction(table: TableName, constraint: string): boolean {
    return this.inTransaction && this.notValidInTransaction.has(constraintKey(table, constraint));
  }

  foreignKeyTarget(table: TableName, constraint: string): TableName | undefined {
    return this.foreignKeyTargets.get(constraintKey(table, constraint));
  }

  columnType(table: TableName, column: string): ColumnTypeInfo | undefined {
    return this.run.columnsOf(tableKey(table))?.get(column)?.type;
  }

  columnNotNull(table: TableName, column: string): boolean | undefined {
    return this.run.columnsOf(tableKey(table))?.get(column)?.notNull;
  }

  /** Moves the state past `statement`. Called after the rules have judged it. */
  observe(statement: Statement): void {
    switch (statement.type) {
      case 'TransactionStmt':
        this.observeTransaction(statement.node.kind, this.partBase + statement.offset);
        return;
      case 'VariableSetStmt': {
        const set = statement.node;
        if (set.kind === 'VAR_RESET_ALL') {
          this.lockTimeout.reset();
          this.statementTimeout.reset();
          this.timeZone.reset();
        } else if (set.name === 'lock_timeout') this.lockTimeout.set(set, this.inTransaction);
        else if (set.name === 'statement_timeout') this.statementTimeout.set(set, this.inTransaction);
        else if (set.name === 'timezone') this.timeZone.set(set, this.inTransaction);
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
        this.addCreatedTable(table, false);
        // Most created tables never have a column altered later in the run: read the column
        // definitions (most of a CREATE TABLE's tree) only when one is.
        this.run.setColumns(tableKey(table), () => declaredColumns(statement.node));
        return;
      }
      case 'CreateTableAsStmt': {
        const into = statement.node.into;
        const table = tableOf(into?.rel);
        if (!table) return;
        // WITH NO DATA makes an empty table (or a materialized view no one can read until refreshed).
        this.addCreatedTable(table, into?.skipData !== true);
        this.run.setColumns(tableKey(table), selectedColumns(into, statement.node.query));
        return;
      }
      case 'SelectStmt': {
        // In a UNION the INTO sits on the leftmost SELECT.
        let select = statement.node;
        while (!select.intoClause && select.larg) select = select.larg;
        const table = tableOf(select.intoClause?.rel);
        if (!table) return;
        this.addCreatedTable(table, true);
        this.run.setColumns(tableKey(table), selectedColumns(select.intoClause, { SelectStmt: select }));
        return;
      }
      case 'CreateSeqStmt': {
        // A new sequence is drawn from by no running code: ALTER SEQUENCE ... OWNED BY after it locks no one out.
        const sequence = tableOf(statement.node.sequence);
        if (sequence) this.addCreatedTable(sequence, false);
        return;
      }
      case 'IndexStmt': {
        const index = statement.node;
        if (index.idxname) this.createdIndexes.set(index.idxname, tableOf(index.relation));
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
          const facts = columns.get(rename.subname);
          columns.delete(rename.subname);
          if (facts) columns.set(rename.newname, facts);
        } else if (rename.renameType === 'OBJECT_TABLE') {
          const renamed = { ...(table.schema ? { schema: table.schema } : {}), name: rename.newname };
          if (columns) this.run.setColumns(tableKey(renamed), columns);
          this.run.forgetTable(tableKey(table));
          if (this.createdTables.delete(tableKey(table))) this.addCreatedTable(renamed, this.populatedTables.delete(tableKey(table)));
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
          this.populatedTables.delete(tableKey(table));
        }
        return;
      default:
        return;
    }
  }

  private addCreatedTable(table: TableName, populated: boolean): void {
    const key = tableKey(table);
    this.createdTables.add(key);
    this.createdTableNames.add(table.name);
    if (populated) this.populatedTables.add(key);
    else this.populatedTables.delete(key);
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
      this.timeZone.endTransaction();
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
          if (def && 'ColumnDef' in def && def.ColumnDef.colname) this.setColumn(key, def.ColumnDef.colname, columnFacts(def.ColumnDef, true));
          break;
        case 'AT_AlterColumnType':
          if (def && 'ColumnDef' in def && command.name) this.updateColumn(key, command.name, { type: typeInfo(def.ColumnDef.typeName) });
          break;
        case 'AT_SetNotNull':
        case 'AT_DropNotNull':
          if (command.name) this.updateColumn(key, command.name, { notNull: command.subtype === 'AT_SetNotNull' });
          break;
        case 'AT_DropColumn':
          if (command.name) this.run.columnsOf(key)?.delete(command.name);
          break;
        case 'AT_AddConstraint': {
          if (!def || !('Constraint' in def)) break;
          const constraint = def.Constraint;
          if (constraint.skip_validation && constraint.conname) this.notValidInTransaction.add(constraintKey(table, constraint.conname));
          const referenced = tableOf(constraint.pktable);
          if (constraint.contype === 'CONSTR_FOREIGN' && constraint.conname && referenced) this.foreignKeyTargets.set(constraintKey(table, constraint.conname), referenced);
          for (const column of keysMadeNotNull(constraint)) this.updateColumn(key, column, { notNull: true });
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

  private setColumn(tableKeyValue: string, column: string, facts: ColumnFacts): void {
    let columns = this.run.columnsOf(tableKeyValue);
    if (!columns) {
      columns = new Map();
      this.run.setColumns(tableKeyValue, columns);
    }
    columns.set(column, facts);
  }

  /** Changes some facts of a column and keeps the others (a new type keeps NOT NULL). */
  private updateColumn(tableKeyValue: string, column: string, change: ColumnFacts): void {
    this.setColumn(tableKeyValue, column, { ...this.run.columnsOf(tableKeyValue)?.get(column), ...change });
  }
}

/**
 * A column as declared: its type, and whether it is NOT NULL. `ownColumn`: false for a column
 * that may merge with an inherited one (INHERITS, PARTITION OF), which may bring NOT NULL along.
 */
function columnFacts(column: ColumnDef, ownColumn: boolean): ColumnFacts {
  const notNull = declaresNotNull(column) || (ownColumn ? false : undefined);
  return { type: typeInfo(column.typeName), ...(notNull === undefined ? {} : { notNull }) };
}

function declaredColumns(node: CreateStmt): Columns {
  const columns: Columns = new Map();
  const inherits = (node.inhRelations?.length ?? 0) > 0;
  for (const element of node.tableElts ?? []) {
    if ('ColumnDef' in element && element.ColumnDef.colname) columns.set(element.ColumnDef.colname, columnFacts(element.ColumnDef, !inherits));
  }
  // Table constraints come after the columns: PRIMARY KEY (a, b) and NOT NULL a make their columns NOT NULL.
  for (const element of node.tableElts ?? []) {
    if (!('Constraint' in element)) continue;
    for (const column of keysMadeNotNull(element.Constraint)) columns.set(column, { ...columns.get(column), notNull: true });
  }
  return columns;
}

/** The columns a table constraint makes NOT NULL: those of a PRIMARY KEY, or of a NOT NULL constraint (PostgreSQL 18). */
function keysMadeNotNull(constraint: Constraint): string[] {
  return constraint.contype === 'CONSTR_PRIMARY' || constraint.contype === 'CONSTR_NOTNULL' ? stringList(constraint.keys) : [];
}

/**
 * The columns of a table made from a query (CREATE TABLE AS, SELECT INTO), all nullable: a query
 * result carries no NOT NULL. Named by the column list, else by each selected column's name or alias
 * (`*` and unnamed expressions name nothing the linter can know).
 */
function selectedColumns(into: IntoClause | undefined, query: Node | undefined): Columns {
  const columns: Columns = new Map();
  const listed = stringList(into?.colNames);
  let select = query && 'SelectStmt' in query ? query.SelectStmt : undefined;
  while (select?.larg) select = select.larg;
  const names = listed.length ? listed : (select?.targetList ?? []).map(selectedName);
  for (const name of names) if (name) columns.set(name, { notNull: false });
  return columns;
}

function selectedName(item: Node): string | undefined {
  if (!('ResTarget' in item)) return undefined;
  const target = item.ResTarget;
  if (target.name) return target.name;
  const fields = target.val && 'ColumnRef' in target.val ? target.val.ColumnRef.fields : undefined;
  const last = fields?.[fields.length - 1];
  return last && 'String' in last ? last.String.sval : undefined;
}

function isZeroConstant(constant: { ival?: { ival?: number }; sval?: { sval?: string } }): boolean {
  if (constant.ival) return (constant.ival.ival ?? 0) === 0;
  if (constant.sval) return ZERO_DURATION.test(constant.sval.sval ?? '');
  return false;
}
