/**
 * The line format shared by a run's journal and the log of broken locks: one JSON record a line,
 * each ended by a newline. A crash mid-append leaves text after the last newline, so splitting
 * keeps the complete lines apart from that torn tail.
 */

export interface Line {
  /** 1-based, as a person counts them in an editor. */
  number: number;
  text: string;
}

export interface SplitLines {
  /** Complete lines (each ended by a newline). */
  lines: Line[];
  /** Text after the last newline: a record whose write was cut short. */
  tail?: Line;
  /** Bytes up to and including the last newline. */
  completeBytes: number;
}

export function splitLines(content: Buffer): SplitLines {
  const lastNewline = content.lastIndexOf(0x0a);
  const completeBytes = lastNewline + 1;
  const complete = content.subarray(0, completeBytes).toString('utf8');
  const texts = complete === '' ? [] : complete.slice(0, -1).split('\n');
  const lines = texts.map((text, index) => ({ number: index + 1, text }));
  const tailText = content.subarray(completeBytes).toString('utf8');
  return tailText === '' ? { lines, completeBytes } : { lines, completeBytes, tail: { number: lines.length + 1, text: tailText } };
}

/** Whether a parsed record has a string under each key: records come from disk and are checked, not trusted. */
export function hasStrings(value: unknown, keys: string[]): boolean {
  return typeof value === 'object' && value !== null && keys.every((key) => typeof (value as Record<string, unknown>)[key] === 'string');
}
