import { ConfigError } from './errors.js';
import type { LoadedConfig } from './load.js';

/** Every app a config defines: the top-level one first, then those under `apps`. */
export function appNames(loaded: LoadedConfig): string[] {
  return [loaded.config.app, ...Object.keys(loaded.config.apps)];
}

/**
 * One app's config as a LoadedConfig of its own, so everything that takes a config keeps taking
 * one app's. No name (or the top-level app's name) is the top-level app.
 */
export function selectApp(loaded: LoadedConfig, name?: string): LoadedConfig {
  if (name === undefined || name === loaded.config.app) return { ...loaded, config: { ...loaded.config, apps: {} } };
  const app = loaded.config.apps[name];
  if (!app) throw new ConfigError(loaded.file, [`--app ${name}: no such app; this file defines ${appNames(loaded).join(', ')}`]);
  return { ...loaded, config: { ...app, apps: {} } };
}

/** Every app's config, for commands that roll them all (`ship patch --all`). */
export function allApps(loaded: LoadedConfig): LoadedConfig[] {
  return appNames(loaded).map((name) => selectApp(loaded, name));
}
