import { dollarTag, endOfBlockComment, endOfQuoted, isEscapeString } from './sql-skip.js';

/**
 * Where to cut a large migration so each part can be parsed on its own: just after a semicolon
 * that ends a statement, at or after `fraction` of the text. Quotes, dollar quotes, comments and
 * parentheses are skipped. The cut is only a guess at a statement boundary: the caller parses the
 * parts and, if one fails, parses the whole text instead (a cut inside BEGIN ATOMIC ... END leaves
 * an unfinished statement in the first part, which does not parse).
 */
export function splitPoint(sql: string, fraction = 0.5): number | undefined {
  return splitPoints(sql, [fraction])[0];
}

/** splitPoint for several ascending fractions in one pass over the text; fewer cuts when the text runs out. */
export function splitPoints(sql: string, fractions: readonly number[]): number[] {
  const length = sql.length;
  const cuts: number[] = [];
  if (fractions.length === 0) return cuts;
  let target = Math.floor(length * (fractions[0] as number));
  let depth = 0;
  let at = 0;
  // The regular expression engine finds the next character that matters in native code: a
  // character-by-character loop costs ~10 ms per 250 KB in the baseline code a one-shot lint runs.
  const special = /--|\/\*|['"$();]/g;
  while (at < length) {
    special.lastIndex = at;
    const next = special.exec(sql);
    if (!next) break;
    at = next.index;
    const code = sql.charCodeAt(at);
    switch (code) {
      case 0x2d /* - */:
        if (sql.charCodeAt(at + 1) === 0x2d) {
          const end = sql.indexOf('\n', at);
          at = end === -1 ? length : end + 1;
          continue;
        }
        break;
      case 0x2f /* / */:
        if (sql.charCodeAt(at + 1) === 0x2a) {
          at = endOfBlockComment(sql, at);
          continue;
        }
        break;
      case 0x27 /* ' */:
        at = endOfQuoted(sql, at, 0x27, isEscapeString(sql, at));
        continue;
      case 0x22 /* " */:
        at = endOfQuoted(sql, at, 0x22, false);
        continue;
      case 0x24 /* $ */:
        {
          const tag = dollarTag(sql, at);
          if (tag !== undefined) {
            const end = sql.indexOf(tag, at + tag.length);
            at = end === -1 ? length : end + tag.length;
            continue;
          }
          break;
        }
      case 0x28 /* ( */:
        depth++;
        break;
      case 0x29 /* ) */:
        depth--;
        break;
      case 0x3b /* ; */:
        if (depth === 0 && at >= target && at + 1 < length) {
          cuts.push(at + 1);
          if (cuts.length === fractions.length) return cuts;
          target = Math.floor(length * (fractions[cuts.length] as number));
        }
        break;
      default:
        break;
    }
    at++;
  }
  return cuts;
}
