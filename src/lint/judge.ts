import { OBSERVED_NODE_TYPES, type FileContext } from './context.js';
import type { SourceMap } from './source-map.js';
import { coversStatement, type Suppression } from './suppressions.js';
import type { AlterTableStmt } from 'libpg-query';
import { addedConstraints } from './ast.js';
import type { Finding, LintRule, RuleHit, Statement, SuppressedFinding } from './types.js';

/**
 * Rules by the statement type they judge: dispatch is a map lookup, not a scan. An ALTER TABLE
 * rule that names the commands it is about (`alterTableCommands`) carries them as a bit mask, so
 * a statement is put only before the rules whose bits it has; mask 0: every statement of the type.
 */
export interface Dispatch {
  readonly byType: ReadonlyMap<string, ReadonlyArray<{ readonly rule: LintRule; readonly mask: number }>>;
  readonly bits: ReadonlyMap<string, number>;
  /** The rules that also judge the whole file once its last statement is judged. */
  readonly atEndOfFile: readonly LintRule[];
}

export function buildDispatch(rules: readonly LintRule[]): Dispatch {
  const bits = new Map<string, number>();
  const byType = new Map<string, Array<{ rule: LintRule; mask: number }>>();
  for (const rule of rules) {
    let mask = 0;
    for (const kind of rule.alterTableCommands ?? []) {
      if (!bits.has(kind)) {
        if (bits.size === 31) throw new Error(`rule ${rule.id}: more than 31 distinct alterTableCommands across the rules`);
        bits.set(kind, 1 << bits.size);
      }
      mask |= bits.get(kind) as number;
    }
    for (const type of rule.nodeTypes) {
      const list = byType.get(type) ?? [];
      list.push({ rule, mask: type === 'AlterTableStmt' ? mask : 0 });
      byType.set(type, list);
    }
  }
  return { byType, bits, atEndOfFile: rules.filter((rule) => rule.atEndOfFile !== undefined) };
}

/** The bits (see Dispatch) of what an ALTER TABLE's commands are and the constraints they add. */
function commandMask(node: AlterTableStmt, bits: ReadonlyMap<string, number>): number {
  let mask = 0;
  for (const item of node.cmds ?? []) {
    if (!('AlterTableCmd' in item)) continue;
    const command = item.AlterTableCmd;
    mask |= bits.get(command.subtype as string) ?? 0;
    for (const constraint of addedConstraints(command)) mask |= bits.get(constraint?.contype as string) ?? 0;
  }
  return mask;
}

/** Statement types worth turning into objects: those a rule judges or the context learns from. */
export function wantedTypes(dispatch: Dispatch): ReadonlySet<string> {
  return new Set([...dispatch.byType.keys(), ...OBSERVED_NODE_TYPES]);
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
export function judgeStatements(statements: Iterable<Statement>, context: FileContext, dispatch: Dispatch, file: FileUnderLint, base: number, out: Verdicts): void {
  for (const statement of statements) {
    const rules = dispatch.byType.get(statement.type);
    if (rules) {
      let mask = -1;
      for (const { rule, mask: wants } of rules) {
        if (wants !== 0) {
          if (mask === -1) mask = commandMask((statement as Statement<'AlterTableStmt'>).node, dispatch.bits);
          if ((mask & wants) === 0) continue;
        }
        for (const hit of rule.check(statement, context)) {
          report(file, rule, hit, base + (hit.offset ?? statement.offset), base + statement.offset, statement.length, out);
        }
      }
    }
    context.observe(statement);
  }
}

/** Asks the rules that judge whole files, once the file's last statement has been judged; hits are placed at their own offset. */
export function judgeEndOfFile(context: FileContext, dispatch: Dispatch, file: FileUnderLint, out: Verdicts): void {
  for (const rule of dispatch.atEndOfFile) {
    for (const hit of rule.atEndOfFile?.(context) ?? []) {
      const at = hit.offset ?? file.map.byteLength;
      report(file, rule, hit, at, at, 1, out);
    }
  }
}

/**
 * A hit at byte `at` of the file as a finding, or as a suppressed one when a suppression covers the
 * statement of `length` bytes from byte `start`.
 */
function report(file: FileUnderLint, rule: LintRule, hit: RuleHit, at: number, start: number, length: number, out: Verdicts): void {
  const result = findingAt(file, rule.id, at, hit.message ?? rule.message, {
    category: rule.category,
    severity: rule.severity,
    safeAlternative: hit.safeAlternative ?? rule.safeAlternative,
  });
  const suppression = findSuppression(file, rule.id, start, length);
  if (suppression) {
    suppression.used = true;
    out.suppressed.push({ ...result, reason: suppression.reason, suppressionLine: suppression.line });
  } else {
    out.findings.push(result);
  }
}

function findSuppression(file: FileUnderLint, ruleId: string, start: number, length: number): Suppression | undefined {
  if (file.suppressions.length === 0) return undefined;
  let startLine: number | undefined;
  let endLine: number | undefined;
  for (const suppression of file.suppressions) {
    if (!suppression.ruleIds.includes(ruleId)) continue;
    if (suppression.scope === 'file') return suppression;
    startLine ??= file.map.lineOf(start);
    endLine ??= file.map.lineOf(Math.max(start, start + length - 1));
    if (coversStatement(suppression, startLine, endLine, file.map)) return suppression;
  }
  return undefined;
}
