import type { CommandModule } from 'yargs';
import { COMMAND_LINES } from './commands.js';
import { rollingRun } from '../commands/pipeline/rolling-run.js';
import { interruptedRunId } from '../commands/resume.js';
import { appOption, loadApp } from './app-option.js';
import { runPipeline } from './pipeline.js';
import { parseHosts, parseLockWait } from './roll-flags.js';
import { stdout } from './stdout.js';

interface RestoreArgs {
  config: string;
  json?: boolean;
  app?: string;
  hosts: string;
  'lock-wait'?: string;
}

export const restoreCommand: CommandModule<{ config: string; json?: boolean }, RestoreArgs> = {
  ...COMMAND_LINES.restore,
  builder: (yargs) =>
    appOption(yargs)
      .option('hosts', { type: 'string', demandOption: true, describe: 'comma-separated host names' })
      .option('lock-wait', { type: 'string', describe: "wait this long (e.g. '5m') for another run's deploy lock instead of refusing at once" }),
  handler: async (args) => {
    const hosts = parseHosts(args.hosts)!;
    const lockWaitMs = parseLockWait(args['lock-wait']);
    const loaded = await loadApp(args);
    // The run that left these instances out: a resume after this restore continues it.
    const continues = await interruptedRunId(loaded);
    const { runs, mode, exitCode } = await runPipeline({
      args,
      apps: [loaded],
      command: 'restore',
      live: false,
      run: (app, context) => rollingRun({ loaded: app, work: { kind: 'restore' }, command: 'restore', hosts, lockWaitMs, ...(continues ? { continues } : {}), ...context }),
    });
    const restored = runs[0]?.result?.summary.hosts.filter((h) => h.outcome === 'put-back').map((h) => h.host) ?? [];
    if (mode !== 'json' && restored.length > 0) stdout.write(`back in service: ${restored.join(', ')}\n`);
    process.exitCode = exitCode;
  },
};
