import type { CommandModule } from 'yargs';
import { COMMAND_LINES } from './commands.js';
import { rollingRun } from '../commands/pipeline/rolling-run.js';
import { findRunToResume } from '../commands/resume.js';
import { appOption, loadApp } from './app-option.js';
import { runPipeline } from './pipeline.js';
import { parseLockWait } from './roll-flags.js';

interface ResumeArgs {
  config: string;
  json?: boolean;
  app?: string;
  'lock-wait'?: string;
}

export const resumeCommand: CommandModule<{ config: string; json?: boolean }, ResumeArgs> = {
  ...COMMAND_LINES.resume,
  builder: (yargs) => appOption(yargs).option('lock-wait', { type: 'string', describe: "wait this long (e.g. '5m') for another run's deploy lock instead of refusing at once" }),
  handler: async (args) => {
    const lockWaitMs = parseLockWait(args['lock-wait']);
    const loaded = await loadApp(args);
    const target = await findRunToResume(loaded);
    if ('nothing' in target) {
      process.stderr.write(`ship: ${target.nothing}\n`);
      process.exitCode = 0;
      return;
    }
    const { record, entry, plan } = target;
    const { exitCode } = await runPipeline({
      args,
      apps: [loaded],
      command: record.command,
      run: (app, context) =>
        rollingRun({
          loaded: app,
          work: { kind: 'playbook', playbook: record.playbook },
          command: record.command,
          ...(record.version ? { version: record.version } : {}),
          ...(record.artifact ? { artifact: record.artifact } : {}),
          ...(record.batchSize !== undefined ? { batchSize: record.batchSize } : {}),
          ...(record.hosts ? { hosts: record.hosts } : {}),
          ...(record.roles ? { roles: record.roles } : {}),
          vars: record.vars,
          ...(record.database ? { database: record.database } : {}),
          lockWaitMs,
          resume: { from: entry, plan },
          ...context,
        }),
    });
    process.exitCode = exitCode;
  },
};
