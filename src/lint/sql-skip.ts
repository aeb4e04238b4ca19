/**
 * Skipping over the parts of SQL text whose content is not SQL (comments, quoted strings and
 * identifiers, dollar quotes), for the scanners that look for statement boundaries or comments
 * without parsing.
 */

/** Index just past a (nested) block comment starting at `at`. */
export function endOfBlockComment(sql: string, at: number): number {
  let nesting = 1;
  let index = at + 2;
  while (nesting > 0) {
    const close = sql.indexOf('*/', index);
    if (close === -1) return sql.length;
    const open = sql.indexOf('/*', index);
    if (open !== -1 && open < close) {
      nesting++;
      index = open + 2;
    } else {
      nesting--;
      index = close + 2;
    }
  }
  return index;
}

/** Index just past a quoted string or identifier starting at `at`; a doubled quote (or, with backslash escapes, an escaped one) stays inside. */
export function endOfQuoted(sql: string, at: number, quote: number, backslashEscapes: boolean): number {
  const mark = String.fromCharCode(quote);
  let index = at + 1;
  for (;;) {
    const found = sql.indexOf(mark, index);
    if (found === -1) return sql.length;
    if (backslashEscapes) {
      let backslashes = 0;
      while (found - backslashes - 1 > at && sql.charCodeAt(found - backslashes - 1) === 0x5c) backslashes++;
      if (backslashes % 2 === 1) {
        index = found + 1;
        continue;
      }
    }
    if (sql.charCodeAt(found + 1) === quote) {
      index = found + 2;
      continue;
    }
    return found + 1;
  }
}

/** E'...' (and e'...'): backslash escapes apply. */
export function isEscapeString(sql: string, quoteAt: number): boolean {
  const before = sql.charCodeAt(quoteAt - 1);
  return (before === 0x45 || before === 0x65) && !isIdentifierChar(sql.charCodeAt(quoteAt - 2));
}

/** `$tag$` or `$$` opening a dollar quote at `at`, unless the `$` is part of an identifier or a `$1` parameter. */
export function dollarTag(sql: string, at: number): string | undefined {
  if (at > 0 && isIdentifierChar(sql.charCodeAt(at - 1))) return undefined;
  const match = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(sql.slice(at, at + 66));
  return match?.[0];
}

function isIdentifierChar(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a) || code === 0x5f || code === 0x24 || code > 0x7f;
}
