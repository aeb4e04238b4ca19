import type { CreateStmt, RangeVar, RawStmt } from 'libpg-query';
import type { Statement } from './types.js';

/**
 * The wanted statements of a parse, in file order; `index` counts every statement. Each is turned
 * into objects only when the iteration reaches it, so a large file's statements die young instead
 * of all living until the last one is judged (which made every garbage collection copy them).
 */
export class StatementList implements Iterable<Statement> {
  constructor(
    private readonly json: string,
    private readonly byteLength: number,
    /** start, end (in `json`) and index of each wanted statement. */
    private readonly ranges: readonly number[],
    /** Every statement in the text, wanted or not. */
    readonly count: number,
    /** Statements before this text, when it is a later part of a file parsed in parts. */
    private readonly indexBase = 0,
  ) {}

  *[Symbol.iterator](): Iterator<Statement> {
    const { json, ranges } = this;
    for (let at = 0; at < ranges.length; at += 3) {
      const start = ranges[at] as number;
      const end = ranges[at + 1] as number;
      const index = this.indexBase + (ranges[at + 2] as number);
      const statement = json.startsWith(CREATE_TABLE_START, start)
        ? deferredCreateTable(json, start, end, index, this.byteLength)
        : toStatement(JSON.parse(json.slice(start, end)) as RawStmt, index, this.byteLength);
      if (statement) yield statement;
    }
  }
}

const CREATE_TABLE_START = '{"stmt":{"CreateStmt":{"relation":{';

/**
 * A CREATE TABLE whose parse tree is turned into objects only when something reads it. Only the
 * hygiene rules, when a project turns them on, read a CREATE TABLE's columns (table-without-schema
 * reads its name only); the context needs its table's name at once (`createdRelation`) and its
 * column types only if a later statement alters one of its columns, which most never do. Its
 * column definitions are the largest statements of a typical migration.
 */
class DeferredCreateTable implements Statement<'CreateStmt'> {
  readonly type = 'CreateStmt';
  #node: CreateStmt | undefined;

  constructor(
    private readonly json: string,
    private readonly start: number,
    private readonly end: number,
    readonly offset: number,
    readonly length: number,
    readonly index: number,
  ) {}

  get node(): CreateStmt {
    this.#node ??= (JSON.parse(this.json.slice(this.start, this.end)) as { stmt: { CreateStmt: CreateStmt } }).stmt.CreateStmt;
    return this.#node;
  }

  /**
   * Whether `text` occurs in the statement's JSON, without reading it: a key (`"inhRelations"`) or
   * an enum value (`"CONSTR_FOREIGN"`) cannot occur otherwise, except inside a string value, which
   * only costs reading the tree.
   */
  mentions(text: string): boolean {
    // Within the statement only: searching the rest of a large file's JSON for each CREATE TABLE would cost its square.
    return this.json.slice(this.start, this.end).includes(text);
  }

  /**
   * The table's RangeVar, which comes first in the tree and holds no object (a CREATE TABLE's
   * relation has no alias), so it ends at the first closing brace, unless a quoted name contains
   * one: then the cut is inside a string, does not parse, and the whole tree is read instead.
   */
  get relation(): RangeVar | undefined {
    if (this.#node) return this.#node.relation;
    return rangeVarAt(this.json, this.start + CREATE_TABLE_START.length - 1) ?? this.node.relation;
  }

  /**
   * The tables its foreign keys reference, read as `relation` is: each `"pktable"` (a key only a
   * foreign key's Constraint has, and which a string value cannot hold unescaped) is a RangeVar
   * holding no object. Undefined when one does not parse (a quoted name with a brace) or the tree
   * was read already: the caller then reads the tree.
   */
  get foreignKeyTargets(): RangeVar[] | undefined {
    if (this.#node) return undefined;
    const json = this.json.slice(this.start, this.end);
    const targets: RangeVar[] = [];
    for (let at = json.indexOf(PKTABLE); at !== -1; at = json.indexOf(PKTABLE, at + PKTABLE.length)) {
      const target = rangeVarAt(json, at + PKTABLE.length - 1);
      if (!target) return undefined;
      targets.push(target);
    }
    return targets;
  }
}

/**
 * The RangeVar object that starts at `from` in `json`: one holding no object ends at the first
 * closing brace. Undefined when that cut is inside a string (a quoted name with a brace) and does
 * not parse.
 */
function rangeVarAt(json: string, from: number): RangeVar | undefined {
  try {
    return JSON.parse(json.slice(from, json.indexOf('}', from) + 1)) as RangeVar;
  } catch {
    return undefined;
  }
}

const PKTABLE = '"pktable":{';

/** The tables a CREATE TABLE's foreign keys reference, when known without reading its whole tree (see DeferredCreateTable). */
export function foreignKeyTargets(statement: Statement<'CreateStmt'>): RangeVar[] | undefined {
  return statement instanceof DeferredCreateTable ? statement.foreignKeyTargets : undefined;
}

/** The table a CREATE TABLE creates, without reading the rest of a deferred statement's tree. */
export function createdRelation(statement: Statement<'CreateStmt'>): RangeVar | undefined {
  return statement instanceof DeferredCreateTable ? statement.relation : statement.node.relation;
}

/** Whether the CREATE TABLE's tree may contain `text` (see DeferredCreateTable.mentions); true when it was read already. */
export function createTableMentions(statement: Statement<'CreateStmt'>, text: string): boolean {
  return statement instanceof DeferredCreateTable ? statement.mentions(text) : true;
}

function deferredCreateTable(json: string, start: number, end: number, index: number, byteLength: number): Statement {
  // The statement's place comes after its tree: `..., "stmt_location":N,"stmt_len":N}`, each left
  // out when 0. Inside the tree these keys cannot occur (a quote in a string is escaped).
  const location = numberAfter(json, '"stmt_location":', start, end);
  const length = numberAfter(json, '"stmt_len":', start, end) || byteLength - location;
  return new DeferredCreateTable(json, start, end, location, length, index);
}

function numberAfter(json: string, key: string, start: number, end: number): number {
  const at = json.lastIndexOf(key, end);
  // parseInt reads the digits and stops at the comma or brace after them.
  return at > start ? Number.parseInt(json.slice(at + key.length, end), 10) : 0;
}

// Each top-level statement of the parser's JSON starts with this; no other node has a `stmt`
// field, and inside a JSON string its quotes would be escaped, so it marks statements only.
const STATEMENT_START = '{"stmt":{"';

/**
 * The statements of a parse tree in JSON (parseSqlToJson), keeping only those of a wanted type:
 * INSERTs and COMMENTs, which no rule reads, are never turned into objects. Offsets are
 * bytes in the text that was parsed; `byteLength` is that text's length.
 */
export function readStatements(json: string, byteLength: number, wanted: ReadonlySet<string>): StatementList {
  const { ranges, count } = wantedRanges(json, wanted);
  return new StatementList(json, byteLength, ranges, count);
}

/** Where in `json` the wanted statements are (start, end, index for each), and how many statements there are in all. */
export function wantedRanges(json: string, wanted: ReadonlySet<string>): { ranges: number[]; count: number } {
  const ranges: number[] = [];
  let count = 0;
  let at = json.indexOf(STATEMENT_START);
  while (at !== -1) {
    const typeStart = at + STATEMENT_START.length;
    const next = json.indexOf(STATEMENT_START, typeStart);
    if (wanted.has(json.slice(typeStart, json.indexOf('"', typeStart)))) {
      // Up to the comma before the next statement, or the array's closing bracket after the last.
      ranges.push(at, next === -1 ? json.lastIndexOf(']') : next - 1, count);
    }
    count++;
    at = next;
  }
  return { ranges, count };
}

function toStatement(raw: RawStmt, index: number, byteLength: number): Statement | undefined {
  const wrapper = raw.stmt as Record<string, unknown> | undefined;
  if (!wrapper) return undefined;
  let type: string | undefined;
  for (const key in wrapper) {
    type = key;
    break;
  }
  if (type === undefined) return undefined;
  const offset = raw.stmt_location ?? 0;
  // The last statement of a file without a trailing semicolon has no length: it runs to the end.
  const length = raw.stmt_len || byteLength - offset;
  return { type, node: wrapper[type], offset, length, index } as Statement;
}
