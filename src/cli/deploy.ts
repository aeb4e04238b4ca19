import type { Argv, CommandModule } from 'yargs';
import { roll, type RollResult } from '../commands/deploy.js';
import type { VarValue } from '../playbook/define.js';
import { UsageError } from '../commands/errors.js';
import { appOption, loadApp, restoreCommandFor } from './app-option.js';
import { EXIT } from './exit-codes.js';
import { handleInterrupts } from './interrupts.js';
import { createOutput } from './output.js';
import type { DatabaseRunOptions } from '../preflight/database-checks.js';
import type { LoadedConfig } from '../config/load.js';
import type { EventBus, RunStatus } from '../events.js';
import type { InstanceSignals } from '../rollout/instance.js';
import { codeFor } from '../errors/coded.js';
import { notifierHubFor } from '../notify/from-config.js';
import { parseDuration } from '../util/duration.js';

export interface RollArgs {
  config: string;
  json?: boolean;
  /** Which app of a config with several (default: the top-level app). */
  app?: string;
  version?: string;
  artifact?: string;
  hosts?: string;
  'batch-size'?: string;
  'dry-run'?: boolean;
  var?: string[];
  'accept-new-host-keys'?: boolean;
  trace?: boolean;
  'allow-unsafe-database'?: string;
  'lock-wait'?: string;
}

export function rollOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('hosts', { type: 'string', describe: 'only these hosts (comma-separated names)' })
    .option('batch-size', { type: 'string', describe: "instances per batch: a count or a percentage like '25%'" })
    .option('dry-run', { type: 'boolean', describe: 'print the batches and steps, change nothing' })
    .option('var', { type: 'string', array: true, describe: 'key=value, overrides config variables (repeatable)' })
    .option('accept-new-host-keys', { type: 'boolean', describe: 'trust and record keys of hosts not yet in known_hosts (a changed key is still refused)' })
    .option('lock-wait', { type: 'string', describe: "wait this long (e.g. '5m') for another run's deploy lock instead of refusing at once" });
}

function parseLockWait(value: string | undefined): number {
  if (value === undefined) return 0;
  const parsed = parseDuration(value);
  if (parsed === undefined) throw new UsageError(`--lock-wait ${JSON.stringify(value)}: expected a duration like '30s' or '5m'`);
  return parsed;
}

/** The documented exit code of a finished run. */
export function exitCodeFor(status: RunStatus): number {
  switch (status) {
    case 'succeeded':
    case 'planned':
    case 'checked':
      return EXIT.ok;
    case 'refused':
      return EXIT.preflightRefused;
    case 'interrupted':
      return EXIT.interrupted;
    case 'incomplete':
      return EXIT.incomplete;
    case 'failed':
      return EXIT.rolloutFailed;
  }
}

/**
 * Notifications go out in the background while the run goes on; at the end ship waits a bounded
 * time for them and reports any that could not be delivered, without changing the exit code.
 */
export function attachNotifications(loaded: LoadedConfig, bus: EventBus): () => Promise<void> {
  const hub = notifierHubFor(loaded.config.notify);
  if (!hub) return async () => undefined;
  hub.attach(bus);
  return async () => {
    for (const failure of await hub.flush(NOTIFY_FLUSH_MS)) {
      bus.emit({ type: 'warning', message: `notification not delivered: ${failure.notifier} (${failure.trigger}) after ${failure.attempts} attempt(s): ${failure.error}`, ...codeFor(failure.code) });
    }
  };
}

const NOTIFY_FLUSH_MS = 10_000;

export function parseVars(pairs: string[] | undefined): Record<string, VarValue> {
  const vars: Record<string, VarValue> = {};
  for (const pair of pairs ?? []) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(pair);
    if (!match) throw new UsageError(`--var ${JSON.stringify(pair)}: expected key=value with a name of letters, digits and _`);
    vars[match[1]!] = match[2]!;
  }
  return vars;
}

function parseBatchSize(value: string | undefined): number | string | undefined {
  if (value === undefined) return undefined;
  if (/^\d+$/.test(value) && Number(value) > 0) return Number(value);
  if (/^\d+(\.\d+)?%$/.test(value)) return value;
  throw new UsageError(`--batch-size ${JSON.stringify(value)}: expected a positive count or a percentage like '25%'`);
}

function databaseRunOptions(args: RollArgs): DatabaseRunOptions {
  const reason = args['allow-unsafe-database'];
  if (reason !== undefined && reason.trim() === '') {
    throw new UsageError('--allow-unsafe-database needs a reason, e.g. --allow-unsafe-database "replica db2 is being rebuilt (INC-42)"; it is recorded');
  }
  return { ...(args.trace ? { trace: true } : {}), ...(reason !== undefined ? { allowUnsafe: { reason: reason.trim() } } : {}) };
}

export interface RunContext {
  bus: EventBus;
  signals: InstanceSignals;
  restoreCommand: (hosts: string[]) => string;
}

/**
 * What every rolling command sets up around its run: the renderer, Ctrl-C handling, and
 * notifications flushed at the end; returns the documented exit code.
 */
export async function withRunOutput(args: { config: string; json?: boolean; app?: string }, loaded: LoadedConfig, run: (context: RunContext) => Promise<RollResult>): Promise<number> {
  const output = createOutput({ ...(args.json ? { json: true } : {}) });
  const restoreCommand = (hosts: string[]) => restoreCommandFor(args.config, args.app, hosts);
  const interrupts = handleInterrupts(output.bus, restoreCommand, (text) => process.stderr.write(text));
  const flushNotifications = attachNotifications(loaded, output.bus);
  try {
    const result = await run({ bus: output.bus, signals: interrupts.signals, restoreCommand });
    await flushNotifications();
    await output.done();
    return exitCodeFor(result.status);
  } finally {
    interrupts.dispose();
  }
}

/** Shared by deploy, plan and check: the same rolling procedure with another playbook. */
export async function runRollCommand(args: RollArgs, playbook: string, command: string, dryRun = false, checkOnly = false): Promise<number> {
  const loaded = await loadApp(args);
  return withRunOutput(args, loaded, (context) =>
    roll({
      loaded,
      playbook,
      command,
      ...(args.version ? { version: args.version } : {}),
      ...(args.artifact ? { artifact: args.artifact } : {}),
      ...(args.hosts ? { hosts: args.hosts.split(',').map((h) => h.trim()).filter(Boolean) } : {}),
      ...(args['batch-size'] ? { batchSize: parseBatchSize(args['batch-size'])! } : {}),
      vars: parseVars(args.var),
      dryRun: dryRun || (args['dry-run'] ?? false),
      ...(args['accept-new-host-keys'] ? { transport: { acceptNewHostKeys: true } } : {}),
      database: databaseRunOptions(args),
      lockWaitMs: parseLockWait(args['lock-wait']),
      ...(checkOnly ? { checkOnly: true } : {}),
      ...context,
    }),
  );
}

export const deployCommand: CommandModule<{ config: string; json?: boolean }, RollArgs> = {
  command: 'deploy',
  describe: 'roll a release across the fleet, one batch at a time, without dropping a request',
  builder: (yargs) =>
    appOption(rollOptions(yargs))
      .option('version', { type: 'string', describe: 'the release version (names releases/<version> on every host)' })
      .option('artifact', { type: 'string', describe: 'the release tarball to upload' })
      .option('trace', { type: 'boolean', describe: 'pre-flight: also run the pending migrations on a scratch copy of the schema, watch locks, rewrites and catalog changes, roll back' })
      .option('allow-unsafe-database', {
        type: 'string',
        describe: 'go on despite replica lag, schema version or connection budget problems; the reason is required and recorded',
      }),
  handler: async (args) => {
    process.exitCode = await runRollCommand(args, 'deploy', 'deploy');
  },
};

export const checkCommand: CommandModule<{ config: string; json?: boolean }, RollArgs> = {
  command: 'check',
  describe: 'run every pre-flight check (connectivity, host keys, load balancer, capacity, replicas, migrations, lock); changes nothing',
  builder: (yargs) =>
    appOption(rollOptions(yargs))
      .option('version', { type: 'string' })
      .option('artifact', { type: 'string' })
      .option('trace', { type: 'boolean', describe: 'also trace the pending migrations on a scratch copy of the schema' }),
  handler: async (args) => {
    process.exitCode = await runRollCommand(args, 'deploy', 'check', false, true);
  },
};

export const planCommand: CommandModule<{ config: string; json?: boolean }, RollArgs> = {
  command: 'plan',
  describe: 'print the batches and steps a deploy would run; changes nothing',
  builder: (yargs) =>
    appOption(rollOptions(yargs))
      .option('version', { type: 'string' })
      .option('artifact', { type: 'string' }),
  handler: async (args) => {
    process.exitCode = await runRollCommand(args, 'deploy', 'plan', true);
  },
};
