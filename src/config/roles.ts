import { ConfigError } from './errors.js';
import type { LoadedConfig } from './load.js';

/** One role of an app as a config of its own, so everything that rolls a config keeps rolling one. */
export interface RoleConfig {
  /** Undefined for an app without roles: the app itself is the only "role". */
  role: string | undefined;
  loaded: LoadedConfig;
}

/** The app's roles in the order they are rolled: rollout.order, else as written. */
export function roleNames(loaded: LoadedConfig): string[] {
  const { roles, rollout } = loaded.config;
  return rollout.order ?? Object.keys(roles);
}

/**
 * The roles a run rolls, in order, each narrowed to a config of its own that keeps the app's run-wide
 * fields (state, notify, database). `names` (`--roles web,workers`) limits them, still in rollout order.
 */
export function selectRoles(loaded: LoadedConfig, names?: readonly string[]): RoleConfig[] {
  const all = roleNames(loaded);
  if (all.length === 0) {
    if (names && names.length > 0) throw new ConfigError(loaded.file, [`--roles ${names.join(',')}: app ${loaded.config.app} has no roles`]);
    return [{ role: undefined, loaded }];
  }
  const unknown = (names ?? []).filter((name) => !all.includes(name));
  if (unknown.length > 0) throw new ConfigError(loaded.file, [`--roles: no role ${unknown.join(', ')} in app ${loaded.config.app}; its roles are ${all.join(', ')}`]);
  return all.filter((name) => !names || names.length === 0 || names.includes(name)).map((role) => ({ role, loaded: selectRole(loaded, role) }));
}

/** One role as a LoadedConfig: its own fields, the app's run-wide ones, no roles of its own. */
export function selectRole(loaded: LoadedConfig, role: string): LoadedConfig {
  const { config } = loaded;
  const own = config.roles[role];
  if (!own) throw new ConfigError(loaded.file, [`no role ${role} in app ${config.app}; its roles are ${roleNames(loaded).join(', ')}`]);
  return {
    ...loaded,
    config: {
      ...own,
      app: config.app,
      state: config.state,
      ...(config.notify ? { notify: config.notify } : {}),
      ...(config.database ? { database: config.database } : {}),
      roles: {},
      apps: {},
    },
  };
}

/** Every host of the app by its role (an app without roles: all under undefined), for status and releases. */
export function roleOfHost(loaded: LoadedConfig): Map<string, string> {
  return new Map(Object.entries(loaded.config.roles).flatMap(([role, config]) => config.hosts.map((host) => [host.name, role] as const)));
}
