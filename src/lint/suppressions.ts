import type { SourceMap } from './source-map.js';

/**
 * Suppression comments in the SQL:
 *
 *   -- ship:allow <rule-id>[,<rule-id>...] <reason>        the next statement (comment on its own
 *                                                          line(s) directly above it) or the
 *                                                          statement(s) on the same line
 *   -- ship:allow-file <rule-id>[,<rule-id>...] <reason>   every statement of the file
 *
 * The reason is mandatory: a suppression is a decision someone has to be able to read later.
 */
export interface Suppression {
  readonly scope: 'statement' | 'file';
  readonly ruleIds: readonly string[];
  readonly reason: string;
  readonly line: number;
  readonly column: number;
  /** Nothing but whitespace precedes the comment on its line. */
  readonly ownLine: boolean;
  used: boolean;
}

export interface SuppressionProblem {
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

const DIRECTIVE = /--\s*ship:([A-Za-z-]*)(.*)$/;
const COMMENT_ONLY_LINE = /^\s*--/;

export function readSuppressions(source: SourceMap, knownRuleIds: ReadonlySet<string>): { suppressions: Suppression[]; problems: SuppressionProblem[] } {
  const suppressions: Suppression[] = [];
  const problems: SuppressionProblem[] = [];
  if (!source.text.includes('ship:')) return { suppressions, problems };
  for (let line = 1; line <= source.lineCount; line++) {
    const text = source.lineText(line);
    const match = DIRECTIVE.exec(text);
    if (!match) continue;
    const column = match.index + 1;
    const [, directive = '', rest = ''] = match;
    // A migration's phase, read where the file is read (src/migrations/phase.ts), not a suppression.
    if (directive === 'phase') continue;
    if (directive !== 'allow' && directive !== 'allow-file') {
      problems.push({ line, column, message: `unknown directive "ship:${directive}"; write "-- ship:allow <rule-id> <reason>" or "-- ship:allow-file <rule-id> <reason>"` });
      continue;
    }
    const [idList = '', ...reasonWords] = rest.trim().split(/\s+/);
    const ruleIds = idList.split(',').filter((id) => id !== '');
    const reason = reasonWords.join(' ').trim();
    if (ruleIds.length === 0) {
      problems.push({ line, column, message: `"ship:${directive}" needs a rule id and a reason, e.g. "-- ship:${directive} drop-column column unused since release 42"` });
      continue;
    }
    const unknown = ruleIds.filter((id) => !knownRuleIds.has(id));
    if (unknown.length) {
      problems.push({ line, column, message: `unknown rule id ${unknown.map((id) => `"${id}"`).join(', ')} in "ship:${directive}"; see the rule ids in schema-checks/` });
      continue;
    }
    if (reason === '') {
      problems.push({
        line,
        column,
        message: `"ship:${directive} ${idList}" has no reason; say why this is safe, e.g. "-- ship:${directive} ${idList} table is empty in production"`,
      });
      continue;
    }
    suppressions.push({
      scope: directive === 'allow-file' ? 'file' : 'statement',
      ruleIds,
      reason,
      line,
      column,
      ownLine: text.slice(0, match.index).trim() === '',
      used: false,
    });
  }
  return { suppressions, problems };
}

/** Whether a statement-scope suppression covers the statement spanning lines `startLine..endLine`. */
export function coversStatement(suppression: Suppression, startLine: number, endLine: number, source: SourceMap): boolean {
  if (suppression.line >= startLine && suppression.line <= endLine) return true;
  if (!suppression.ownLine || suppression.line >= startLine) return false;
  for (let line = suppression.line + 1; line < startLine; line++) {
    if (!COMMENT_ONLY_LINE.test(source.lineText(line))) return false;
  }
  return true;
}
