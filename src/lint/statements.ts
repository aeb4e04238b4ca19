import type { RawStmt } from 'libpg-query';
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
      const statement = toStatement(JSON.parse(json.slice(ranges[at], ranges[at + 1])) as RawStmt, this.indexBase + (ranges[at + 2] as number), this.byteLength);
      if (statement) yield statement;
    }
  }
}

// Each top-level statement of the parser's JSON starts with this; no other node has a `stmt`
// field, and inside a JSON string its quotes would be escaped, so it marks statements only.
const STATEMENT_START = '{"stmt":{"';

/**
 * The statements of a parse tree in JSON (parseSqlToJson), keeping only those of a wanted type:
 * INSERTs, UPDATEs and COMMENTs, which no rule reads, are never turned into objects. Offsets are
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
