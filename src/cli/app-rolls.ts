/**
 * Runs the rolling procedure for one app, or for several apps in parallel (each app still one
 * batch at a time), with the output, Ctrl-C handling and exit codes every roll command shares.
 * With several apps each line of output says which app it is about.
 */
import { randomUUID } from 'node:crypto';
import { allApps, selectApp } from '../config/apps.js';
import type { LoadedConfig } from '../config/load.js';
import type { RollOptions, RollResult } from '../commands/deploy.js';
import { UsageError } from '../commands/errors.js';
import { EventBus, type RunStatus, type ShipEvent } from '../events.js';
import { jsonRenderer } from '../report/json.js';
import { plainRenderer } from '../report/plain.js';
import type { InstanceSignals } from '../rollout/instance.js';
import { parseVars, type RollArgs } from './deploy.js';
import { restoreCommandFor } from './app-option.js';
import { EXIT } from './exit-codes.js';
import { handleInterrupts } from './interrupts.js';
import { createOutput } from './output.js';

export interface AppRollArgs extends RollArgs {
  /** Every app of the config, in parallel. */
  all?: boolean;
}

/** What every app's roll shares, from the flags. */
export type CommonRollOptions = Pick<RollOptions, 'hosts' | 'batchSize' | 'vars' | 'dryRun' | 'transport'>;

export function commonRollOptions(args: RollArgs): CommonRollOptions {
  const batchSize = args['batch-size'];
  if (batchSize !== undefined && !(/^\d+$/.test(batchSize) && Number(batchSize) > 0) && !/^\d+(\.\d+)?%$/.test(batchSize)) {
    throw new UsageError(`--batch-size ${JSON.stringify(batchSize)}: expected a positive count or a percentage like '25%'`);
  }
  return {
    ...(args.hosts ? { hosts: args.hosts.split(',').map((h) => h.trim()).filter(Boolean) } : {}),
    ...(batchSize !== undefined ? { batchSize: /^\d+$/.test(batchSize) ? Number(batchSize) : batchSize } : {}),
    vars: parseVars(args.var),
    dryRun: args['dry-run'] ?? false,
    ...(args['accept-new-host-keys'] ? { transport: { acceptNewHostKeys: true } } : {}),
  };
}

export interface AppRollContext {
  bus: EventBus;
  signals: InstanceSignals;
  restoreCommand: (hosts: string[]) => string;
}

export interface AppRoll {
  app: string;
  result?: RollResult;
  /** What stopped the roll before it produced a result (a bad playbook, an unreachable inventory). */
  error?: Error;
}

/** The apps a command rolls: every app with `all`, else the one `--app` names (default the top-level app). */
export function appsToRoll(loaded: LoadedConfig, args: { app?: string; all?: boolean; hosts?: string }): LoadedConfig[] {
  if (!args.all) return [selectApp(loaded, args.app)];
  if (args.app) throw new UsageError('--all and --app: pick one');
  if (args.hosts) throw new UsageError('--all and --hosts: host names belong to one app; use --app <name> --hosts ...');
  const apps = allApps(loaded);
  const owners = new Map<string, string[]>();
  for (const app of apps) for (const host of app.config.hosts) owners.set(host.address, [...(owners.get(host.address) ?? []), app.config.app]);
  const shared = [...owners].filter(([, names]) => names.length > 1);
  if (shared.length > 0) {
    // Two apps patching one machine at once would fight over its package manager and reboot it twice.
    throw new UsageError(`--all: ${shared.map(([address, names]) => `${address} is in apps ${names.join(' and ')}`).join('; ')}; roll those apps one at a time with --app`);
  }
  return apps;
}

/**
 * Rolls each app (in parallel when there are several) and returns how each one ended. `observe`
 * sees every app's events (for reports). Errors of a single app are thrown as they are, so the
 * CLI reports them with their own exit code; with several apps they end that app only.
 */
export async function rollApps(
  args: AppRollArgs,
  apps: LoadedConfig[],
  rollOne: (loaded: LoadedConfig, context: AppRollContext) => Promise<RollResult>,
  observe?: (app: string, bus: EventBus) => void,
): Promise<{ rolls: AppRoll[]; mode: 'json' | 'tty' | 'plain' }> {
  // Without --app or --all the run was the top-level app's, which is also restore's default.
  const named = args.app !== undefined || args.all === true;
  const restoreFor = (app: string) => (hosts: string[]) => restoreCommandFor(args.config, named ? app : undefined, hosts);

  if (apps.length === 1) {
    const loaded = apps[0]!;
    const app = loaded.config.app;
    const output = createOutput({ ...(args.json ? { json: true } : {}) });
    observe?.(app, output.bus);
    const restoreCommand = restoreFor(app);
    const interrupts = handleInterrupts(output.bus, restoreCommand, (text) => process.stderr.write(text));
    try {
      const result = await rollOne(loaded, { bus: output.bus, signals: interrupts.signals, restoreCommand });
      await output.done();
      return { rolls: [{ app, result }], mode: output.mode };
    } finally {
      interrupts.dispose();
    }
  }

  // Several apps: one bus each (host names may repeat across apps); Ctrl-C watches them all.
  const control = new EventBus(randomUUID());
  const restoreAll = (hosts: string[]) =>
    [...new Set(hosts.map((h) => h.split('/')[0]!))]
      .map((app) => restoreFor(app)(hosts.filter((h) => h.startsWith(`${app}/`)).map((h) => h.slice(app.length + 1))))
      .join('\n  ');
  const interrupts = handleInterrupts(control, restoreAll, (text) => process.stderr.write(text));
  const mode = args.json ? 'json' : 'plain';
  try {
    const rolls = await Promise.all(
      apps.map(async (loaded): Promise<AppRoll> => {
        const app = loaded.config.app;
        const bus = new EventBus(randomUUID());
        bus.subscribe(appRenderer(app, mode));
        bus.subscribe((event) => {
          if (event.type === 'instance.state') control.emit({ ...event, host: `${app}/${event.host}` });
        });
        observe?.(app, bus);
        try {
          return { app, result: await rollOne(loaded, { bus, signals: interrupts.signals, restoreCommand: restoreFor(app) }) };
        } catch (error) {
          const failure = error instanceof Error ? error : new Error(String(error));
          process.stderr.write(`ship: app ${app}: ${failure.message}\n`);
          return { app, error: failure };
        }
      }),
    );
    return { rolls, mode };
  } finally {
    interrupts.dispose();
  }
}

function appRenderer(app: string, mode: 'json' | 'plain'): (event: ShipEvent) => void {
  const write = (text: string) => process.stdout.write(text);
  if (mode === 'json') {
    const render = jsonRenderer(write);
    return (event) => render({ ...event, app } as ShipEvent);
  }
  return plainRenderer((text) => write(text.replace(/^(?=.)/gm, `[${app}] `)));
}

/** Worst first, as the README's exit codes: interrupted, failed, refused, window ended, success. */
export function exitCodeFor(statuses: RunStatus[], failedHosts: number): number {
  if (statuses.includes('interrupted')) return EXIT.interrupted;
  if (statuses.includes('failed') || failedHosts > 0) return EXIT.rolloutFailed;
  if (statuses.includes('refused')) return EXIT.preflightRefused;
  if (statuses.includes('incomplete')) return EXIT.incomplete;
  return EXIT.ok;
}
