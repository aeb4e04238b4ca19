import { readFile } from 'node:fs/promises';
import type { RawStmt } from 'libpg-query';
import { allRules } from '../../schema-checks/index.js';
import { FileContext, RunState } from './context.js';
import { loadParser, parseSql, SqlSyntaxError } from './parser.js';
import { SourceMap } from './source-map.js';
import { coversStatement, readSuppressions, type Suppression } from './suppressions.js';
import {
  DEFAULT_SETTINGS,
  type Finding,
  type LintReport,
  type LintRule,
  type LintSettings,
  type MigrationSource,
  type NodeTypeName,
  type RuleHit,
  type Statement,
  type SuppressedFinding,
} from './types.js';

/** Findings the engine itself raises; they cannot be suppressed. */
export const ENGINE_RULE_IDS = ['syntax-error', 'invalid-suppression', 'unused-suppression'] as const;

export interface LintOptions extends Partial<LintSettings> {
  /**
   * Migrations that ran before the linted ones: replayed for context only (column types,
   * validated NOT NULL checks), never reported on.
   */
  history?: ReadonlyArray<string | MigrationSource>;
  rules?: readonly LintRule[];
}

type Dispatch = Map<string, LintRule[]>;

function buildDispatch(rules: readonly LintRule[]): Dispatch {
  const dispatch: Dispatch = new Map();
  for (const rule of rules) {
    for (const type of rule.nodeTypes) {
      const list = dispatch.get(type) ?? [];
      list.push(rule);
      dispatch.set(type, list);
    }
  }
  return dispatch;
}

let defaultDispatch: Dispatch | undefined;

/** Statement types some rule judges (`AlterTableStmt`, `IndexStmt`, ...): what static lint sees into. */
export function judgedNodeTypes(rules: readonly LintRule[] = allRules): ReadonlySet<string> {
  return new Set(rules.flatMap((rule) => rule.nodeTypes));
}

/**
 * Lints migration files in the order given (the order they will run): each file is parsed once
 * with PostgreSQL's own parser, and each statement goes only to the rules for its node type.
 * Unparsable SQL becomes a `syntax-error` finding; an unreadable file throws, naming it.
 */
export async function lintMigrations(
  files: ReadonlyArray<string | MigrationSource>,
  options: LintOptions = {},
): Promise<LintReport> {
  await loadParser();
  const settings: LintSettings = {
    pgVersion: options.pgVersion ?? DEFAULT_SETTINGS.pgVersion,
    transactionPerFile: options.transactionPerFile ?? DEFAULT_SETTINGS.transactionPerFile,
  };
  const rules = options.rules ?? allRules;
  const dispatch = options.rules ? buildDispatch(rules) : (defaultDispatch ??= buildDispatch(rules));
  const knownRuleIds = new Set(rules.map((rule) => rule.id));
  const run = new RunState();
  for (const file of options.history ?? []) {
    const source = await loadSource(file);
    const parsed = await tryParse(source.sql);
    if (!('error' in parsed)) replay(parsed.stmts, new FileContext(settings, run, source.transaction ?? settings.transactionPerFile), source.sql);
  }

  const findings: Finding[] = [];
  const suppressed: SuppressedFinding[] = [];
  const paths: string[] = [];
  let statementCount = 0;
  for (const file of files) {
    const source = await loadSource(file);
    paths.push(source.path);
    statementCount += await lintFile(source, settings, run, dispatch, knownRuleIds, findings, suppressed);
  }
  let errorCount = 0;
  for (const finding of findings) if (finding.severity === 'error') errorCount++;
  return { files: paths, statementCount, findings, suppressed, errorCount, warningCount: findings.length - errorCount };
}

/** Lints one SQL text as if it were a migration file named `path` (tests, editors, the pre-flight's trace mode). */
export function lintSql(sql: string, options: LintOptions & { path?: string } = {}): Promise<LintReport> {
  const { path = 'migration.sql', ...rest } = options;
  return lintMigrations([{ path, sql }], rest);
}

async function loadSource(file: string | MigrationSource): Promise<MigrationSource> {
  if (typeof file !== 'string') return file;
  try {
    return { path: file, sql: await readFile(file, 'utf8') };
  } catch (error) {
    throw new Error(`cannot read migration ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/** `characterOffset`: where the parser gave up, counted in characters (unlike statement locations). */
type ParseOutcome = { stmts: RawStmt[] } | { error: string; characterOffset: number };

async function tryParse(sql: string): Promise<ParseOutcome> {
  try {
    return { stmts: (await parseSql(sql)).stmts ?? [] };
  } catch (error) {
    if (error instanceof SqlSyntaxError) return { error: error.message, characterOffset: error.characterOffset };
    throw error;
  }
}

function toStatement(raw: RawStmt, index: number, byteLength: number): Statement | undefined {
  const wrapper = raw.stmt as Record<string, unknown> | undefined;
  if (!wrapper) return undefined;
  let type: string | undefined;
  for (const key in wrapper) {
    type = key;
    break;
  }
  if (type === undefined) return undefined;
  const offset = raw.stmt_location ?? 0;
  // The last statement of a file without a trailing semicolon has no length: it runs to the end.
  const length = raw.stmt_len || byteLength - offset;
  return { type, node: wrapper[type], offset, length, index } as Statement;
}

function replay(stmts: readonly RawStmt[], context: FileContext, sql: string): void {
  const byteLength = Buffer.byteLength(sql);
  stmts.forEach((raw, index) => {
    const statement = toStatement(raw, index, byteLength);
    if (statement) context.observe(statement);
  });
}

async function lintFile(
  source: MigrationSource,
  settings: LintSettings,
  run: RunState,
  dispatch: Dispatch,
  knownRuleIds: ReadonlySet<string>,
  findings: Finding[],
  suppressed: SuppressedFinding[],
): Promise<number> {
  const map = new SourceMap(source.sql);
  const finding = (ruleId: string, offset: number, message: string, rest: Partial<Finding> = {}): Finding => {
    const { line, column } = map.position(offset);
    return { ruleId, category: 'hygiene', severity: 'error', message, file: source.path, line, column, sourceLine: map.lineText(line), ...rest };
  };
  const parsed = await tryParse(source.sql);
  if ('error' in parsed) {
    findings.push(finding('syntax-error', map.byteOffsetOfCharacter(parsed.characterOffset), `SQL does not parse: ${parsed.error}`));
    return 0;
  }
  const { suppressions, problems } = readSuppressions(map, knownRuleIds);
  for (const problem of problems) {
    findings.push({ ruleId: 'invalid-suppression', category: 'hygiene', severity: 'error', message: problem.message, file: source.path, line: problem.line, column: problem.column, sourceLine: map.lineText(problem.line) });
  }
  const context = new FileContext(settings, run, source.transaction ?? settings.transactionPerFile);
  const byteLength = map.byteLength;
  const statements = parsed.stmts;
  for (let index = 0; index < statements.length; index++) {
    const statement = toStatement(statements[index] as RawStmt, index, byteLength);
    if (!statement) continue;
    const rules = dispatch.get(statement.type as NodeTypeName);
    if (rules) {
      for (const rule of rules) {
        const hits = rule.check(statement, context);
        for (const hit of hits) {
          const result = finding(rule.id, hit.offset ?? statement.offset, hit.message ?? rule.message, {
            category: rule.category,
            severity: rule.severity,
            safeAlternative: rule.safeAlternative,
          });
          const suppression = findSuppression(suppressions, rule.id, statement, map);
          if (suppression) {
            suppression.used = true;
            suppressed.push({ ...result, reason: suppression.reason, suppressionLine: suppression.line });
          } else {
            findings.push(result);
          }
        }
      }
    }
    context.observe(statement);
  }
  for (const suppression of suppressions) {
    if (suppression.used) continue;
    findings.push({
      ruleId: 'unused-suppression',
      category: 'hygiene',
      severity: 'warning',
      message: `"ship:${suppression.scope === 'file' ? 'allow-file' : 'allow'} ${suppression.ruleIds.join(',')}" suppresses nothing${suppression.scope === 'statement' ? ' on the statement below or on this line' : ' in this file'}; remove it`,
      file: source.path,
      line: suppression.line,
      column: suppression.column,
      sourceLine: map.lineText(suppression.line),
    });
  }
  return statements.length;
}

function findSuppression(suppressions: readonly Suppression[], ruleId: string, statement: Statement, map: SourceMap): Suppression | undefined {
  if (suppressions.length === 0) return undefined;
  let startLine: number | undefined;
  let endLine: number | undefined;
  for (const suppression of suppressions) {
    if (!suppression.ruleIds.includes(ruleId)) continue;
    if (suppression.scope === 'file') return suppression;
    startLine ??= map.lineOf(statement.offset);
    endLine ??= map.lineOf(Math.max(statement.offset, statement.offset + statement.length - 1));
    if (coversStatement(suppression, startLine, endLine, map)) return suppression;
  }
  return undefined;
}
