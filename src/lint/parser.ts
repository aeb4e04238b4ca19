/**
 * PostgreSQL's parser (libpg-query's WebAssembly build), called directly rather than through
 * the package's `parseSync`: a 10,000-statement migration yields megabytes of JSON, and the
 * wrapper copies strings in and out byte by byte in JavaScript. Here the copies are native
 * (TextEncoder.encodeInto, Uint8Array.indexOf, Buffer decoding); the C function is the same.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { PgQueryWasm, PgQueryWasmOptions } from 'libpg-query/wasm/libpg-query.js';

const require = createRequire(import.meta.url);
// The factory is a CommonJS file; require() skips the export-name scan an ESM import runs on it.
const createPgQueryModule = require('libpg-query/wasm/libpg-query.js') as (options?: PgQueryWasmOptions) => Promise<PgQueryWasm>;

/** SQL that PostgreSQL's parser rejects, with where it gave up. */
export class SqlSyntaxError extends Error {
  override readonly name = 'SqlSyntaxError';
  constructor(
    message: string,
    /** 0-based position in characters (not bytes) where the parser gave up. */
    readonly characterOffset: number,
  ) {
    super(message);
  }
}

let compiled: Promise<WebAssembly.Module> | undefined;
let wasm: Promise<PgQueryWasm> | undefined;
const encoder = new TextEncoder();

/**
 * The parser's compiled WebAssembly. A worker thread that is handed it instantiates its own parser
 * without compiling again, and the threads share the machine code V8 makes for it.
 */
export function compiledParser(): Promise<WebAssembly.Module> {
  compiled ??= readFile(require.resolve('libpg-query/wasm/libpg-query.wasm')).then((bytes) => WebAssembly.compile(bytes));
  return compiled;
}

/** `module`: the compiled WebAssembly another thread handed over (see compiledParser). */
export function loadParser(module?: WebAssembly.Module): Promise<PgQueryWasm> {
  if (module) compiled ??= Promise.resolve(module);
  wasm ??= compiledParser().then(
    (ready) =>
      new Promise<PgQueryWasm>((resolve, reject) => {
        createPgQueryModule({
          instantiateWasm(imports, receive) {
            WebAssembly.instantiate(ready, imports).then(receive, reject);
            return {};
          },
        }).then(resolve, reject);
      }),
  );
  return wasm;
}

/**
 * The parse tree as the JSON text the C library writes, not yet turned into objects: most of a
 * large migration's statements need no rule, and are never turned into objects (see statements.ts).
 * Throws SqlSyntaxError for SQL PostgreSQL rejects.
 */
export function parseSqlToJson(module: PgQueryWasm, sql: string): string {
  const size = Buffer.byteLength(sql, 'utf8') + 1;
  const queryPointer = module._malloc(size);
  let resultPointer = 0;
  try {
    encoder.encodeInto(sql, module.HEAPU8.subarray(queryPointer, queryPointer + size - 1));
    module.HEAPU8[queryPointer + size - 1] = 0;
    resultPointer = module._wasm_parse_query_raw(queryPointer);
    if (!resultPointer) throw new Error('the SQL parser ran out of memory');
    // PgQueryParseResult { char *parse_tree; char *stderr_buffer; PgQueryError *error; }
    // Memory may have grown during the call: read the views afresh.
    const words = module.HEAPU32;
    const treePointer = words[resultPointer >> 2] as number;
    const errorPointer = words[(resultPointer >> 2) + 2] as number;
    if (errorPointer) {
      // PgQueryError { char *message; char *funcname; char *filename; int lineno; int cursorpos; }
      const message = readCString(module, words[errorPointer >> 2] as number) || 'syntax error';
      const cursor = words[(errorPointer >> 2) + 4] as number;
      throw new SqlSyntaxError(message, cursor > 0 ? cursor - 1 : 0);
    }
    return readCString(module, treePointer);
  } finally {
    module._free(queryPointer);
    if (resultPointer) module._wasm_free_parse_result(resultPointer);
  }
}

function readCString(module: PgQueryWasm, pointer: number): string {
  if (!pointer) return '';
  const bytes = module.HEAPU8;
  const end = bytes.indexOf(0, pointer);
  return Buffer.from(bytes.buffer, bytes.byteOffset + pointer, end - pointer).toString('utf8');
}
