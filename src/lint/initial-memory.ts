/**
 * The parser's memory at instantiation. libpg-query declares 128 MB, and allocating that much at
 * once makes V8 start a full garbage collection (the "external memory" of an ArrayBuffer that large
 * counts against the heap); a lint of a folder of migrations uses under 45 MB: the 34.5 MB below
 * the top of Emscripten's stack, and a few MB of parse trees. Declared smaller, the memory grows
 * when a large file needs it (Emscripten's emscripten_resize_heap), so nothing changes but when.
 */
import { sectionsOf, spliced, u32Bytes, WasmReader } from './wasm-binary.js';

const GLOBAL_SECTION = 6;
const MEMORY_SECTION = 5;
const PAGE = 65_536;
const I32_CONST = 0x41;

/** Room above the stack for the parser's heap before the memory has to grow: what the corpora's lints use. */
export const PARSER_HEAP_ROOM = 10 * 1024 * 1024;

/**
 * Where Emscripten's stack starts (it grows down from there, and the heap begins above it): the
 * initial value of the module's first global, __stack_pointer. Undefined for a module laid out
 * otherwise.
 */
export function stackTopOf(wasm: Uint8Array): number | undefined {
  for (const section of sectionsOf(wasm)) {
    if (section.id !== GLOBAL_SECTION) continue;
    const reader = new WasmReader(wasm, section.body);
    if (reader.u32() === 0) return undefined;
    reader.skip(2); // value type, mutability
    if (wasm[reader.at++] !== I32_CONST) return undefined;
    const top = reader.i32();
    return top > 0 ? top : undefined;
  }
  return undefined;
}

/**
 * `wasm` with its memory's initial size lowered to `bytes` (rounded up to whole pages); unchanged
 * when it declares less already, or no memory of its own.
 */
export function withInitialMemory(wasm: Uint8Array, bytes: number): Uint8Array<ArrayBuffer> {
  const pages = Math.ceil(bytes / PAGE);
  for (const section of sectionsOf(wasm)) {
    if (section.id !== MEMORY_SECTION) continue;
    const reader = new WasmReader(wasm, section.body);
    if (reader.u32() !== 1) break;
    const flags = wasm[reader.at++] as number;
    const initial = reader.u32();
    if (initial <= pages) break;
    const maximum = flags & 1 ? [reader.u32()] : [];
    const body = [1, flags, ...u32Bytes(pages), ...maximum.flatMap(u32Bytes)];
    return spliced(wasm, section.start, section.end, [MEMORY_SECTION, ...u32Bytes(body.length), ...body]);
  }
  return new Uint8Array(wasm);
}
