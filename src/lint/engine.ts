import { FileContext, OBSERVED_NODE_TYPES, RunState } from './context.js';
import { buildDispatch, findingAt, judgeEndOfFile, judgeStatements, wantedTypes, type Dispatch, type FileUnderLint, type Verdicts } from './judge.js';
import { defaultThreads, MAIN_THREAD_SHARE, PARALLEL_MIN_BYTES, parseRemotely } from './parallel.js';
import { loadParser, parseSqlToJson, SqlParserFailure, SqlSyntaxError } from './parser.js';
import { readSqlFile } from './read-sql-file.js';
import { assertLintable, SqlInputError, sourceProblem } from './sql-input.js';
import { SourceMap } from './source-map.js';
import { splitPoint } from './split.js';
import { readStatements, StatementList } from './statements.js';
import { readSuppressions } from './suppressions.js';
import { DEFAULT_SETTINGS, type LintReport, type LintRule, type LintSettings, type MigrationPhase, type MigrationSource, type SkippedContext } from './types.js';

export interface LintOptions extends Partial<LintSettings> {
  /**
   * Migrations that ran before the linted ones: replayed for context only (column types,
   * validated NOT NULL checks), never reported on.
   */
  history?: ReadonlyArray<string | MigrationSource>;
  /** Threads a large file may be parsed on (default: 2 when a second core is free). */
  threads?: number;
}

/**
 * The rules come from the caller (schema-checks/ `allRules`, or one rule in its own tests):
 * the rules depend on the engine, never the engine on them.
 */
export interface LintOptionsWithRules extends LintOptions {
  rules: readonly LintRule[];
}

/**
 * Each rule set's dispatch tables, built once per phase and hygiene setting (the CLI and the
 * pre-flight lint with the same `allRules` every time): a contract migration goes only before the
 * rules that still matter once the old code is gone; the hygiene rules judge only when a project
 * turns them on.
 */
const dispatchByRules = new WeakMap<readonly LintRule[], Map<string, Record<MigrationPhase, Dispatch>>>();

/** A project turns the hygiene rules on (settings.hygiene); every other rule it is given always judges. */
function isActive(rule: LintRule, settings: LintSettings): boolean {
  return rule.category !== 'hygiene' || settings.hygiene;
}

function judgesContract(rule: LintRule): boolean {
  return rule.category !== 'compat' || rule.judgesContract === true;
}

function dispatchFor(rules: readonly LintRule[], settings: LintSettings): Record<MigrationPhase, Dispatch> {
  let built = dispatchByRules.get(rules);
  if (!built) {
    built = new Map();
    dispatchByRules.set(rules, built);
  }
  const key = settings.hygiene ? 'with hygiene' : 'without';
  let dispatch = built.get(key);
  if (!dispatch) {
    const active = rules.filter((rule) => isActive(rule, settings));
    dispatch = { expand: buildDispatch(active), contract: buildDispatch(active.filter(judgesContract)) };
    built.set(key, dispatch);
  }
  return dispatch;
}

/**
 * Data statements: a rule reads them for how much they change, while the locks they take come from
 * triggers and foreign keys the lint does not see.
 */
const DATA_STATEMENTS: ReadonlySet<string> = new Set(['UpdateStmt', 'DeleteStmt', 'InsertStmt', 'MergeStmt']);

/**
 * Statement types some rule judges for what it does to running code (`AlterTableStmt`, `IndexStmt`,
 * ...): what static lint sees into, so the locks --trace sees them take were already judged.
 * Hygiene rules judge the schema's style, not its locks: a CREATE TABLE they read is not thereby one
 * whose locks the lint accepted; nor is an UPDATE that a backfill rule read.
 */
export function judgedNodeTypes(rules: readonly LintRule[]): ReadonlySet<string> {
  return new Set(rules.flatMap((rule) => (rule.category === 'hygiene' ? [] : rule.nodeTypes.filter((type) => !DATA_STATEMENTS.has(type)))));
}

/**
 * Lints migration files in the order given (the order they will run): each file is parsed once
 * with PostgreSQL's own parser, and each statement goes only to the rules for its node type.
 * Unparsable SQL becomes a `syntax-error` finding; an unreadable file, or one the parser cannot
 * take (see sql-input.ts), throws a SqlInputError naming it. An earlier file that cannot be read
 * for context is skipped and listed in `skippedContext`: refusing would let one large old
 * migration block every later lint, and the file itself was checked when it was new.
 */
export async function lintMigrations(files: ReadonlyArray<string | MigrationSource>, options: LintOptionsWithRules): Promise<LintReport> {
  // Every file is read and checked before any is parsed: all the unlintable ones are named at once.
  const sources: MigrationSource[] = [];
  for (const file of files) sources.push(await loadSource(file));
  assertLintable(sources);
  const settings: LintSettings = {
    pgVersion: options.pgVersion ?? DEFAULT_SETTINGS.pgVersion,
    transactionPerFile: options.transactionPerFile ?? DEFAULT_SETTINGS.transactionPerFile,
    lockTimeoutPreset: options.lockTimeoutPreset ?? DEFAULT_SETTINGS.lockTimeoutPreset,
    hygiene: options.hygiene ?? DEFAULT_SETTINGS.hygiene,
    requireStatementTimeout: options.requireStatementTimeout ?? DEFAULT_SETTINGS.requireStatementTimeout,
  };
  const { rules } = options;
  const dispatchByPhase = dispatchFor(rules, settings);
  let threads = options.threads;
  const lint: FileLintSetup = {
    settings,
    run: new RunState(),
    dispatchByPhase,
    // Every phase's rules are a subset of expand's.
    wanted: wantedTypes(dispatchByPhase.expand),
    knownRuleIds: new Set(rules.map((rule) => rule.id)),
    inactiveRuleIds: new Set(rules.filter((rule) => !isActive(rule, settings)).map((rule) => rule.id)),
    threads: () => (threads ??= defaultThreads()),
  };
  const skippedContext: SkippedContext[] = [];
  for (const file of options.history ?? []) {
    const source = await loadSource(file);
    const problem = sourceProblem(source);
    if (problem !== undefined) {
      skippedContext.push({ file: source.path, reason: problem });
      continue;
    }
    let parsed: ParseOutcome;
    try {
      parsed = tryParse(await loadParser(), source.sql, OBSERVED_NODE_TYPES);
    } catch (error) {
      if (!(error instanceof SqlParserFailure)) throw error;
      skippedContext.push({ file: source.path, reason: error.message });
      continue;
    }
    if ('error' in parsed) continue;
    const context = new FileContext(settings, lint.run, source.transaction ?? settings.transactionPerFile);
    for (const statement of parsed) context.observe(statement);
  }

  const verdicts: Verdicts = { findings: [], suppressed: [] };
  const paths: string[] = [];
  let statementCount = 0;
  for (const source of sources) {
    paths.push(source.path);
    try {
      statementCount += await lintFile(source, lint, verdicts);
    } catch (error) {
      if (error instanceof SqlParserFailure) throw new SqlInputError(`${source.path} ${error.message}`);
      throw error;
    }
  }
  const { findings, suppressed } = verdicts;
  let errorCount = 0;
  for (const finding of findings) if (finding.severity === 'error') errorCount++;
  return { files: paths, statementCount, findings, suppressed, errorCount, warningCount: findings.length - errorCount, skippedContext };
}

/** Lints one SQL text as if it were a migration file named `path` (tests, editors, the pre-flight's trace mode). */
export function lintSql(sql: string, options: LintOptionsWithRules & { path?: string }): Promise<LintReport> {
  const { path = 'migration.sql', ...rest } = options;
  return lintMigrations([{ path, sql }], rest);
}

async function loadSource(file: string | MigrationSource): Promise<MigrationSource> {
  if (typeof file !== 'string') return file;
  try {
    return { path: file, ...(await readSqlFile(file)) };
  } catch (error) {
    throw new SqlInputError(`cannot read migration ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

type Parser = Awaited<ReturnType<typeof loadParser>>;

interface FileLintSetup {
  readonly settings: LintSettings;
  /** What earlier files established; each file's context reads and extends it. */
  readonly run: RunState;
  readonly dispatchByPhase: Readonly<Record<MigrationPhase, Dispatch>>;
  readonly wanted: ReadonlySet<string>;
  /** Suppressions may name every rule given; one naming only rules the project left off is not reported unused. */
  readonly knownRuleIds: ReadonlySet<string>;
  readonly inactiveRuleIds: ReadonlySet<string>;
  /**
   * Asked once a file is large enough to be parsed in parts, then fixed for the run: how busy the
   * machine is (/proc/loadavg, node:os) is read only then, ~1 ms that a folder of small migrations
   * need not pay.
   */
  readonly threads: () => number;
}

/** `characterOffset`: where the parser gave up, counted in characters (unlike statement locations). */
type ParseOutcome = StatementList | { error: string; characterOffset: number };

/** Throws SqlParserFailure when the parser itself gives out. */
function tryParse(parser: Parser, sql: string, wanted: ReadonlySet<string>): ParseOutcome {
  try {
    return readStatements(parseSqlToJson(parser, sql), Buffer.byteLength(sql), wanted);
  } catch (error) {
    if (error instanceof SqlSyntaxError) return { error: error.message, characterOffset: error.characterOffset };
    throw error;
  }
}

/** Lints one file into `out`; returns its number of statements. */
async function lintFile(source: MigrationSource, lint: FileLintSetup, out: Verdicts): Promise<number> {
  const map = new SourceMap(source.sql);
  const wrapped = source.transaction ?? lint.settings.transactionPerFile;
  const dispatch = lint.dispatchByPhase[source.phase ?? 'expand'];
  if (map.byteLength >= PARALLEL_MIN_BYTES && lint.threads() > 1) {
    const count = await lintFileInParts(source, map, wrapped, dispatch, lint, out);
    if (count !== undefined) return count;
  }
  // Asked per file: a parser that gave out on an earlier file has been replaced.
  const parsed = tryParse(await loadParser(), source.sql, lint.wanted);
  if ('error' in parsed) {
    out.findings.push(
      findingAt({ path: source.path, map, suppressions: [] }, 'syntax-error', map.byteOffsetOfCharacter(parsed.characterOffset), `SQL does not parse: ${parsed.error}`),
    );
    return 0;
  }
  const file = startFile(source, map, lint, out);
  const context = new FileContext(lint.settings, lint.run, wrapped, map);
  context.enterPart(0, parsed.count - 1);
  judgeStatements(parsed, context, dispatch, file, 0, out);
  judgeEndOfFile(context, dispatch, file, out);
  reportUnusedSuppressions(file, lint, out);
  return parsed.count;
}

/**
 * The file in parts: this thread parses the first and judges it while the worker parses the rest,
 * then judges the worker's parts in order. Undefined, with nothing reported and the run as it was,
 * when a part does not parse on its own or the worker fails: the caller then lints the whole file
 * here (which also places a syntax error exactly as a whole-file parse does).
 */
async function lintFileInParts(source: MigrationSource, map: SourceMap, wrapped: boolean, dispatch: Dispatch, lint: FileLintSetup, out: Verdicts): Promise<number | undefined> {
  const cut = splitPoint(source.sql, MAIN_THREAD_SHARE);
  if (cut === undefined) return undefined;
  const remote = await parseRemotely(source.sql.slice(cut), lint.wanted);
  if (!remote) return undefined;
  let local: ParseOutcome;
  try {
    local = tryParse(await loadParser(), source.sql.slice(0, cut), lint.wanted);
  } catch (error) {
    remote.close();
    throw error;
  }
  if ('error' in local) {
    remote.close();
    return undefined;
  }
  // Judged against a copy of the run, into a scratch list: if a later part fails, the whole-file
  // lint starts from an untouched run and nothing is reported twice.
  const run = lint.run.copy();
  const context = new FileContext(lint.settings, run, wrapped, map);
  const mine: Verdicts = { findings: [], suppressed: [] };
  const file = startFile(source, map, lint, mine);
  // The first part never holds the file's last statement.
  context.enterPart(0, -1);
  judgeStatements(local, context, dispatch, file, 0, mine);
  let count = local.count;
  let byteBase = map.byteOffsetOfCharacter(cut);
  for (;;) {
    const part = await remote.next();
    if (!part) return undefined;
    context.enterPart(byteBase, part.last ? count + part.count - 1 : -1);
    judgeStatements(new StatementList(part.json, part.byteLength, part.ranges, part.count, count), context, dispatch, file, byteBase, mine);
    count += part.count;
    byteBase += part.byteLength;
    if (part.last) break;
  }
  judgeEndOfFile(context, dispatch, file, mine);
  lint.run.adopt(run);
  out.findings.push(...mine.findings);
  out.suppressed.push(...mine.suppressed);
  reportUnusedSuppressions(file, lint, out);
  return count;
}

/** Reads the file's suppression comments, reporting the malformed ones. */
function startFile(source: MigrationSource, map: SourceMap, lint: FileLintSetup, out: Verdicts): FileUnderLint {
  const { suppressions, problems } = readSuppressions(map, lint.knownRuleIds);
  const file = { path: source.path, map, suppressions };
  for (const problem of problems) {
    out.findings.push({
      ruleId: 'invalid-suppression',
      category: 'hygiene',
      severity: 'error',
      message: problem.message,
      file: source.path,
      line: problem.line,
      column: problem.column,
      sourceLine: map.lineText(problem.line),
    });
  }
  return file;
}

function reportUnusedSuppressions(file: FileUnderLint, lint: FileLintSetup, out: Verdicts): void {
  for (const suppression of file.suppressions) {
    if (suppression.used || suppression.ruleIds.every((id) => lint.inactiveRuleIds.has(id))) continue;
    out.findings.push({
      ruleId: 'unused-suppression',
      category: 'hygiene',
      severity: 'warning',
      message: `"ship:${suppression.scope === 'file' ? 'allow-file' : 'allow'} ${suppression.ruleIds.join(',')}" suppresses nothing${suppression.scope === 'statement' ? ' on the statement below or on this line' : ' in this file'}; remove it`,
      file: file.path,
      line: suppression.line,
      column: suppression.column,
      sourceLine: file.map.lineText(suppression.line),
    });
  }
}
