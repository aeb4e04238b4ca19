import type { RawStmt } from 'libpg-query';
import type { Statement } from './types.js';

export interface ReadStatements {
  /** The statements whose type was wanted, in file order; `index` counts every statement. */
  readonly statements: Statement[];
  /** Every statement in the text, wanted or not. */
  readonly count: number;
}

// Each top-level statement of the parser's JSON starts with this; no other node has a `stmt`
// field, and inside a JSON string its quotes would be escaped, so it marks statements only.
const STATEMENT_START = '{"stmt":{"';

/**
 * The statements of a parse tree in JSON (parseSqlToJson), turning into objects only those of a
 * wanted type: INSERTs, UPDATEs and COMMENTs, which no rule reads, are skipped unparsed. Offsets
 * are bytes in the text that was parsed; `byteLength` is that text's length.
 */
export function readStatements(json: string, byteLength: number, wanted: ReadonlySet<string>): ReadStatements {
  const statements: Statement[] = [];
  let count = 0;
  let at = json.indexOf(STATEMENT_START);
  while (at !== -1) {
    const typeStart = at + STATEMENT_START.length;
    const type = json.slice(typeStart, json.indexOf('"', typeStart));
    const next = json.indexOf(STATEMENT_START, typeStart);
    if (wanted.has(type)) {
      // Up to the comma before the next statement, or the array's closing bracket after the last.
      const raw = JSON.parse(json.slice(at, next === -1 ? json.lastIndexOf(']') : next - 1)) as RawStmt;
      const statement = toStatement(raw, count, byteLength);
      if (statement) statements.push(statement);
    }
    count++;
    at = next;
  }
  return { statements, count };
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
