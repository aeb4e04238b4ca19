import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ConfigError } from '../config/errors.js';
import { DEFAULT_CONFIG_FILE } from '../config/load.js';
import { UsageError } from '../commands/errors.js';
import { redact } from '../util/redact.js';
import { classifyError, describeCode } from '../errors/codes.js';
import { checkCommand, deployCommand, planCommand } from './deploy.js';
import { restoreCommand } from './restore.js';
import { statusCommand } from './status.js';
import { unlockCommand } from './unlock.js';
import { resumeCommand } from './resume.js';
import { initCommand } from './init.js';
import { patchCommand } from './patch.js';
import { rollbackCommand } from './rollback.js';
import { releasesCommand } from './releases.js';
import { runCommand } from './run.js';
import { iamPolicyCommand } from './iam-policy.js';
import { lintMigrationsCommand } from './lint-migrations.js';
import { exitCodeForError } from './exit-codes.js';
// Installs the watch on standard output for every command (a closed pipe must not crash ship).
import './stdout.js';

function reportFatal(error: unknown): number {
  const message = redact(error instanceof Error ? error.message : String(error));
  process.stderr.write(`ship: ${message}\n  ${describeCode(classifyError(error))}\n`);
  if (process.env.SHIP_DEBUG && error instanceof Error && error.stack) process.stderr.write(`${redact(error.stack)}\n`);
  return exitCodeForError(error);
}

export async function main(argv: string[]): Promise<void> {
  const cli = yargs(argv)
    .scriptName('ship')
    .usage('$0 <command> [options]')
    .option('config', { alias: 'c', type: 'string', default: DEFAULT_CONFIG_FILE, describe: 'the config file' })
    .option('json', { type: 'boolean', describe: 'NDJSON events on stdout, for scripts and CI' })
    .command(deployCommand)
    .command(planCommand)
    .command(checkCommand)
    .command(restoreCommand)
    .command(statusCommand)
    .command(resumeCommand)
    .command(unlockCommand)
    .command(patchCommand)
    .command(rollbackCommand)
    .command(releasesCommand)
    .command(runCommand)
    .command(lintMigrationsCommand)
    .command(iamPolicyCommand)
    .command(initCommand)
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
