import type { CommandModule } from 'yargs';
import { loadConfig } from '../config/load.js';
import { roll } from '../commands/deploy.js';
import { appsToRoll, commonRollOptions, exitCodeFor, rollApps, type AppRollArgs } from './app-rolls.js';
import { appOption } from './app-option.js';
import { rollOptions } from './deploy.js';

interface RunArgs extends AppRollArgs {
  playbook: string;
}

export const runCommand: CommandModule<{ config: string; json?: boolean }, RunArgs> = {
  command: 'run <playbook>',
  describe: "roll your own playbook (a TypeScript file, or a name from the config's playbooks) through the same rolling procedure",
  builder: (yargs) =>
    appOption(rollOptions(yargs))
      .positional('playbook', { type: 'string', demandOption: true, describe: 'a playbook file, or a name under playbooks in the config' })
      .option('version', { type: 'string', describe: 'ctx.version, for playbooks that need one' })
      .option('artifact', { type: 'string', describe: 'ctx.artifact, for playbooks that upload one' }),
  handler: async (args) => {
    const common = commonRollOptions(args);
    const apps = appsToRoll(await loadConfig(args.config), args);
    const { rolls } = await rollApps(args, apps, (loaded, context) =>
      roll({
        loaded,
        playbook: args.playbook,
        command: 'run',
        ...common,
        ...context,
        ...(args.version ? { version: args.version } : {}),
        ...(args.artifact ? { artifact: args.artifact } : {}),
      }),
    );
    process.exitCode = exitCodeFor(
      rolls.map((r) => r.result?.status ?? 'failed'),
      0,
    );
  },
};
