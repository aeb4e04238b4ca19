import { existsSync, statSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import type { LoadedConfig } from '../config/load.js';
import { COMMAND_LINES } from './commands.js';
import { UsageError } from '../commands/errors.js';
import { rollingRun } from '../commands/pipeline/rolling-run.js';
import type { DatabaseRunOptions } from '../preflight/database-checks.js';
import { appOption, loadApp } from './app-option.js';
import { runPipeline } from './pipeline.js';
import { parseRollFlags, rollOptions, type RollArgs } from './roll-flags.js';

interface DeployArgs extends RollArgs {
  trace?: boolean;
  'image-archive'?: string;
  'allow-unsafe-database'?: string;
}

function databaseRunOptions(args: DeployArgs): DatabaseRunOptions {
  const reason = args['allow-unsafe-database'];
  if (reason !== undefined && reason.trim() === '') {
    throw new UsageError('--allow-unsafe-database needs a reason, e.g. --allow-unsafe-database "replica db2 is being rebuilt (INC-42)"; it is recorded');
  }
  return { ...(args.trace ? { trace: true } : {}), ...(reason !== undefined ? { allowUnsafe: { reason: reason.trim() } } : {}) };
}

/** `--image-archive app.tar`: a container image saved with `docker save`, loaded on each host instead of pulled. */
function imageArchive(path: string, app: LoadedConfig): string {
  if (!app.config.container) throw new UsageError(`--image-archive: the config (${app.file}) has no container section; a tarball release is --artifact`);
  if (!existsSync(path) || !statSync(path).isFile()) throw new UsageError(`--image-archive ${path}: no such file`);
  return path;
}

/** Deploy, plan and check: the deploy playbook through the pipeline, all the way, up to the plan, or up to the pre-flight. */
async function deployLike(args: DeployArgs, command: 'deploy' | 'plan' | 'check'): Promise<number> {
  const flags = parseRollFlags(args);
  const database = databaseRunOptions(args);
  const loaded = await loadApp(args);
  const { exitCode } = await runPipeline({
    args,
    apps: [loaded],
    command,
    run: (app, context) =>
      rollingRun({
        loaded: app,
        work: { kind: 'playbook', playbook: 'deploy' },
        command,
        ...flags,
        ...(args.version ? { version: args.version } : {}),
        ...(args.artifact ? { artifact: args.artifact } : {}),
        ...(args['image-archive'] ? { artifact: imageArchive(args['image-archive'], app) } : {}),
        dryRun: command === 'plan' || flags.dryRun,
        database,
        ...(command === 'check' ? { checkOnly: true } : {}),
        ...context,
      }),
  });
  return exitCode;
}

export const deployCommand: CommandModule<{ config: string; json?: boolean }, DeployArgs> = {
  ...COMMAND_LINES.deploy,
  builder: (yargs) =>
    appOption(rollOptions(yargs))
      .option('version', { type: 'string', describe: 'the release version (names releases/<version> on every host)' })
      .option('artifact', { type: 'string', describe: 'the release tarball to upload' })
      .option('image-archive', { type: 'string', describe: 'with container: an image archive (docker save) to upload and load instead of pulling' })
      .option('trace', {
        type: 'boolean',
        describe: 'pre-flight: also run the pending migrations on a scratch copy of the schema, watch locks, rewrites and catalog changes, roll back',
      })
      .option('allow-unsafe-database', {
        type: 'string',
        describe: 'go on despite replica lag, schema version or connection budget problems; the reason is required and recorded',
      }),
  handler: async (args) => {
    process.exitCode = await deployLike(args, 'deploy');
  },
};

export const checkCommand: CommandModule<{ config: string; json?: boolean }, DeployArgs> = {
  ...COMMAND_LINES.check,
  builder: (yargs) =>
    appOption(rollOptions(yargs))
      .option('version', { type: 'string' })
      .option('artifact', { type: 'string' })
      .option('trace', { type: 'boolean', describe: 'also trace the pending migrations on a scratch copy of the schema' }),
  handler: async (args) => {
    process.exitCode = await deployLike(args, 'check');
  },
};

export const planCommand: CommandModule<{ config: string; json?: boolean }, DeployArgs> = {
  ...COMMAND_LINES.plan,
  builder: (yargs) => appOption(rollOptions(yargs)).option('version', { type: 'string' }).option('artifact', { type: 'string' }),
  handler: async (args) => {
    process.exitCode = await deployLike(args, 'plan');
  },
};
