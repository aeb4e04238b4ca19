import { statSync, type Stats } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { configSchema, type ShipConfig } from './schema.js';
import { ConfigError, configErrorFromZod } from './errors.js';
import { DEFAULT_CONFIG_FILE } from './default-file.js';
import { jiti as loadJiti } from '../util/jiti.js';

export { DEFAULT_CONFIG_FILE };

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

/**
 * How long evaluating the config file may take. Its code may await (a secret fetched at load), but
 * a top-level await that never settles would otherwise hang ship, or end it with Node's silent
 * exit 13 when nothing else is left to run. Documented in the README ("Config").
 */
export const CONFIG_LOAD_DEADLINE_MS = 30_000;

export interface LoadOptions {
  /** Default CONFIG_LOAD_DEADLINE_MS. */
  deadlineMs?: number;
  /** jiti's transpile cache on disk (default on). */
  fsCache?: boolean;
}

/** Loads a TypeScript (or JS) config at run time without a build step for the user. */
export async function loadConfig(file = DEFAULT_CONFIG_FILE, options: LoadOptions = {}): Promise<LoadedConfig> {
  const absolute = resolve(file);
  const exported = await evaluateConfigFile(file, absolute, options);
  return { ...validateConfig(exported, file), file: absolute, dir: dirname(absolute) };
}

/**
 * Runs a config file and returns what it exports by default, unchecked (`ship lint-migrations`
 * reads only its database.migrations). Every way a file can fail to give a value is a ConfigError
 * naming the file and what is wrong.
 */
export async function evaluateConfigFile(file: string, absolute: string, options: LoadOptions = {}): Promise<unknown> {
  if (file.trim() === '') throw new ConfigError('--config ""', [`no file named: give the config file's path, or leave --config out for ./${DEFAULT_CONFIG_FILE}`]);
  checkIsFile(file, absolute);
  return evaluate(file, absolute, options.deadlineMs ?? CONFIG_LOAD_DEADLINE_MS, options.fsCache ?? true);
}

function checkIsFile(file: string, absolute: string): void {
  let stats: Stats;
  try {
    stats = statSync(absolute);
  } catch {
    throw new ConfigError(file, [`file not found (looked for ${absolute}); pass --config <path>`]);
  }
  if (stats.isDirectory()) throw new ConfigError(file, [`is a directory; pass the config file in it, e.g. --config ${join(file, DEFAULT_CONFIG_FILE)}`]);
  if (!stats.isFile()) throw new ConfigError(file, ['is not a regular file (a FIFO or device would never finish reading); pass the config file itself']);
}

/**
 * Runs the file and returns its default export, within the deadline. A file that never settles is
 * told apart two ways: nothing is left that could settle it (Node would end the process, so
 * `beforeExit` fires), or the deadline passes while its own timers or sockets keep it busy.
 */
async function evaluate(file: string, absolute: string, deadlineMs: number, fsCache: boolean): Promise<unknown> {
  let giveUp: (error: ConfigError) => void = () => {};
  const stuck = new Promise<never>((_, reject) => {
    giveUp = reject;
  });
  const onBeforeExit = () => giveUp(new ConfigError(file, ['never finished loading: a top-level await waits for something that can never happen'], { unsettled: true }));
  // unref: the deadline must not keep ship alive by itself, or beforeExit could never fire.
  const deadline = setTimeout(
    () => giveUp(new ConfigError(file, [`did not finish loading within ${deadlineMs / 1000}s: a top-level await in it is still waiting`], { unsettled: true })),
    deadlineMs,
  ).unref();
  process.once('beforeExit', onBeforeExit);
  try {
    // moduleCache off so a config is read afresh each time; the file cache spares re-transpiling it (~0.2 s).
    // interopDefault off: jiti's interop proxy throws on a null default export when awaited; the default is picked below.
    // jiti is loaded here, not at the top: commands that read no config (`ship --help`, init) never pay for it.
    const jiti = loadJiti()(import.meta.url, { moduleCache: false, fsCache, interopDefault: false });
    const module = await Promise.race([jiti.import<unknown>(absolute), stuck]);
    // An ES module's default export; a CommonJS file's module.exports.
    if (typeof module !== 'object' || module === null) return module;
    if ('default' in module) return module.default;
    if ((module as { __esModule?: boolean }).__esModule) {
      const named = Object.keys(module);
      throw new ConfigError(file, [`has no default export${named.length ? ` (only ${named.join(', ')})` : ''}: the file must \`export default defineConfig({...})\``]);
    }
    return module;
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(file, [`could not be evaluated: ${describeThrown(error)}`]);
  } finally {
    clearTimeout(deadline);
    process.off('beforeExit', onBeforeExit);
  }
}

/** What the file threw, in one line: a message (without Node's require stack), or the thrown value itself (`throw 42`). */
export function describeThrown(error: unknown): string {
  if (error instanceof Error) return error.message.split('\nRequire stack:')[0]!.trim() || error.name;
  if (typeof error === 'string') return error;
  try {
    return `it threw ${JSON.stringify(error) ?? String(error)}, not an Error`;
  } catch {
    return `it threw ${String(error)}, not an Error`;
  }
}

export function validateConfig(value: unknown, file: string): { config: ShipConfig } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
    throw new ConfigError(file, [`the default export is ${got}: the file must \`export default defineConfig({...})\``]);
  }
  let parsed: ReturnType<typeof configSchema.safeParse>;
  try {
    parsed = configSchema.safeParse(value);
  } catch (error) {
    // A getter in the exported object that throws, or a proxy: zod reads every field.
    throw new ConfigError(file, [`reading the exported config threw: ${describeThrown(error)}`]);
  }
  if (!parsed.success) throw configErrorFromZod(file, parsed.error);
  return { config: parsed.data };
}
