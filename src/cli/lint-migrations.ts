import yargs, { type Argv, type CommandModule } from 'yargs';
import { formatReport, OUTPUT_FORMATS, type OutputFormat } from '../lint/format/index.js';
import { lintMigrations } from '../lint/engine.js';
import { DEFAULT_SETTINGS } from '../lint/types.js';
import { GitError } from '../migrations/changed-files.js';
import { MigrationDiscoveryError } from '../migrations/discovery.js';
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
  pattern?: string;
  /** Read for database.migrations when neither paths nor --base are given. */
  config?: string;
}

export interface LintIo {
  stdout(text: string): void;
  stderr(text: string): void;
  cwd: string;
}

const processIo: LintIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  get cwd() {
    return process.cwd();
  },
};

function lintOptions<T>(argv: Argv<T>) {
  return argv
    .positional('paths', { type: 'string', array: true, describe: 'migration files or directories (with --base: where to look)' })
    .option('base', { type: 'string', describe: 'lint only the migration files added or changed since this git ref (e.g. origin/main)' })
    .option('format', { choices: OUTPUT_FORMATS, default: 'text' as OutputFormat, describe: 'text, github (workflow annotations) or json' })
    .option('pg-version', { type: 'number', describe: `major PostgreSQL version the migrations run on (default: the config's, else ${DEFAULT_SETTINGS.pgVersion})` })
    .option('transaction-per-file', { type: 'boolean', describe: "the migration runner wraps each file in a transaction (default: the config's, else false)" })
    .option('pattern', { type: 'string', describe: 'regular expression with a named group "version" for other file layouts' })
    .option('config', { alias: 'c', type: 'string', describe: `with no paths and no --base: lint database.migrations.dir of this config (default ${DEFAULT_CONFIG_FILE})` });
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
    let configured: Partial<Pick<ConfiguredMigrations, 'pattern' | 'transactionPerFile' | 'pgVersion'>> = {};
    if (paths.length === 0 && args.base === undefined) {
      // Loaded only here: linting named files never pays for evaluating a TypeScript config.
      const { readConfiguredMigrations } = await import('../migrations/configured.js');
      const fromConfig = await readConfiguredMigrations(args.config ?? DEFAULT_CONFIG_FILE, io.cwd);
      paths = [fromConfig.dir];
      configured = fromConfig;
    }
    const pgVersion = flagVersion ?? configured.pgVersion ?? DEFAULT_SETTINGS.pgVersion;
    const transactionPerFile = args['transaction-per-file'] ?? configured.transactionPerFile ?? DEFAULT_SETTINGS.transactionPerFile;
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
      if (args.format === 'json') io.stdout(formatReport({ files: [], statementCount: 0, findings: [], suppressed: [], errorCount: 0, warningCount: 0 }, 'json'));
      return LINT_EXIT.clean;
    }
    const report = await lintMigrations(selection.files, { pgVersion, transactionPerFile, history: selection.history });
    io.stdout(formatReport(report, args.format));
    return report.errorCount > 0 ? LINT_EXIT.findings : LINT_EXIT.clean;
  } catch (error) {
    if (error instanceof MigrationDiscoveryError || error instanceof GitError || (error instanceof Error && error.message.startsWith('migrations.pattern'))) {
      io.stderr(`ship lint-migrations: ${error.message}\n`);
      return LINT_EXIT.badInput;
    }
    throw error;
  }
}

export const lintMigrationsCommand: CommandModule<object, LintMigrationsArgs> = {
  command: 'lint-migrations [paths..]',
  describe: 'check SQL migrations for changes that break running code or lock tables',
  builder: (argv) => lintOptions(argv) as unknown as Argv<LintMigrationsArgs>,
  handler: async (args) => {
    process.exitCode = await runLintMigrations(args);
  },
};

/** Parses `argv` (without `node script`) as `ship lint-migrations` does and runs it; usage errors exit 2. */
export async function runLintCli(argv: readonly string[], io: LintIo = processIo): Promise<number> {
  let usageError: string | undefined;
  let parsed: LintMigrationsArgs | undefined;
  await yargs([...argv])
    .scriptName('ship lint-migrations')
    .command(
      '$0 [paths..]',
      lintMigrationsCommand.describe as string,
      (argv) => lintOptions(argv),
      (args) => {
        parsed = args as unknown as LintMigrationsArgs;
      },
    )
    .strict()
    .version(false)
    .help()
    .exitProcess(false)
    .fail((message, error) => {
      usageError = message ?? error?.message ?? 'invalid arguments';
    })
    .parseAsync();
  if (usageError !== undefined) {
    io.stderr(`ship lint-migrations: ${usageError}\n`);
    return LINT_EXIT.badInput;
  }
  // --help printed the usage and ran no handler.
  if (!parsed) return LINT_EXIT.clean;
  return runLintMigrations(parsed, io);
}
