/**
 * Splits a migration into statements with the real PostgreSQL parser (libpg-query), so the trace
 * can run them one at a time and attribute each lock, rewrite and catalog change to its statement.
 */

export interface Statement {
  /** 0-based position of the statement in its file. */
  index: number;
  /** 1-based line where the statement starts in the file. */
  line: number;
  /** 1-based line of the statement's last character. */
  endLine: number;
  /** The parse tree's node type: 'AlterTableStmt', 'DoStmt', 'TransactionStmt', ... */
  kind: string;
  text: string;
}

type LibPgQuery = typeof import('libpg-query');
let parser: Promise<LibPgQuery> | undefined;

/** The WASM parser loads once per process. */
function loadParser(): Promise<LibPgQuery> {
  parser ??= import('libpg-query').then(async (module) => {
    await module.loadModule();
    return module;
  });
  return parser;
}

function lineAt(source: Buffer, byteOffset: number): number {
  let line = 1;
  for (let i = 0; i < byteOffset && i < source.length; i++) if (source[i] === 0x0a) line++;
  return line;
}

/**
 * The statements of one migration file (`sql` at its offsets in the file, so lines are the file's).
 * SQL that does not parse is an error naming the file, line and column and carrying the parser's message.
 */
export async function splitStatements(file: string, sql: string): Promise<Statement[]> {
  const { parse, hasSqlDetails } = await loadParser();
  // Parser offsets are in bytes of the UTF-8 text, not in JavaScript characters.
  const source = Buffer.from(sql, 'utf8');
  let tree: Awaited<ReturnType<LibPgQuery['parse']>>;
  try {
    tree = await parse(sql);
  } catch (error) {
    const position = hasSqlDetails(error) ? error.sqlDetails?.cursorPosition : undefined;
    const message = error instanceof Error ? error.message : String(error);
    if (position === undefined) throw new Error(`${file}: does not parse: ${message}`);
    const before = source.subarray(0, position).toString('utf8');
    const line = before.split('\n').length;
    const column = before.length - before.lastIndexOf('\n');
    throw new Error(`${file}:${line}:${column}: does not parse: ${message}`);
  }
  return (tree.stmts ?? []).map((entry, index) => {
    const start = entry.stmt_location ?? 0;
    const end = entry.stmt_len ? start + entry.stmt_len : source.length;
    const text = source.subarray(start, end).toString('utf8');
    const leading = /^(?:\s|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*/.exec(text)?.[0] ?? '';
    return {
      index,
      line: lineAt(source, start + Buffer.byteLength(leading)),
      endLine: lineAt(source, Math.max(start, end - 1)),
      kind: Object.keys(entry.stmt ?? {})[0] ?? 'unknown',
      text,
    };
  });
}
