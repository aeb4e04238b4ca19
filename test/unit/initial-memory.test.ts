/**
 * The parser's initial memory (src/lint/initial-memory.ts): lowered to where Emscripten's stack
 * starts plus room for the heap, the parser still parses, and grows its memory for large input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { PARSER_HEAP_ROOM, stackTopOf, withInitialMemory } from '../../src/lint/initial-memory.js';
import { sectionsOf, WasmReader } from '../../src/lint/wasm-binary.js';

const published = new Uint8Array(readFileSync(createRequire(import.meta.url).resolve('libpg-query/wasm/libpg-query.wasm')));

/** A module with a memory of `initial` pages (and `maximum`, when given) and one mutable i32 global `top`. */
function module(initial: number, maximum: number | undefined, top: number): Uint8Array<ArrayBuffer> {
  const leb = (value: number) => {
    const out: number[] = [];
    do {
      const low = value & 0x7f;
      value >>>= 7;
      out.push(value ? low | 0x80 : low);
    } while (value);
    return out;
  };
  const sleb = (value: number) => {
    const out: number[] = [];
    for (;;) {
      const low = value & 0x7f;
      value >>= 7;
      if ((value === 0 && !(low & 0x40)) || (value === -1 && low & 0x40)) return [...out, low];
      out.push(low | 0x80);
    }
  };
  const section = (id: number, body: number[]) => [id, ...leb(body.length), ...body];
  const limits = maximum === undefined ? [0, ...leb(initial)] : [1, ...leb(initial), ...leb(maximum)];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(5, [1, ...limits]),
    ...section(6, [1, 0x7f, 1, 0x41, ...sleb(top), 0x0b]),
    ...section(7, [1, 3, ...Buffer.from('mem'), 2, 0]),
  ]);
}

/** The memory's declared limits, read back from the binary. */
function limits(wasm: Uint8Array): { initial: number; maximum?: number } {
  for (const section of sectionsOf(wasm)) {
    if (section.id !== 5) continue;
    const reader = new WasmReader(wasm, section.body);
    reader.u32();
    const flags = wasm[reader.at++] as number;
    const initial = reader.u32();
    return flags & 1 ? { initial, maximum: reader.u32() } : { initial };
  }
  throw new Error('no memory section');
}

function memoryPages(wasm: Uint8Array<ArrayBuffer>): number {
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(wasm), {});
  return (exports.mem as WebAssembly.Memory).buffer.byteLength / 65_536;
}

test('the initial memory is lowered to whole pages, the maximum kept; never raised', () => {
  const declared = module(2048, 16_384, 5_000_000);
  const lowered = withInitialMemory(declared, 100 * 65_536 + 1);
  assert.ok(WebAssembly.validate(lowered));
  assert.equal(memoryPages(lowered), 101);
  assert.deepEqual(limits(lowered), { initial: 101, maximum: 16_384 });
  assert.equal(memoryPages(withInitialMemory(declared, 4096 * 65_536)), 2048);
  assert.deepEqual(limits(withInitialMemory(module(300, undefined, 1), 10 * 65_536)), { initial: 10 });
  // 16 pages take one LEB128 byte, 2048 two: the section is rewritten, not patched in place.
  assert.deepEqual(limits(withInitialMemory(declared, 16 * 65_536)), { initial: 16, maximum: 16_384 });
});

test("the stack's top is the first global's initial value, a signed number read right", () => {
  for (const top of [1, 63, 64, 8191, 8192, 34_515_008, 2 ** 31 - 1]) assert.equal(stackTopOf(module(1, undefined, top)), top);
  assert.equal(stackTopOf(module(1, undefined, -5)), undefined);
  assert.equal(stackTopOf(published), 34_515_008);
  assert.equal(new WasmReader(new Uint8Array([0xc0, 0xbb, 0x78])).i32(), -123_456);
});

test('the parser with its memory lowered parses, and grows its memory for a large input', async () => {
  const top = stackTopOf(published);
  assert.ok(top !== undefined);
  const lowered = withInitialMemory(published, top + PARSER_HEAP_ROOM);
  const { default: createPgQueryModule } = await import('libpg-query/wasm/libpg-query.js');
  const compiled = await WebAssembly.compile(lowered);
  const parser = await createPgQueryModule({
    instantiateWasm(imports: WebAssembly.Imports, receive: (instance: WebAssembly.Instance) => void) {
      receive(new WebAssembly.Instance(compiled, imports));
      return {};
    },
  });
  const initial = parser.HEAPU8.length;
  assert.equal(initial, Math.ceil((top + PARSER_HEAP_ROOM) / 65_536) * 65_536);
  const { parseSqlToJson } = await import('../../src/lint/parser.js');
  assert.match(parseSqlToJson(parser, 'SELECT 1'), /"SelectStmt"/);
  const large = Array.from({ length: 20_000 }, (_, i) => `ALTER TABLE t${i} ADD COLUMN c${i} integer NOT NULL DEFAULT ${i};`).join('\n');
  const json = parseSqlToJson(parser, large);
  assert.equal(json.split('"AlterTableStmt"').length - 1, 20_000);
  assert.ok(parser.HEAPU8.length > initial, 'the memory grew');
});
