/**
 * dbmate keeps both directions in one file, split by `-- migrate:up` and `-- migrate:down`
 * comments; options follow the marker (`-- migrate:up transaction:false`).
 */
const UP_MARKER = /^--\s*migrate:up\b(.*)$/m;
const DOWN_MARKER = /^--\s*migrate:down\b.*$/m;

export interface DbmateUp {
  /** The file text with everything outside the up section blanked, so offsets still point into the file. */
  readonly sql: string;
  /** dbmate wraps a migration in a transaction unless the up marker says `transaction:false`. */
  readonly transaction: boolean;
}

export function hasDbmateMarkers(text: string): boolean {
  return UP_MARKER.test(text);
}

export function extractDbmateUp(text: string): DbmateUp | undefined {
  const up = UP_MARKER.exec(text);
  if (!up) return undefined;
  const start = up.index;
  const down = DOWN_MARKER.exec(text.slice(start));
  const end = down ? start + down.index : text.length;
  const before = text.slice(0, start).replace(/[^\n]/g, ' ');
  return { sql: before + text.slice(start, end), transaction: !/\btransaction:false\b/.test(up[1] ?? '') };
}
