import yargs, { type CommandModule } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ConfigError } from '../config/errors.js';
import { DEFAULT_CONFIG_FILE } from '../config/default-file.js';
import { UsageError } from '../commands/errors.js';
import { redact } from '../util/redact.js';
import { classifyError, describeCode } from '../errors/codes.js';
import { COMMAND_LINES, invokedCommand, type CommandName } from './commands.js';
import { exitCodeForError } from './exit-codes.js';
// Installs the watch on standard output for every command (a closed pipe must not crash ship).
import './stdout.js';

// biome-ignore lint/suspicious/noExplicitAny: each command has its own argument types.
type AnyCommand = CommandModule<any, any>;

/** Each command's module, loaded only when that command runs (or when yargs needs them all). */
const LOADERS: Record<CommandName, () => Promise<AnyCommand>> = {
  deploy: async () => (await import('./deploy.js')).deployCommand,
  plan: async () => (await import('./deploy.js')).planCommand,
  check: async () => (await import('./deploy.js')).checkCommand,
  restore: async () => (await import('./restore.js')).restoreCommand,
  status: async () => (await import('./status.js')).statusCommand,
  resume: async () => (await import('./resume.js')).resumeCommand,
  unlock: async () => (await import('./unlock.js')).unlockCommand,
  patch: async () => (await import('./patch.js')).patchCommand,
  rollback: async () => (await import('./rollback.js')).rollbackCommand,
  releases: async () => (await import('./releases.js')).releasesCommand,
  run: async () => (await import('./run.js')).runCommand,
  'lint-migrations': async () => (await import('./lint-migrations.js')).lintMigrationsCommand,
  'iam-policy': async () => (await import('./iam-policy.js')).iamPolicyCommand,
  init: async () => (await import('./init.js')).initCommand,
};

/**
 * The commands yargs is given: the one that runs in full, the others as their usage line and
 * description only (all a help screen shows of them). When the command cannot be told for
 * certain from the arguments, all of them in full.
 */
async function commandModules(argv: string[]): Promise<AnyCommand[]> {
  const invoked = invokedCommand(argv);
  const names = Object.keys(COMMAND_LINES) as CommandName[];
  return Promise.all(
    names.map(async (name) => {
      if (invoked.kind === 'unsure' || (invoked.kind === 'command' && invoked.name === name)) return LOADERS[name]();
      return { ...COMMAND_LINES[name], handler: () => Promise.reject(new Error(`ship: command ${name} was not loaded (a bug in ship)`)) };
    }),
  );
}

function reportFatal(error: unknown): number {
  const message = redact(error instanceof Error ? error.message : String(error));
  process.stderr.write(`ship: ${message}\n  ${describeCode(classifyError(error))}\n`);
  if (process.env.SHIP_DEBUG && error instanceof Error && error.stack) process.stderr.write(`${redact(error.stack)}\n`);
  return exitCodeForError(error);
}

export async function main(argv: string[]): Promise<void> {
  let commands: AnyCommand[];
  try {
    commands = await commandModules(argv);
  } catch (error) {
    process.exitCode = reportFatal(error);
    return;
  }
  const cli = yargs(argv)
    .scriptName('ship')
    .usage('$0 <command> [options]')
    .option('config', { alias: 'c', type: 'string', default: DEFAULT_CONFIG_FILE, describe: 'the config file' })
    .option('json', { type: 'boolean', describe: 'NDJSON events on stdout, for scripts and CI' })
    .command(commands)
    .demandCommand(1, 'name a command: deploy, plan, patch, rollback, releases, run, status, resume, restore, unlock, check, lint-migrations, iam-policy, init (see --help)')
    // --version is the release version of `ship deploy`, so yargs' own version flag is off.
    .version(false)
    // Only the dashed names exist, so a typo is reported once, as typed.
    .parserConfiguration({ 'camel-case-expansion': false })
    .strict()
    .help()
    .fail((message, error) => {
      throw error ?? new UsageError(message);
    });
  try {
    await cli.parseAsync();
  } catch (error) {
    process.exitCode = reportFatal(error);
    // A config that never settled is still running and may keep the process alive forever (stderr is synchronous on pipes and files).
    if (error instanceof ConfigError && error.unsettled) process.exit();
  }
}

await main(hideBin(process.argv));
