import type { CommandModule } from 'yargs';
import { COMMAND_LINES } from './commands.js';
import { loadConfig } from '../config/load.js';
import { rollingRun } from '../commands/pipeline/rolling-run.js';
import { appOption } from './app-option.js';
import { runPipeline } from './pipeline.js';
import { appsToRoll, parseRollFlags, rollOptions, type RollArgs } from './roll-flags.js';

interface RunArgs extends RollArgs {
  playbook: string;
}

export const runCommand: CommandModule<{ config: string; json?: boolean }, RunArgs> = {
  ...COMMAND_LINES.run,
  builder: (yargs) =>
    appOption(rollOptions(yargs))
      .positional('playbook', { type: 'string', demandOption: true, describe: 'a playbook file, or a name under playbooks in the config' })
      .option('version', { type: 'string', describe: 'ctx.version, for playbooks that need one' })
      .option('artifact', { type: 'string', describe: 'ctx.artifact, for playbooks that upload one' }),
  handler: async (args) => {
    const flags = parseRollFlags(args);
    const apps = appsToRoll(await loadConfig(args.config), args);
    const { exitCode } = await runPipeline({
      args,
      apps,
      command: 'run',
      run: (loaded, context) =>
        rollingRun({
          loaded,
          work: { kind: 'playbook', playbook: args.playbook },
          command: 'run',
          ...flags,
          ...context,
          ...(args.version ? { version: args.version } : {}),
          ...(args.artifact ? { artifact: args.artifact } : {}),
        }),
    });
    process.exitCode = exitCode;
  },
};
