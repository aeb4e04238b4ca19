import type { CommandModule } from 'yargs';
import { COMMAND_LINES } from './commands.js';
import { formatStatus, status } from '../commands/status.js';
import { stateStoreFor } from '../journal/from-config.js';
import { redact, redactDeep } from '../util/redact.js';
import { appOption, loadApp } from './app-option.js';
import { EXIT } from './exit-codes.js';

export const statusCommand: CommandModule<{ config: string; json?: boolean }, { config: string; json?: boolean; app?: string }> = {
  ...COMMAND_LINES.status,
  builder: (yargs) => appOption(yargs),
  handler: async (args) => {
    const loaded = await loadApp(args);
    const store = await stateStoreFor(loaded);
    try {
      const report = await status(loaded, store);
      process.stdout.write(args.json ? `${JSON.stringify(redactDeep(report))}\n` : `${redact(formatStatus(report))}\n`);
      // Scripts and monitors can act on the exit code: 0 only when nothing needs a person.
      const attention = report.unfinished || report.lbError !== undefined || report.instances.some((i) => i.out || i.disagreement);
      process.exitCode = attention ? EXIT.rolloutFailed : EXIT.ok;
    } finally {
      await store.close();
    }
  },
};
