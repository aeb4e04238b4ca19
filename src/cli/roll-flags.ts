/**
 * The flags every command that moves instances shares (`--hosts`, `--batch-size`, `--var`,
 * `--dry-run`, `--accept-new-host-keys`, `--lock-wait`, `--app`/`--all`), declared and parsed in
 * one place, so deploy, rollback, patch, run, resume and restore read them the same way.
 */
import type { Argv } from 'yargs';
import { allApps, selectApp } from '../config/apps.js';
import { positiveCountOrPercent } from '../config/fields.js';
import type { LoadedConfig } from '../config/load.js';
import { UsageError } from '../commands/errors.js';
import type { VarValue } from '../playbook/define.js';
import { readDuration } from '../util/duration.js';

export interface RollArgs {
  config: string;
  json?: boolean;
  /** Which app of a config with several (default: the top-level app). */
  app?: string;
  /** Every app of the config, in parallel (patch, run, rollback). */
  all?: boolean;
  version?: string;
  artifact?: string;
  hosts?: string;
  roles?: string;
  'batch-size'?: string;
  'dry-run'?: boolean;
  var?: string[];
  'accept-new-host-keys'?: boolean;
  'lock-wait'?: string;
}

/** What the shared flags mean, parsed once for every app a command rolls. */
export interface RollFlags {
  hosts?: string[];
  roles?: string[];
  batchSize?: number | string;
  vars: Record<string, VarValue>;
  dryRun: boolean;
  transport?: { acceptNewHostKeys: true };
  lockWaitMs: number;
}

export function rollOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('hosts', { type: 'string', describe: 'only these hosts (comma-separated names)' })
    .option('roles', { type: 'string', describe: 'an app with roles: only these roles (comma-separated), still in rollout.order' })
    .option('batch-size', { type: 'string', describe: "instances per batch: a count or a percentage like '25%'" })
    .option('dry-run', { type: 'boolean', describe: 'print the batches and steps, change nothing' })
    .option('var', { type: 'string', array: true, describe: 'key=value, overrides config variables (repeatable)' })
    .option('accept-new-host-keys', { type: 'boolean', describe: 'trust and record keys of hosts not yet in known_hosts (a changed key is still refused)' })
    .option('lock-wait', { type: 'string', describe: "wait this long (e.g. '5m') for another run's deploy lock instead of refusing at once" });
}

/**
 * `--hosts a,b`. Given but naming nobody (`--hosts ''`, `--hosts ,`, a typical `--hosts "$UNSET"`)
 * is refused: read as "no filter" it would roll the whole fleet.
 */
export function parseHosts(value: string | undefined): string[] | undefined {
  return parseNames('--hosts', 'host', value);
}

/** `--roles web,workers`, refused like `--hosts` when it names nothing. */
export function parseRoles(value: string | undefined): string[] | undefined {
  return parseNames('--roles', 'role', value);
}

function parseNames(flag: string, what: string, value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const names = value
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  if (names.length === 0) throw new UsageError(`${flag} ${JSON.stringify(value)} names no ${what}; give comma-separated ${what} names, or leave ${flag} out to roll every ${what}`);
  return names;
}

/** `--batch-size`: the same rule as rollout.batchSize (positiveCountOrPercent). */
export function parseBatchSize(value: string | undefined): number | string | undefined {
  if (value === undefined) return undefined;
  const parsed = positiveCountOrPercent.safeParse(/^\d+$/.test(value) ? Number(value) : value);
  if (!parsed.success) throw new UsageError(`--batch-size ${JSON.stringify(value)}: expected a positive count or a percentage like '25%'`);
  return parsed.data;
}

export function parseVars(pairs: string[] | undefined): Record<string, VarValue> {
  const vars: Record<string, VarValue> = {};
  for (const pair of pairs ?? []) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(pair);
    if (!match) throw new UsageError(`--var ${JSON.stringify(pair)}: expected key=value with a name of letters, digits and _`);
    vars[match[1]!] = match[2]!;
  }
  return vars;
}

export function parseLockWait(value: string | undefined): number {
  if (value === undefined) return 0;
  const reading = readDuration(value, "'30s' or '5m'");
  if (!reading.ok) throw new UsageError(`--lock-wait: ${reading.problem}`);
  return reading.ms;
}

export function parseRollFlags(args: RollArgs): RollFlags {
  const hosts = parseHosts(args.hosts);
  const roles = parseRoles(args.roles);
  const batchSize = parseBatchSize(args['batch-size']);
  return {
    ...(hosts ? { hosts } : {}),
    ...(roles ? { roles } : {}),
    ...(batchSize !== undefined ? { batchSize } : {}),
    vars: parseVars(args.var),
    dryRun: args['dry-run'] ?? false,
    ...(args['accept-new-host-keys'] ? { transport: { acceptNewHostKeys: true as const } } : {}),
    lockWaitMs: parseLockWait(args['lock-wait']),
  };
}

/** The apps a command acts on: every app with `--all`, else the one `--app` names (default the top-level app). */
export function appsToRoll(loaded: LoadedConfig, args: { app?: string; all?: boolean; hosts?: string }): LoadedConfig[] {
  if (!args.all) return [selectApp(loaded, args.app)];
  if (args.app) throw new UsageError('--all and --app: pick one');
  if (args.hosts !== undefined) throw new UsageError('--all and --hosts: host names belong to one app; use --app <name> --hosts ...');
  const apps = allApps(loaded);
  const owners = new Map<string, string[]>();
  for (const app of apps) {
    for (const host of [app.config, ...Object.values(app.config.roles)].flatMap((config) => config.hosts))
      owners.set(host.address, [...(owners.get(host.address) ?? []), app.config.app]);
  }
  const shared = [...owners].filter(([, names]) => names.length > 1);
  if (shared.length > 0) {
    // Two apps rolling one machine at once would fight over its package manager and reboot it twice.
    throw new UsageError(`--all: ${shared.map(([address, names]) => `${address} is in apps ${names.join(' and ')}`).join('; ')}; roll those apps one at a time with --app`);
  }
  return apps;
}
