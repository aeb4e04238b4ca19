/**
 * Turns the parser's byte offsets (libpg-query counts UTF-8 bytes) into 1-based lines and
 * character columns, and hands out the text of a line for display.
 */
export class SourceMap {
  /** The text as UTF-8; made only for text that is not ASCII (see `ascii`). */
  #bytes: Buffer | undefined;
  private readonly lineStarts: number[] = [0];
  /** Bytes and characters coincide: positions are plain arithmetic, no decoding. */
  private readonly ascii: boolean;
  readonly byteLength: number;

  constructor(readonly text: string) {
    this.byteLength = Buffer.byteLength(text, 'utf8');
    this.ascii = this.byteLength === text.length;
    // Most migrations are ASCII: their lines are found in the string itself, without a UTF-8 copy
    // and without Buffer.indexOf's JavaScript around each search (a file is linted once, cold).
    if (this.ascii) for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) this.lineStarts.push(at + 1);
    else for (let at = this.bytes.indexOf(10); at !== -1; at = this.bytes.indexOf(10, at + 1)) this.lineStarts.push(at + 1);
  }

  private get bytes(): Buffer {
    this.#bytes ??= Buffer.from(this.text, 'utf8');
    return this.#bytes;
  }

  /** The parser reports syntax errors in characters but statement locations in bytes. */
  byteOffsetOfCharacter(characterOffset: number): number {
    if (this.ascii) return characterOffset;
    return Buffer.byteLength(this.text.slice(0, characterOffset), 'utf8');
  }

  /** 1-based line holding the byte at `offset`. */
  lineOf(offset: number): number {
    let low = 0;
    let high = this.lineStarts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if ((this.lineStarts[middle] as number) <= offset) low = middle;
      else high = middle - 1;
    }
    return low + 1;
  }

  position(offset: number): { line: number; column: number } {
    const clamped = Math.max(0, Math.min(offset, this.byteLength));
    const line = this.lineOf(clamped);
    const start = this.lineStarts[line - 1] as number;
    return { line, column: (this.ascii ? clamped - start : this.bytes.toString('utf8', start, clamped).length) + 1 };
  }

  lineText(line: number): string {
    const start = this.lineStarts[line - 1];
    if (start === undefined) return '';
    const next = this.lineStarts[line];
    const end = next === undefined ? this.byteLength : next - 1;
    const text = this.ascii ? this.text.slice(start, end) : this.bytes.toString('utf8', start, end);
    return text.endsWith('\r') ? text.slice(0, -1) : text;
  }

  /** The text of `length` bytes from byte `offset`. */
  textAt(offset: number, length: number): string {
    return this.ascii ? this.text.slice(offset, offset + length) : this.bytes.toString('utf8', offset, offset + length);
  }

  get lineCount(): number {
    return this.lineStarts.length;
  }
}
