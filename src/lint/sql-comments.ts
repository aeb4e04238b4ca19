import { dollarTag, endOfBlockComment, endOfQuoted, isEscapeString } from './sql-skip.js';

export interface SqlComment {
  /** Character index of the comment's first character (`-` or `/`). */
  readonly start: number;
  /** The comment without its delimiters (`--`, `/*`, `*\/`), at `start + 2` in the text. */
  readonly body: string;
  /** Only whitespace and other comments come before it: it is in the file's header. */
  readonly leading: boolean;
}

/**
 * Every `--` and `/* *\/` comment of SQL text, in order, without parsing: quoted strings, quoted
 * identifiers and dollar-quoted bodies are skipped, so comment-like text inside them is not one.
 */
export function sqlComments(sql: string): SqlComment[] {
  const comments: SqlComment[] = [];
  // Until the first token, any other character ends the header; after it, only what hides a comment matters.
  const inHeader = /--|\/\*|\S/g;
  const inBody = /--|\/\*|['"$]/g;
  let leading = true;
  let at = 0;
  while (at < sql.length) {
    const special = leading ? inHeader : inBody;
    special.lastIndex = at;
    const next = special.exec(sql);
    if (!next) break;
    at = next.index;
    const found = next[0];
    if (found === '--') {
      const end = sql.indexOf('\n', at);
      const stop = end === -1 ? sql.length : end;
      comments.push({ start: at, body: sql.slice(at + 2, stop), leading });
      at = stop;
      continue;
    }
    if (found === '/*') {
      const stop = endOfBlockComment(sql, at);
      const closed = sql.startsWith('*/', stop - 2) && stop - 2 >= at + 2;
      comments.push({ start: at, body: sql.slice(at + 2, closed ? stop - 2 : stop), leading });
      at = stop;
      continue;
    }
    leading = false;
    if (found === "'" || found === '"') {
      at = endOfQuoted(sql, at, found.charCodeAt(0), found === "'" && isEscapeString(sql, at));
      continue;
    }
    if (found === '$') {
      const tag = dollarTag(sql, at);
      if (tag !== undefined) {
        const end = sql.indexOf(tag, at + tag.length);
        at = end === -1 ? sql.length : end + tag.length;
        continue;
      }
    }
    at++;
  }
  return comments;
}
