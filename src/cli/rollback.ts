import type { CommandModule } from 'yargs';
import { COMMAND_LINES } from './commands.js';
import { loadConfig } from '../config/load.js';
import { rollback } from '../commands/rollback.js';
import { appOption } from './app-option.js';
import { runPipeline } from './pipeline.js';
import { appsToRoll, parseRollFlags, rollOptions, type RollArgs } from './roll-flags.js';

interface RollbackArgs extends RollArgs {
  to?: string;
}

export const rollbackCommand: CommandModule<{ config: string; json?: boolean }, RollbackArgs> = {
  ...COMMAND_LINES.rollback,
  builder: (yargs) => appOption(rollOptions(yargs)).option('to', { type: 'string', describe: 'the release to go back to (default: the one before the current release)' }),
  handler: async (args) => {
    const flags = parseRollFlags(args);
    const apps = appsToRoll(await loadConfig(args.config), args);
    const { exitCode } = await runPipeline({
      args,
      apps,
      command: 'rollback',
      run: (loaded, context) => rollback({ loaded, ...flags, ...context, ...(args.to ? { to: args.to } : {}) }),
    });
    process.exitCode = exitCode;
  },
};
