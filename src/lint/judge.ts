import { OBSERVED_NODE_TYPES, type FileContext } from './context.js';
import type { SourceMap } from './source-map.js';
import { coversStatement, type Suppression } from './suppressions.js';
import type { Finding, LintRule, NodeTypeName, Statement, SuppressedFinding } from './types.js';

/** Rules by the statement type they judge: dispatch is a map lookup, not a scan. */
export type Dispatch = ReadonlyMap<string, readonly LintRule[]>;

export function buildDispatch(rules: readonly LintRule[]): Dispatch {
  const dispatch = new Map<string, LintRule[]>();
  for (const rule of rules) {
    for (const type of rule.nodeTypes) {
      const list = dispatch.get(type) ?? [];
      list.push(rule);
      dispatch.set(type, list);
    }
  }
  return dispatch;
}

/** Statement types worth turning into objects: those a rule judges or the context learns from. */
export function wantedTypes(dispatch: Dispatch): ReadonlySet<string> {
  return new Set([...dispatch.keys(), ...OBSERVED_NODE_TYPES]);
}

/** The file a part of which is being judged: its display path, positions and suppression comments. */
export interface FileUnderLint {
  readonly path: string;
  readonly map: SourceMap;
  readonly suppressions: readonly Suppression[];
}

export interface Verdicts {
  readonly findings: Finding[];
  readonly suppressed: SuppressedFinding[];
}

export function findingAt(file: FileUnderLint, ruleId: string, offset: number, message: string, rest: Partial<Finding> = {}): Finding {
  const { line, column } = file.map.position(offset);
  return { ruleId, category: 'hygiene', severity: 'error', message, file: file.path, line, column, sourceLine: file.map.lineText(line), ...rest };
}

/**
 * Puts each statement before the rules for its type, then moves the context past it. Statement
 * offsets are bytes in the text that was parsed, which starts `base` bytes into the file.
 */
export function judgeStatements(
  statements: Iterable<Statement>,
  context: FileContext,
  dispatch: Dispatch,
  file: FileUnderLint,
  base: number,
  out: Verdicts,
): void {
  for (const statement of statements) {
    const rules = dispatch.get(statement.type as NodeTypeName);
    if (rules) {
      for (const rule of rules) {
        for (const hit of rule.check(statement, context)) {
          const result = findingAt(file, rule.id, base + (hit.offset ?? statement.offset), hit.message ?? rule.message, {
            category: rule.category,
            severity: rule.severity,
            safeAlternative: rule.safeAlternative,
          });
          const suppression = findSuppression(file, rule.id, statement, base);
          if (suppression) {
            suppression.used = true;
            out.suppressed.push({ ...result, reason: suppression.reason, suppressionLine: suppression.line });
          } else {
            out.findings.push(result);
          }
        }
      }
    }
    context.observe(statement);
  }
}

function findSuppression(file: FileUnderLint, ruleId: string, statement: Statement, base: number): Suppression | undefined {
  if (file.suppressions.length === 0) return undefined;
  let startLine: number | undefined;
  let endLine: number | undefined;
  for (const suppression of file.suppressions) {
    if (!suppression.ruleIds.includes(ruleId)) continue;
    if (suppression.scope === 'file') return suppression;
    const start = base + statement.offset;
    startLine ??= file.map.lineOf(start);
    endLine ??= file.map.lineOf(Math.max(start, start + statement.length - 1));
    if (coversStatement(suppression, startLine, endLine, file.map)) return suppression;
  }
  return undefined;
}
