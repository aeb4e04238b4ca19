/**
 * `--app <name>`: which app of a config with `apps: {...}` a command acts on (default: the
 * top-level app), and the `ship restore` line ship prints for hosts it leaves out, which must name
 * the same app.
 */
import type { Argv } from 'yargs';
import { selectApp } from '../config/apps.js';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { quote } from '../shell/sh.js';

export interface AppArgs {
  config: string;
  app?: string;
}

export function appOption<T>(yargs: Argv<T>) {
  return yargs.option('app', { type: 'string', describe: 'which app, when the config defines several (apps: {...}); default: the top-level app' });
}

/** The config file, narrowed to the app `--app` names. */
export async function loadApp(args: AppArgs): Promise<LoadedConfig> {
  return selectApp(await loadConfig(args.config), args.app);
}

/** The command that puts `hosts` back into the load balancer; `app` undefined: the top-level app. */
export function restoreCommandFor(config: string, app: string | undefined, hosts: readonly string[]): string {
  return `ship restore --config ${quote(config)}${app === undefined ? '' : ` --app ${quote(app)}`} --hosts ${quote(hosts.join(','))}`;
}
