/**
 * PostgreSQL's parser (libpg-query's WebAssembly build), called directly rather than through
 * the package's `parseSync`: a 10,000-statement migration yields megabytes of JSON, and the
 * wrapper copies strings in and out byte by byte in JavaScript. Here the copies are native
 * (TextEncoder.encodeInto, Uint8Array.indexOf, Buffer decoding); the C function is the same.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
// The Emscripten factory, a CommonJS file. scripts/bundle-lint.mjs bundles it into the lint script,
// where its compiled code is in the code cache; elsewhere node imports it from node_modules.
import createPgQueryModule, { type PgQueryWasm } from 'libpg-query/wasm/libpg-query.js';

const require = createRequire(import.meta.url);

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

/**
 * The parser itself gave out (out of memory, or out of stack on deeply nested SQL): the file
 * cannot be checked, which is bad input (exit 2), not a finding and never a crash.
 */
export class SqlParserFailure extends Error {
  override readonly name = 'SqlParserFailure';
}

let compiled: Promise<WebAssembly.Module> | undefined;
let wasm: Promise<PgQueryWasm> | undefined;
/** The instance `wasm` resolved to, so that a failed one can be dropped (see parseSqlToJson). */
let current: PgQueryWasm | undefined;
/** What the C code printed to stderr lately (a FATAL error says why it gave out); kept short. */
let printed: string[] = [];
const encoder = new TextEncoder();

/**
 * The parser's compiled WebAssembly. A worker thread that is handed it instantiates its own parser
 * without compiling again, and the threads share the machine code V8 makes for it.
 *
 * The 1.7 MB file is read synchronously (~2 ms), so that V8 compiles it on a background thread from
 * the first call on. Read with fs/promises it took four trips through libuv's thread pool, each
 * waiting for the main thread to reach its event loop, which it does not while it finds and reads
 * a directory of migrations (synchronous reads, awaits of settled promises): the compile started
 * only after them, and the lint then waited for it.
 */
export function compiledParser(): Promise<WebAssembly.Module> {
  compiled ??= compilePublishedParser();
  return compiled;
}

/** The parser as libpg-query publishes it. */
async function compilePublishedParser(): Promise<WebAssembly.Module> {
  // An async function: a failed read rejects, as it did when the read was asynchronous.
  return WebAssembly.compile(readFileSync(require.resolve('libpg-query/wasm/libpg-query.wasm')));
}

/**
 * The parser as the published lint's entry compiles it: a copy with compilation hints, whose compile
 * the entry started before the lint's own code was loaded (startLint in lint-script-cache.ts).
 * Before the first compiledParser() or loadParser(). A copy that V8 refuses (a damaged build) gives
 * way to the parser as published.
 */
export function useCompiledParser(compiling: Promise<WebAssembly.Module>): void {
  compiled ??= compiling.catch(compilePublishedParser);
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
          // Only a dying parser prints (to stdout too, where it would corrupt --format json): kept
          // for the failure's message, never written out.
          print: remember,
          printErr: remember,
        }).then((instance) => {
          current = instance;
          resolve(instance);
        }, reject);
      }),
  );
  return wasm;
}

function remember(text: string): void {
  printed = [...printed.slice(-9), text];
}

/** After a failure inside the parser its C state is undefined: the next loadParser() makes a fresh instance. */
function discard(module: PgQueryWasm): void {
  if (current !== module) return;
  current = undefined;
  wasm = undefined;
}

/** Why the parser gave out, in words a user can act on. */
function describeFailure(error: unknown): string {
  const said = printed.map((line) => line.trim()).filter((line) => line !== '' && !/^Terminating process/.test(line));
  printed = [];
  if (error instanceof RangeError && /call stack/i.test(error.message)) {
    return 'is nested too deeply for the SQL parser (it ran out of stack: thousands of chained operators or parentheses in one expression?); split the expression or the statement';
  }
  // PostgreSQL dumps its memory contexts ("Grand total: ...") when an allocation fails.
  if (said.length === 0 || said.some((line) => /out of memory|Grand total/i.test(line))) {
    return 'made the SQL parser run out of memory (it has 1 GiB); split it into smaller migrations';
  }
  return `made the SQL parser give out (${said.at(-1)}); split it into smaller migrations`;
}

/**
 * The parse tree as the JSON text the C library writes, not yet turned into objects: most of a
 * large migration's statements need no rule, and are never turned into objects (see statements.ts).
 * Throws SqlSyntaxError for SQL PostgreSQL rejects.
 */
export function parseSqlToJson(module: PgQueryWasm, sql: string): string {
  const size = Buffer.byteLength(sql, 'utf8') + 1;
  const queryPointer = module._malloc(size);
  if (!queryPointer) throw new SqlParserFailure(`is too large for the SQL parser's memory (${size - 1} bytes); split it into smaller migrations`);
  let resultPointer = 0;
  let failed = false;
  try {
    encoder.encodeInto(sql, module.HEAPU8.subarray(queryPointer, queryPointer + size - 1));
    module.HEAPU8[queryPointer + size - 1] = 0;
    // A FATAL error in the C code makes Emscripten set process.exitCode (to 1, the lint's code for
    // findings) and throw; a stack overflow throws a RangeError. Both leave the instance unusable.
    const exitCode = process.exitCode;
    try {
      resultPointer = module._wasm_parse_query_raw(queryPointer);
    } catch (error) {
      failed = true;
      process.exitCode = exitCode;
      discard(module);
      throw new SqlParserFailure(describeFailure(error));
    }
    if (!resultPointer) throw new SqlParserFailure('made the SQL parser run out of memory (it has 1 GiB); split it into smaller migrations');
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
    // A failed instance is dropped whole; calling into it again could fail again.
    if (!failed) {
      module._free(queryPointer);
      if (resultPointer) module._wasm_free_parse_result(resultPointer);
    }
  }
}

function readCString(module: PgQueryWasm, pointer: number): string {
  if (!pointer) return '';
  const end = module.HEAPU8.indexOf(0, pointer);
  return heapBuffer(module).toString('utf8', pointer, end);
}

/** The parser's memory as one Buffer, made again only when the memory has grown (its ArrayBuffer is then new). */
let heap: Buffer | undefined;

/**
 * A Buffer over the whole memory: decoding from it is one toString, where a Buffer made for each
 * parse result went through Buffer.from's checks each time (~2 ms of a cold lint of 285 files).
 */
function heapBuffer(module: PgQueryWasm): Buffer {
  const bytes = module.HEAPU8;
  if (heap?.buffer !== bytes.buffer) heap = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return heap;
}
