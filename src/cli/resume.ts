import type { CommandModule } from 'yargs';
import { roll } from '../commands/deploy.js';
import { UsageError } from '../commands/errors.js';
import { stateStoreFor } from '../journal/from-config.js';
import type { VarValue } from '../playbook/define.js';
import { appOption, loadApp } from './app-option.js';
import { withRunOutput } from './deploy.js';

interface ResumeArgs {
  config: string;
  json?: boolean;
  app?: string;
}

/** What the interrupted run recorded so it can be continued with the same playbook, release and flags. */
interface ResumeInfo {
  playbook: string;
  command: string;
  version?: string;
  artifact?: string;
  batchSize?: number | string;
  hosts?: string[];
  vars?: Record<string, VarValue>;
}

export const resumeCommand: CommandModule<{ config: string; json?: boolean }, ResumeArgs> = {
  command: 'resume',
  describe: 'continue an interrupted run: reconcile the instances it left mid-way with reality, then roll the rest',
  builder: (yargs) => appOption(yargs),
  handler: async (args) => {
    const loaded = await loadApp(args);
    const store = await stateStoreFor(loaded);
    const last = await store.lastRun(loaded.config.app).finally(() => store.close());
    if (!last) throw new UsageError(`nothing to resume: no run of ${loaded.config.app} is recorded in the state store`);
    if (last.outcome) {
      throw new UsageError(`nothing to resume: the last run of ${loaded.config.app} (${last.run.runId}, ${last.run.command}) finished: ${last.outcome.status}; see \`ship status\``);
    }
    const info = last.run.resume as unknown as ResumeInfo;
    process.exitCode = await withRunOutput(args, loaded, (context) =>
      roll({
        loaded,
        playbook: info.playbook,
        command: info.command,
        ...(info.version ? { version: info.version } : {}),
        ...(info.artifact ? { artifact: info.artifact } : {}),
        ...(info.batchSize !== undefined ? { batchSize: info.batchSize } : {}),
        ...(info.hosts ? { hosts: info.hosts } : {}),
        vars: info.vars ?? {},
        resumeFrom: last,
        ...context,
      }),
    );
  },
};
