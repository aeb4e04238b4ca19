import { writeSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Argv, CommandModule } from 'yargs';
import { COMMAND_LINES } from './commands.js';
import { formatReport, OUTPUT_FORMATS, type OutputFormat } from '../lint/format/index.js';
import { allRules } from '../../schema-checks/index.js';
import { lintMigrations } from '../lint/engine.js';
import { DEFAULT_SETTINGS } from '../lint/types.js';
import { ERROR_CODES, type CodedError } from '../errors/codes.js';
import type { ConfiguredMigrations } from '../migrations/configured.js';
import { compileMigrationPattern } from '../migrations/file-name.js';
import { selectMigrations } from '../migrations/select.js';

// The global --config default (src/config/load.ts), not imported: linting named files must not load the config machinery.
const DEFAULT_CONFIG_FILE = 'orchestrator.config.ts';

/** 0: nothing at error level; 1: error-level findings (including SQL that does not parse); 2: bad input. */
export const LINT_EXIT = { clean: 0, findings: 1, badInput: 2 } as const;

export interface LintMigrationsArgs {
  paths?: string[];
  base?: string;
  format: OutputFormat;
  /** Unset: the config's database.migrations.pgVersion when it is read, else 15. */
  'pg-version'?: number;
  /** Unset: the config's database.migrations.transactionPerFile when it is read, else false. */
  'transaction-per-file'?: boolean;
  /** Unset: the config's database.migrations.hygiene when it is read, else false. */
  hygiene?: boolean;
  /** Unset: the config's database.migrations.requireStatementTimeout when it is read, else true. */
  'require-statement-timeout'?: boolean;
  pattern?: string;
  /** Read for database.migrations when neither paths nor --base are given. */
  config?: string;
}

export interface LintIo {
  stdout(text: string): void;
  stderr(text: string): void;
  cwd: string;
  /**
   * Told how much SQL the lint will parse (in characters) as soon as it knows: once the migrations
   * are found, before any is parsed (its files and the earlier migrations read for context), and
   * before that for a named file large enough for the parse worker. The published entry tunes V8
   * to it (lint-script-cache.ts).
   */
  beforeLint?(sqlLength: number): void;
}

/**
 * Text goes out in pieces of at most this many UTF-16 code units: written whole, a large folder's
 * report (2.3 MB for lemmy's 342 migrations) is first copied into one UTF-8 buffer as large, which
 * took 2 to 7 ms (its fresh pages) against 1.1 in pieces.
 */
const WRITE_PIECE = 64 * 1024;

/**
 * Writes to file descriptor `fd` (stdout or stderr) synchronously, without the stream node makes of it: for a
 * pipe (CI, the benchmark) that stream loads node's net and stream modules, ~4 ms of a lint that
 * squawk finishes in ~50. A reader that quits early (`| head`) loses the rest of the output, and the
 * lint carries on to exit with its own code. A descriptor that would block (one a parent made
 * non-blocking) gets the rest through the stream, which waits for it; so does Windows, whose
 * console wants the stream's encoding.
 */
export function directWriter(fd: number, stream: () => NodeJS.WriteStream): (text: string) => void {
  let fallback: NodeJS.WriteStream | undefined;
  let lost = false;
  const write = (bytes: Uint8Array) => {
    if (!fallback) {
      fallback = stream();
      fallback.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code !== 'EPIPE') throw error;
      });
    }
    fallback.write(bytes);
  };
  const writePiece = (text: string) => {
    if (fallback || process.platform === 'win32') return write(Buffer.from(text, 'utf8'));
    let bytes: Buffer | undefined;
    let at = 0;
    try {
      // The string as it is, without a copy into a Buffer: one write takes it whole unless a
      // signal or a non-blocking reader cuts it short; then the rest goes as bytes.
      at = writeSync(fd, text);
      if (at === Buffer.byteLength(text, 'utf8')) return;
      bytes = Buffer.from(text, 'utf8');
      while (at < bytes.length) at += writeSync(fd, bytes, at);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EPIPE') lost = true;
      else if (code === 'EAGAIN') write((bytes ?? Buffer.from(text, 'utf8')).subarray(at));
      else throw error;
    }
  };
  return (text) => {
    for (let start = 0; start < text.length && !lost; ) {
      let end = Math.min(start + WRITE_PIECE, text.length);
      // Never between the halves of a surrogate pair: each would be written as U+FFFD.
      const last = text.charCodeAt(end - 1);
      if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--;
      writePiece(text.slice(start, end));
      start = end;
    }
  };
}

export const processIo: LintIo = {
  stdout: directWriter(1, () => process.stdout),
  stderr: directWriter(2, () => process.stderr),
  get cwd() {
    return process.cwd();
  },
};

const PATHS_DESCRIPTION = 'migration files or directories (with --base: where to look)';

/**
 * The options, described once for both parsers: yargs under `ship`, and node's own parseArgs in
 * the standalone entry (lint-migrations-main), which CI runs and which should not pay ~0.1 s to
 * load yargs.
 */
const OPTIONS = {
  base: { type: 'string', describe: 'lint only the migration files added or changed since this git ref (e.g. origin/main)' },
  format: { type: 'string', choices: OUTPUT_FORMATS, default: 'text', describe: 'text, github (workflow annotations) or json' },
  'pg-version': { type: 'number', describe: `major PostgreSQL version the migrations run on (default: the config's, else ${DEFAULT_SETTINGS.pgVersion})` },
  'transaction-per-file': { type: 'boolean', describe: "the migration runner wraps each file in a transaction (default: the config's, else false)" },
  hygiene: { type: 'boolean', describe: "also lint schema style: varchar(n), int keys, serial, timestamp, long names, missing schema (default: the config's, else false)" },
  'require-statement-timeout': {
    type: 'boolean',
    describe: "flag scans and rewrites under a blocking lock with no statement_timeout; --no-require-statement-timeout when the role sets one (default: the config's, else true)",
  },
  pattern: { type: 'string', describe: 'regular expression with a named group "version" for other file layouts' },
  config: { type: 'string', alias: 'c', describe: `with no paths and no --base: lint database.migrations.dir of this config (default ${DEFAULT_CONFIG_FILE})` },
} as const satisfies Record<string, { type: 'string' | 'number' | 'boolean'; describe: string; alias?: string; choices?: readonly string[]; default?: string }>;

function lintOptions<T>(argv: Argv<T>): Argv<T> {
  let built = argv.positional('paths', { type: 'string', array: true, describe: PATHS_DESCRIPTION });
  for (const [name, option] of Object.entries(OPTIONS)) built = built.option(name, { ...option });
  return built;
}

class UsageProblem extends Error {}

/** `argv` as yargs would read it for this command, with node's parseArgs; throws UsageProblem. */
function parseLintArgs(argv: readonly string[]): LintMigrationsArgs | 'help' {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const [name, option] of Object.entries(OPTIONS)) {
    options[name] = { type: option.type === 'boolean' ? 'boolean' : 'string', ...('alias' in option ? { short: option.alias } : {}) };
    if (option.type === 'boolean') options[`no-${name}`] = { type: 'boolean' };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageProblem((error as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help) return 'help';
  const format = (values.format as string | undefined) ?? OPTIONS.format.default;
  if (!(OUTPUT_FORMATS as readonly string[]).includes(format)) {
    throw new UsageProblem(`--format ${JSON.stringify(format)}: Choices: ${OUTPUT_FORMATS.map((choice) => JSON.stringify(choice)).join(', ')}`);
  }
  const version = values['pg-version'] as string | undefined;
  const flag = (name: string) => (values[`no-${name}`] ? false : (values[name] as boolean | undefined));
  const transaction = flag('transaction-per-file');
  const hygiene = flag('hygiene');
  const statementTimeout = flag('require-statement-timeout');
  return {
    paths: parsed.positionals,
    format: format as OutputFormat,
    ...(values.base !== undefined ? { base: values.base as string } : {}),
    ...(version !== undefined ? { 'pg-version': Number(version) } : {}),
    ...(transaction !== undefined ? { 'transaction-per-file': transaction } : {}),
    ...(hygiene !== undefined ? { hygiene } : {}),
    ...(statementTimeout !== undefined ? { 'require-statement-timeout': statementTimeout } : {}),
    ...(values.pattern !== undefined ? { pattern: values.pattern as string } : {}),
    ...(values.config !== undefined ? { config: values.config as string } : {}),
  };
}

function usage(): string {
  const lines = [`ship ${COMMAND_LINES['lint-migrations'].command}\n\n${COMMAND_LINES['lint-migrations'].describe}\n`, `  paths  ${PATHS_DESCRIPTION}`];
  for (const [name, option] of Object.entries(OPTIONS)) {
    const flag = `${'alias' in option ? `-${option.alias}, ` : ''}--${name}`;
    const choices = 'choices' in option ? ` [${option.choices.join(', ')}]` : '';
    lines.push(`  ${flag.padEnd(26)} ${option.describe}${choices}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The lint itself, after argument parsing: returns the exit code. */
export async function runLintMigrations(args: LintMigrationsArgs, io: LintIo = processIo): Promise<number> {
  const flagVersion = args['pg-version'];
  if (flagVersion !== undefined && (!Number.isInteger(flagVersion) || flagVersion < 9 || flagVersion > 99)) {
    io.stderr(`ship lint-migrations: --pg-version must be a major version such as 15, not ${flagVersion}\n`);
    return LINT_EXIT.badInput;
  }
  try {
    let paths = args.paths ?? [];
    // Flags win over the config, the config over the defaults.
    let configured: Partial<Pick<ConfiguredMigrations, 'pattern' | 'transactionPerFile' | 'pgVersion' | 'hygiene' | 'requireStatementTimeout' | 'lockTimeoutPreset'>> = {};
    if (paths.length === 0 && args.base === undefined) {
      // Loaded only here: linting named files never pays for evaluating a TypeScript config.
      const { readConfiguredMigrations } = await import('../migrations/configured.js');
      const fromConfig = await readConfiguredMigrations(args.config ?? DEFAULT_CONFIG_FILE, io.cwd);
      paths = [fromConfig.dir];
      configured = fromConfig;
    }
    const pgVersion = flagVersion ?? configured.pgVersion ?? DEFAULT_SETTINGS.pgVersion;
    const transactionPerFile = args['transaction-per-file'] ?? configured.transactionPerFile ?? DEFAULT_SETTINGS.transactionPerFile;
    const hygiene = args.hygiene ?? configured.hygiene ?? DEFAULT_SETTINGS.hygiene;
    const requireStatementTimeout = args['require-statement-timeout'] ?? configured.requireStatementTimeout ?? DEFAULT_SETTINGS.requireStatementTimeout;
    const patternSource = args.pattern ?? configured.pattern;
    const pattern = patternSource === undefined ? undefined : compileMigrationPattern(patternSource);
    const selection = await selectMigrations(paths, {
      cwd: io.cwd,
      ...(args.base !== undefined ? { base: args.base } : {}),
      ...(pattern ? { pattern } : {}),
    });
    for (const notice of selection.notices) io.stderr(`ship lint-migrations: ${notice}\n`);
    if (selection.files.length === 0) {
      io.stderr(`ship lint-migrations: no migration files changed since ${args.base}\n`);
      if (args.format === 'json')
        io.stdout(formatReport({ files: [], statementCount: 0, findings: [], suppressed: [], errorCount: 0, warningCount: 0, skippedContext: [] }, 'json'));
      return LINT_EXIT.clean;
    }
    if (io.beforeLint) {
      let sqlLength = 0;
      for (const file of [...selection.files, ...selection.history]) sqlLength += file.sql.length;
      io.beforeLint(sqlLength);
    }
    const lockTimeoutPreset = configured.lockTimeoutPreset ?? false;
    const report = await lintMigrations(selection.files, {
      rules: allRules,
      pgVersion,
      transactionPerFile,
      hygiene,
      requireStatementTimeout,
      lockTimeoutPreset,
      history: selection.history,
    });
    for (const skipped of report.skippedContext) {
      io.stderr(
        `ship lint-migrations: warning: earlier migration ${skipped.file} was not read for context: it ${skipped.reason.replace(/; split .*$/, '')}; rules that need the tables and columns it made may misjudge the files linted\n`,
      );
    }
    io.stdout(formatReport(report, args.format));
    return report.errorCount > 0 ? LINT_EXIT.findings : LINT_EXIT.clean;
  } catch (error) {
    // Every error about the input (files, git base, a phase marker, the config) carries one of these
    // codes, whichever module threw it: compared by their text, as the published lint reads a config
    // through tsc's copy of the modules (scripts/bundle-lint.mjs).
    const code = error instanceof Error ? (error as Partial<CodedError>).shipCode?.code : undefined;
    const inputError = code === ERROR_CODES.migrationInputUnreadable.code || code === ERROR_CODES.migrationPhaseInvalid.code;
    if (error instanceof Error && (inputError || error.message.startsWith('migrations.pattern'))) {
      io.stderr(`ship lint-migrations: ${error.message}\n`);
      return LINT_EXIT.badInput;
    }
    throw error;
  }
}

export const lintMigrationsCommand: CommandModule<object, LintMigrationsArgs> = {
  ...COMMAND_LINES['lint-migrations'],
  builder: (argv) => lintOptions(argv) as unknown as Argv<LintMigrationsArgs>,
  handler: async (args) => {
    process.exitCode = await runLintMigrations(args);
  },
};

/** Parses `argv` (without `node script`) as `ship lint-migrations` does and runs it; usage errors exit 2. */
export async function runLintCli(argv: readonly string[], io: LintIo = processIo): Promise<number> {
  let parsed: LintMigrationsArgs | 'help';
  try {
    parsed = parseLintArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageProblem)) throw error;
    io.stderr(`ship lint-migrations: ${error.message}\n`);
    return LINT_EXIT.badInput;
  }
  if (parsed === 'help') {
    io.stdout(usage());
    return LINT_EXIT.clean;
  }
  return runLintMigrations(parsed, io);
}
