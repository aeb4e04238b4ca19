/**
 * Just enough of the WebAssembly binary format to rewrite the parser's module at build time
 * (compilation-hints.ts, initial-memory.ts): its sections, and the LEB128 numbers inside them.
 */

export class WasmReader {
  at: number;
  constructor(
    readonly bytes: Uint8Array,
    at = 0,
  ) {
    this.at = at;
  }
  /** An unsigned LEB128 number. */
  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = this.bytes[this.at++];
      if (byte === undefined) throw new Error('the WebAssembly module ends inside a number');
      result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7;
    }
  }
  /** A signed LEB128 number of at most 32 bits (an i32.const). */
  i32(): number {
    let result = 0;
    let shift = 0;
    let byte: number;
    do {
      const next = this.bytes[this.at++];
      if (next === undefined) throw new Error('the WebAssembly module ends inside a number');
      byte = next;
      result |= (byte & 0x7f) << shift;
      shift += 7;
    } while (byte & 0x80);
    return shift < 32 && byte & 0x40 ? result | (-1 << shift) : result;
  }
  skip(count: number): void {
    this.at += count;
  }
}

/** `value` as unsigned LEB128. */
export function u32Bytes(value: number): number[] {
  const out: number[] = [];
  let rest = value;
  do {
    const low = rest % 128;
    rest = Math.floor(rest / 128);
    out.push(rest === 0 ? low : low | 0x80);
  } while (rest !== 0);
  return out;
}

export interface WasmSection {
  readonly id: number;
  /** Where the section starts (its id byte), where its contents start, and where it ends. */
  readonly start: number;
  readonly body: number;
  readonly end: number;
}

/** The module's sections in order, after the 8-byte header. */
export function* sectionsOf(wasm: Uint8Array): Generator<WasmSection> {
  const reader = new WasmReader(wasm, 8);
  while (reader.at < wasm.length) {
    const start = reader.at;
    const id = wasm[reader.at++] as number;
    const size = reader.u32();
    const body = reader.at;
    if (body + size > wasm.length) throw new Error(`the WebAssembly module ends inside section ${id}`);
    yield { id, start, body, end: body + size };
    reader.at = body + size;
  }
}

/** `wasm` with the bytes from `start` to `end` replaced by `bytes`. */
export function spliced(wasm: Uint8Array, start: number, end: number, bytes: ArrayLike<number>): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(wasm.length - (end - start) + bytes.length);
  out.set(wasm.subarray(0, start), 0);
  out.set(bytes, start);
  out.set(wasm.subarray(end), start + bytes.length);
  return out;
}
