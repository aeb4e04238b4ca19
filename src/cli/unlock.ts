import type { CommandModule } from 'yargs';
import { COMMAND_LINES } from './commands.js';
import { UsageError } from '../commands/errors.js';
import { currentActor } from '../journal/actor.js';
import { stateStoreFor } from '../journal/from-config.js';
import { describeHolder } from '../journal/lock.js';
import { appOption, loadApp } from './app-option.js';

interface UnlockArgs {
  config: string;
  app?: string;
  force?: boolean;
  reason?: string;
}

export const unlockCommand: CommandModule<{ config: string; json?: boolean }, UnlockArgs> = {
  ...COMMAND_LINES.unlock,
  builder: (yargs) =>
    appOption(yargs)
      .option('force', { type: 'boolean', describe: 'required: breaking a lock is never a default' })
      .option('reason', { type: 'string', describe: 'why (recorded)' }),
  handler: async (args) => {
    if (!args.force) throw new UsageError('ship unlock needs --force (and --reason "..."): breaking a lock is never a default');
    if (!args.reason?.trim()) throw new UsageError('ship unlock --force needs --reason "...": why the lock may be broken is recorded');
    const loaded = await loadApp(args);
    const store = await stateStoreFor(loaded);
    try {
      const actor = await currentActor({ cwd: loaded.dir });
      const broken = await store.breakLock(loaded.config.app, actor, args.reason.trim());
      process.stdout.write(broken ? `broke the deploy lock of ${loaded.config.app}, held by ${describeHolder(broken)}\n` : `app ${loaded.config.app} was not locked\n`);
    } finally {
      await store.close();
    }
  },
};
