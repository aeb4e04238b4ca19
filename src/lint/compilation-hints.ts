/**
 * V8's WebAssembly compilation hints for the parser: which of its functions to compile at once and
 * which when first called. By default V8 compiles each function of a module on its first call, on
 * the thread that calls it; a lint's first parse thus spends ~10 ms compiling the parser's scanner
 * and grammar (two functions of 80 and 100 KB) on the main thread. Marked eager, they are compiled
 * on a background thread from the moment compiling starts, while the main thread loads the rules and
 * reads the migrations; every other function stays lazy. The hints are a custom section
 * ("compilationHints", https://github.com/WebAssembly/compilation-hints), so any engine that does
 * not read them runs the module as it is; V8 reads them under --experimental-wasm-compilation-hints
 * (and then follows them whether lazy compilation is on or not).
 */
import { sectionsOf, spliced, u32Bytes, WasmReader } from './wasm-binary.js';

/** One byte per function: strategy in bits 0-1, baseline tier in bits 2-3, top tier in bits 4-5. */
const LAZY = 1;
const EAGER = 2;
/** Both tiers Liftoff (V8's baseline compiler): the lint runs with --liftoff-only (see LINT_V8_FLAGS). */
const BASELINE_TIERS = (1 << 2) | (1 << 4);

const CODE_SECTION = 10;
const FUNCTION_SECTION = 3;
const IMPORT_SECTION = 2;
const SECTION_NAME = 'compilationHints';

/** How many of the module's functions are imported (they come first in the function index space). */
function importedFunctions(reader: WasmReader, end: number): number {
  let functions = 0;
  const count = reader.u32();
  for (let index = 0; index < count && reader.at < end; index++) {
    reader.skip(reader.u32()); // module name
    reader.skip(reader.u32()); // field name
    const kind = reader.bytes[reader.at++];
    if (kind === 0) {
      reader.u32(); // type index
      functions++;
    } else if (kind === 1) {
      reader.skip(1); // table: element type, then limits
      const flags = reader.bytes[reader.at++] ?? 0;
      reader.u32();
      if (flags & 1) reader.u32();
    } else if (kind === 2) {
      const flags = reader.bytes[reader.at++] ?? 0; // memory limits
      reader.u32();
      if (flags & 1) reader.u32();
    } else if (kind === 3) {
      reader.skip(2); // global: value type, mutability
    } else {
      throw new Error(`compilation hints: an import of kind ${kind}, which this reader does not know`);
    }
  }
  return functions;
}

/**
 * `wasm` with a compilationHints section placed before its code section: the functions in `eager`
 * (indices in the module's function index space, imports first, as V8's traces number them) are
 * compiled when the module is, every other one when first called. Throws on a module that already
 * has hints or is not laid out as the WebAssembly binary format says.
 */
export function withCompilationHints(wasm: Uint8Array, eager: ReadonlySet<number>): Uint8Array<ArrayBuffer> {
  let imported = 0;
  let declared: number | undefined;
  for (const section of sectionsOf(wasm)) {
    const reader = new WasmReader(wasm, section.body);
    if (section.id === 0) {
      const name = new TextDecoder().decode(wasm.subarray(reader.at + 1, reader.at + 1 + (wasm[reader.at] ?? 0)));
      if (name === SECTION_NAME) throw new Error('compilation hints: the module has a compilationHints section already');
    } else if (section.id === IMPORT_SECTION) {
      imported = importedFunctions(reader, section.end);
    } else if (section.id === FUNCTION_SECTION) {
      declared = reader.u32();
    } else if (section.id === CODE_SECTION) {
      if (declared === undefined) throw new Error('compilation hints: the module has a code section but no function section');
      const hints: number[] = [];
      for (let index = 0; index < declared; index++) hints.push((eager.has(imported + index) ? EAGER : LAZY) | BASELINE_TIERS);
      const name = new TextEncoder().encode(SECTION_NAME);
      const payload = [...u32Bytes(name.length), ...name, ...u32Bytes(declared), ...hints];
      return spliced(wasm, section.start, section.start, [0, ...u32Bytes(payload.length), ...payload]);
    }
  }
  throw new Error('compilation hints: the module has no code section');
}

/**
 * The functions V8 compiled, from what node printed under --trace-wasm-compilation-times
 * ("Compiled function 0x…#140 using Liftoff, took 6 ms …"), of the module it compiled most
 * functions of: the parser (node's own small modules, such as its CommonJS lexer, are traced too).
 */
export function compiledFunctionsInTrace(trace: string): Set<number> {
  const byModule = new Map<string, Set<number>>();
  for (const match of trace.matchAll(/^Compiled function (\S*)#(\d+) using /gm)) {
    const functions = byModule.get(match[1] as string) ?? new Set<number>();
    functions.add(Number(match[2]));
    byModule.set(match[1] as string, functions);
  }
  let most = new Set<number>();
  for (const functions of byModule.values()) if (functions.size > most.size) most = functions;
  return most;
}
