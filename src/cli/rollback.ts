import type { CommandModule } from 'yargs';
import { loadConfig } from '../config/load.js';
import { rollback } from '../commands/rollback.js';
import { appsToRoll, commonRollOptions, exitCodeFor, rollApps, type AppRollArgs } from './app-rolls.js';
import { appOption } from './app-option.js';
import { rollOptions } from './deploy.js';

interface RollbackArgs extends AppRollArgs {
  to?: string;
}

export const rollbackCommand: CommandModule<{ config: string; json?: boolean }, RollbackArgs> = {
  command: 'rollback',
  describe: 'switch every host back to the previous release (or --to one), one batch at a time, through the same rolling procedure',
  builder: (yargs) => appOption(rollOptions(yargs)).option('to', { type: 'string', describe: 'the release to go back to (default: the one before the current release)' }),
  handler: async (args) => {
    const common = commonRollOptions(args);
    const apps = appsToRoll(await loadConfig(args.config), args);
    const { rolls } = await rollApps(args, apps, (loaded, context) => rollback({ loaded, ...common, ...context, ...(args.to ? { to: args.to } : {}) }));
    process.exitCode = exitCodeFor(
      rolls.map((r) => r.result?.status ?? 'failed'),
      0,
    );
  },
};
