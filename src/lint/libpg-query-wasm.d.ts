// The Emscripten factory inside libpg-query (same version as the package's own wrapper). Only
// the members src/lint/parser.ts uses are declared.
declare module 'libpg-query/wasm/libpg-query.js' {
  export interface PgQueryWasm {
    HEAPU8: Uint8Array;
    HEAPU32: Uint32Array;
    _malloc(size: number): number;
    _free(pointer: number): void;
    _wasm_parse_query_raw(queryPointer: number): number;
    _wasm_free_parse_result(resultPointer: number): void;
  }
  /** Emscripten's hook for instantiating from an already compiled module. */
  export interface PgQueryWasmOptions {
    instantiateWasm?(imports: WebAssembly.Imports, receive: (instance: WebAssembly.Instance) => void): object;
    /** Receive what the C code writes to stdout and stderr, line by line. */
    print?(text: string): void;
    printErr?(text: string): void;
  }
  const createPgQueryModule: (options?: PgQueryWasmOptions) => Promise<PgQueryWasm>;
  export default createPgQueryModule;
}
