import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import { createJiti } from 'jiti';
import { configSchema, type ShipConfig } from './schema.js';
import { ConfigError, configErrorFromZod } from './errors.js';

export const DEFAULT_CONFIG_FILE = 'orchestrator.config.ts';

export interface LoadedConfig {
  config: ShipConfig;
  /** Absolute path of the config file; relative paths in it are resolved against its folder. */
  file: string;
  dir: string;
}

export function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? homedir() + path.slice(1) : path;
}

export function resolvePath(baseDir: string, path: string): string {
  const expanded = expandHome(path);
  return isAbsolute(expanded) ? expanded : resolve(baseDir, expanded);
}

/** Loads a TypeScript (or JS) config at run time without a build step for the user. */
export async function loadConfig(file = DEFAULT_CONFIG_FILE): Promise<LoadedConfig> {
  const absolute = resolve(file);
  if (!existsSync(absolute)) {
    throw new ConfigError(file, [`file not found (looked for ${absolute}); pass --config <path>`]);
  }
  let exported: unknown;
  try {
    // moduleCache off so a config is read afresh each time; the file cache spares re-transpiling it (~0.2 s).
    const jiti = createJiti(import.meta.url, { moduleCache: false });
    exported = await jiti.import(absolute, { default: true });
  } catch (error) {
    throw new ConfigError(file, [`could not be evaluated: ${(error as Error).message}`]);
  }
  return { ...validateConfig(exported, file), file: absolute, dir: dirname(absolute) };
}

export function validateConfig(value: unknown, file: string): { config: ShipConfig } {
  if (typeof value !== 'object' || value === null) {
    throw new ConfigError(file, ['the file must `export default defineConfig({...})`']);
  }
  const parsed = configSchema.safeParse(value);
  if (!parsed.success) throw configErrorFromZod(file, parsed.error);
  return { config: parsed.data };
}
