import type { CommandModule } from 'yargs';
import { restore } from '../commands/restore.js';
import { appOption, loadApp } from './app-option.js';
import { EXIT } from './exit-codes.js';
import { createOutput } from './output.js';

export const restoreCommand: CommandModule<{ config: string; json?: boolean }, { config: string; json?: boolean; app?: string; hosts: string }> = {
  command: 'restore',
  describe: 'put instances back into the load balancer once they pass health checks (after an interrupted run)',
  builder: (yargs) => appOption(yargs).option('hosts', { type: 'string', demandOption: true, describe: 'comma-separated host names' }),
  handler: async (args) => {
    const loaded = await loadApp(args);
    const output = createOutput({ live: false, ...(args.json ? { json: true } : {}) });
    const result = await restore(loaded, args.hosts.split(',').map((h) => h.trim()).filter(Boolean), output.bus);
    for (const failure of result.failed) process.stderr.write(`ship: ${failure.host} is still out: ${failure.error}\n`);
    if (result.restored.length) process.stdout.write(`back in service: ${result.restored.join(', ')}\n`);
    process.exitCode = result.failed.length ? EXIT.rolloutFailed : EXIT.ok;
  },
};
