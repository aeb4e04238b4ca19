import type { AlterTableCmd, AlterTableStmt, ColumnDef, Constraint, DefElem, Node, RangeVar, TypeName } from 'libpg-query';
import type { ColumnTypeInfo, Statement, TableName } from './types.js';

/** Small readers over libpg-query's JSON AST, shared by the engine's context tracking and the rules. */

export function tableOf(relation: RangeVar | undefined): TableName | undefined {
  if (!relation?.relname) return undefined;
  return relation.schemaname ? { schema: relation.schemaname, name: relation.relname } : { name: relation.relname };
}

/** Unqualified names resolve through search_path; like most migrations we assume `public`. */
export function tableKey(table: TableName): string {
  return `${table.schema ?? 'public'}.${table.name}`;
}

/**
 * A system catalog (or its index, or TOAST table): in pg_catalog or pg_toast, or unqualified with
 * a `pg_` name, which resolves to pg_catalog first since pg_catalog is searched before search_path.
 * PostgreSQL refuses REINDEX CONCURRENTLY on these, and online tools (pg_repack) cannot rebuild them.
 */
export function isSystemCatalog(table: TableName): boolean {
  return table.schema === undefined ? table.name.startsWith('pg_') : table.schema === 'pg_catalog' || table.schema === 'pg_toast';
}

export function formatTable(table: TableName | undefined): string {
  if (!table) return 'the table';
  return table.schema ? `"${table.schema}"."${table.name}"` : `"${table.name}"`;
}

/** `[String a, String b]` name lists (qualified names, dropped objects) as plain strings. */
export function stringList(nodes: readonly Node[] | undefined): string[] {
  const out: string[] = [];
  for (const node of nodes ?? []) {
    if ('String' in node) out.push(node.String.sval ?? '');
  }
  return out;
}

/** `DROP TABLE a, s.b` lists each object as a `List` of name parts. */
export function objectNames(objects: readonly Node[] | undefined): TableName[] {
  const out: TableName[] = [];
  for (const object of objects ?? []) {
    const parts = 'List' in object ? stringList(object.List.items) : 'String' in object ? [object.String.sval ?? ''] : [];
    const name = parts[parts.length - 1];
    if (name === undefined) continue;
    out.push(parts.length > 1 ? { schema: parts[parts.length - 2] as string, name } : { name });
  }
  return out;
}

/**
 * A boolean option's value as PostgreSQL reads it (defGetBoolean, commands/define.c): no value
 * means true; the integers 1 and 0; the words true, false, on and off in any case, quoted or not
 * (`'off'`, `E'off'`, `U&'off'` all reach the tree as the String "off"). Anything else (`yes`,
 * `'1'`, `2`) makes the server refuse the statement: undefined.
 */
export function booleanValue(option: DefElem): boolean | undefined {
  const value = option.arg;
  if (value === undefined) return true;
  // Protobuf drops default values: `0` arrives as `Integer: {}`, `false` as `Boolean: {}`.
  if ('Integer' in value) {
    const number = value.Integer.ival ?? 0;
    return number === 1 ? true : number === 0 ? false : undefined;
  }
  if ('Boolean' in value) return value.Boolean.boolval === true;
  const word = 'String' in value ? value.String.sval : 'Float' in value ? value.Float.fval : undefined;
  switch (word?.toLowerCase()) {
    case 'true':
    case 'on':
      return true;
    case 'false':
    case 'off':
      return false;
    default:
      return undefined;
  }
}

/**
 * Whether a boolean option of a `(NAME value, ...)` list (VACUUM, REINDEX, ...) is on: the server
 * reads the options in order and the last spelling wins. Absent, false, or a value the server refuses: false.
 */
export function optionIsOn(options: readonly Node[] | undefined, name: string): boolean {
  let on = false;
  for (const option of options ?? []) {
    if ('DefElem' in option && option.DefElem.defname === name) on = booleanValue(option.DefElem) === true;
  }
  return on;
}

export function typeInfo(typeName: TypeName | undefined): ColumnTypeInfo | undefined {
  if (!typeName) return undefined;
  const names = stringList(typeName.names);
  const last = names[names.length - 1];
  if (last === undefined) return undefined;
  const modifiers: number[] = [];
  let opaque = false;
  for (const modifier of typeName.typmods ?? []) {
    // A zero constant is encoded as `ival: {}` (protobuf drops default values).
    if ('A_Const' in modifier && modifier.A_Const.ival) modifiers.push(modifier.A_Const.ival.ival ?? 0);
    else opaque = true;
  }
  return { name: canonicalTypeName(last.toLowerCase()), modifiers, isArray: (typeName.arrayBounds?.length ?? 0) > 0, opaque };
}

const SERIAL_TYPES: ReadonlySet<string> = new Set(['serial', 'serial4', 'bigserial', 'serial8', 'smallserial', 'serial2']);

/** `serial` and its kin, which are integer columns with a sequence default (and NOT NULL), not types. */
export function isSerialType(typeName: TypeName | undefined): boolean {
  const names = stringList(typeName?.names);
  return names.length === 1 && SERIAL_TYPES.has(names[0] as string);
}

// The parser already maps SQL spellings (`character varying`, `integer`) to catalog names;
// these are the spellings that reach us unmapped when written as plain identifiers.
const TYPE_ALIASES: Record<string, string> = { int: 'int4', integer: 'int4', bigint: 'int8', smallint: 'int2', decimal: 'numeric' };

function canonicalTypeName(name: string): string {
  return TYPE_ALIASES[name] ?? name;
}

export function formatType(type: ColumnTypeInfo): string {
  return `${type.name}${type.modifiers.length ? `(${type.modifiers.join(',')})` : ''}${type.isArray ? '[]' : ''}`;
}

/** Names of every function called anywhere inside `node` (lower-case, unqualified). */
export function calledFunctions(node: unknown, into: string[] = []): string[] {
  if (Array.isArray(node)) {
    for (const item of node) calledFunctions(item, into);
  } else if (node !== null && typeof node === 'object') {
    const record = node as Record<string, unknown>;
    const call = record.FuncCall as { funcname?: Node[] } | undefined;
    if (call) {
      const names = stringList(call.funcname);
      const last = names[names.length - 1];
      if (last !== undefined) into.push(last.toLowerCase());
    }
    for (const key in record) calledFunctions(record[key], into);
  }
  return into;
}

/** Columns `c` such that the expression guarantees `c IS NOT NULL` (a NullTest, or an AND of them). */
export function notNullColumns(expression: Node | undefined): string[] {
  if (!expression) return [];
  if ('NullTest' in expression) {
    const test = expression.NullTest;
    if (test.nulltesttype !== 'IS_NOT_NULL' || !test.arg || !('ColumnRef' in test.arg)) return [];
    const fields = stringList(test.arg.ColumnRef.fields);
    return fields.length === 1 ? [fields[0] as string] : [];
  }
  if ('BoolExpr' in expression && expression.BoolExpr.boolop === 'AND_EXPR') {
    return (expression.BoolExpr.args ?? []).flatMap((arg) => notNullColumns(arg));
  }
  return [];
}

interface TableCommands {
  readonly table: TableName | undefined;
  readonly commands: readonly AlterTableCmd[];
}

const NO_COMMANDS: TableCommands = { table: undefined, commands: [] };
// A dozen rules look at every ALTER TABLE one after another: unpack each statement once.
let lastNode: AlterTableStmt | undefined;
let lastUnpacked: TableCommands = NO_COMMANDS;

/** The commands of an `ALTER TABLE` on a table (not an index, view or sequence), with the table. */
export function tableCommands(node: AlterTableStmt): TableCommands {
  if (node.objtype !== 'OBJECT_TABLE') return NO_COMMANDS;
  if (node !== lastNode) {
    const commands: AlterTableCmd[] = [];
    for (const item of node.cmds ?? []) if ('AlterTableCmd' in item) commands.push(item.AlterTableCmd);
    lastUnpacked = { table: tableOf(node.relation), commands };
    lastNode = node;
  }
  return lastUnpacked;
}

export function columnDefOf(command: AlterTableCmd): ColumnDef | undefined {
  return command.def && 'ColumnDef' in command.def ? command.def.ColumnDef : undefined;
}

export function constraintOf(command: AlterTableCmd): Constraint | undefined {
  return command.def && 'Constraint' in command.def ? command.def.Constraint : undefined;
}

export function columnConstraints(column: ColumnDef): Constraint[] {
  const out: Constraint[] = [];
  for (const item of column.constraints ?? []) if ('Constraint' in item) out.push(item.Constraint);
  return out;
}

/** The column is declared NOT NULL: by NOT NULL, PRIMARY KEY, an identity, or a serial type (all imply it). */
export function declaresNotNull(column: ColumnDef): boolean {
  if (isSerialType(column.typeName)) return true;
  for (const constraint of columnConstraints(column)) {
    if (constraint.contype === 'CONSTR_NOTNULL' || constraint.contype === 'CONSTR_PRIMARY' || constraint.contype === 'CONSTR_IDENTITY') return true;
  }
  return false;
}

/** The constraints an ALTER TABLE command adds: `ADD CONSTRAINT ...`, or those declared with `ADD COLUMN`. */
export function addedConstraints(command: AlterTableCmd): Array<Constraint | undefined> {
  if (command.subtype === 'AT_AddConstraint') return [constraintOf(command)];
  if (command.subtype === 'AT_AddColumn') return columnConstraints(columnDefOf(command) ?? {});
  return [];
}

/** `AlterTableStmt` etc. keep their statement offset; nodes with a location point inside it. */
export function offsetOf(node: { location?: number } | undefined, fallback: number): number {
  return node?.location !== undefined && node.location >= 0 ? node.location : fallback;
}

/**
 * The columns a CREATE TABLE or an ALTER TABLE ... ADD COLUMN declares with a type, the table they
 * belong to, and whether it is a temporary table (scratch space of the migration itself).
 */
export function declaredColumns(statement: Statement<'CreateStmt' | 'AlterTableStmt'>): { table: TableName | undefined; columns: ColumnDef[]; temporary: boolean } {
  const columns: ColumnDef[] = [];
  if (statement.type === 'CreateStmt') {
    for (const element of statement.node.tableElts ?? []) if ('ColumnDef' in element && element.ColumnDef.typeName) columns.push(element.ColumnDef);
    return { table: tableOf(statement.node.relation), columns, temporary: statement.node.relation?.relpersistence === 't' };
  }
  const { table, commands } = tableCommands(statement.node);
  for (const command of commands) {
    const column = command.subtype === 'AT_AddColumn' ? columnDefOf(command) : undefined;
    if (column?.typeName) columns.push(column);
  }
  return { table, columns, temporary: false };
}
