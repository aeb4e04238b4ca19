/**
 * The lint as one script compiled with a V8 code cache: node compiles each ES module's JavaScript
 * afresh on every start (Node 20 has no compile cache for them), which for the lint's ~250 KB and
 * the rules it runs the first time is ~15 ms of a ~110 ms lint of a folder. scripts/bundle-lint.mjs
 * bundles src/cli/lint-script.ts into LINT_SCRIPT (a function expression taking what a CommonJS
 * module gets, plus the entry's URL and an import()), runs it once on sample migrations and saves
 * the code V8 compiled meanwhile into LINT_CACHE. A cache that V8 rejects (another Node version,
 * other V8 flags) is ignored: the script is compiled as without it.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';
import type * as LintScript from './lint-script.js';

export const LINT_SCRIPT = 'lint-script.cjs';
export const LINT_CACHE = 'lint-script.cache';
/** The entry beside them (lint-migrations-bundled.ts, bundled): the script's import.meta.url and require() are its. */
export const LINT_ENTRY = 'lint-migrations.cjs';

export type LintExports = typeof LintScript;

/**
 * Set by the lint entry before anything is compiled, and by the build's training run: V8 takes a
 * code cache only from a process with the same flags.
 * - The parser is one WebAssembly call per file, and V8 cannot swap optimised code into a call
 *   that is already running, so optimising it (TurboFan, in the background) never speeds this run
 *   up; yet node waits for those background compiles before it exits, ~0.1 s. Baseline code only.
 * - Likewise for JavaScript: a lint lasts a fraction of a second, too short to repay TurboFan's
 *   compiles, which on a 2-core machine take CPU from the parse on the worker thread. Measured on
 *   the benchmark file: 303 ms instead of 321 (10,000 statements), 682 instead of 740 (40,000).
 * - The parser's functions are validated when they are first compiled rather than all at once: a
 *   lint calls ~100 of its ~2,500 functions, and validating the whole 1.7 MB module took ~4 ms of
 *   CPU (8.0 against 4.6 ms to compile it), in the background, which a busy machine has no core for.
 * - No young-generation collection as a task of its own: V8 schedules one when the new space is 80%
 *   full, and a lint that fills it near its end ran it before node could exit (0.5 ms of work for
 *   nothing). Collections come when the space is full, as they do anyway. ente's folder: 1.0 ms
 *   less wall time, crates.io's 2.6 (medians of 60 and 40 paired runs).
 * - No Sparkplug (V8's baseline compiler) until the lint knows its input is large (see
 *   baselineCompilerFor).
 * - One thread compiles the parser's hot functions while the main thread loads the lint and finds
 *   the migrations: on two cores a second compile thread only took the main thread's core, and each
 *   compile thread first-touches megabytes of its own scratch memory. ente 1.3 ms less wall time
 *   (40 pairs, 95% interval -2.1 to -0.0; CPU -4.1), lemmy 4.0 less (20 pairs, -6.8 to -2.2),
 *   crates.io 2.1 less (30 pairs), the 10,000-statement file the same.
 */
export const LINT_V8_FLAGS: readonly string[] = ['--liftoff-only', '--no-opt', '--wasm-lazy-validation', '--no-minor-gc-task', '--no-sparkplug', '--wasm-num-compilation-tasks=1'];

/** SQL (in characters) from which a lint's JavaScript runs long enough to repay Sparkplug's compiles. */
export const BASELINE_COMPILER_MIN_SQL = 256 * 1024;

/**
 * Turns Sparkplug back on for a lint of `sqlLength` characters of SQL or more (LintIo.beforeLint).
 * Its code helps a long lint: a 10,000-statement file (800 KB) took 249 ms without it against 232.
 * For a folder of the usual size it costs more than it saves: its code fills the code space, and on
 * crates.io's folder (96 KB) that triggered a 3 ms full collection near the end; without it ente's
 * folder took 0.9 ms less and crates.io's 4.5 (medians of 30 paired runs), lemmy's (600 KB) the same.
 * After the code cache was read, so the cache's flags still match.
 */
export function baselineCompilerFor(sqlLength: number): void {
  if (sqlLength >= BASELINE_COMPILER_MIN_SQL) setV8Flags(['--sparkplug']);
}

/** With the parser's copy that carries compilation hints (src/lint/compilation-hints.ts): V8 reads them only under this flag. */
const HINTED_PARSER_V8_FLAGS: readonly string[] = ['--experimental-wasm-compilation-hints'];

/** The V8 flags of a lint, with or without the hinted parser: the code cache is made under the same ones. */
export function lintV8Flags(hintedParser: boolean): readonly string[] {
  return hintedParser ? [...LINT_V8_FLAGS, ...HINTED_PARSER_V8_FLAGS] : LINT_V8_FLAGS;
}

/**
 * Sets V8 flags as node:v8's setFlagsFromString does, through the same binding, without loading
 * node:v8: that module loads node's stream modules, ~1.5 ms of a ~70 ms lint, which never uses them
 * otherwise (it writes with fs.writeSync). process.binding is deprecated and warns once: the warning
 * is held off for this call (process.noDeprecation), and a node without the binding uses node:v8.
 */
export function setV8Flags(flags: readonly string[]): void {
  let set: ((flag: string) => void) | undefined;
  const quiet = process.noDeprecation;
  process.noDeprecation = true;
  try {
    const binding = (process as unknown as { binding(name: string): { setFlagsFromString?: (flag: string) => void } }).binding('v8');
    const bound = binding.setFlagsFromString;
    if (typeof bound === 'function') set = (flag) => bound.call(binding, flag);
  } catch {
    // Removed from this node: node:v8 below.
  } finally {
    process.noDeprecation = quiet;
  }
  set ??= (createRequire(import.meta.url)('node:v8') as typeof import('node:v8')).setFlagsFromString;
  for (const flag of flags) set(flag);
}

/**
 * The parser with compilation hints, as the build made it beside the script. Its name carries the
 * version of V8 that traced which functions a lint calls: another node (whose V8 may not know the
 * flags, and rejects the code cache anyway) finds no such file and runs the parser as published.
 */
export function hintedParserFile(): string {
  return `parser-v8-${process.versions.v8}.wasm`;
}

function hintedParserPath(dir: URL): string {
  return fileURLToPath(new URL(hintedParserFile(), dir));
}

/** The hinted parser's bytes beside the script in `dir`, or undefined when this node has none. */
export function readHintedParser(dir: URL): NonSharedBuffer | undefined {
  try {
    return readFileSync(hintedParserPath(dir));
  } catch {
    return undefined;
  }
}

/**
 * Loads the node builtins the lint needs that node's startup snapshot does not hold, before
 * setV8Flags: node compiles its builtins with a code cache made under V8's default flags, which V8
 * rejects once the flags differ, and compiling them from source took four times as long (node:stream's
 * 30 modules, 4.2 ms instead of 1.1; node:os and parseArgs, ~1.3 ms of a ~70 ms lint). A test
 * checks that a lint loads no builtin after the flags are set.
 */
function loadLintBuiltins(): void {
  const load = createRequire(import.meta.url);
  load('node:os');
  // A getter that loads node's parseArgs on first use.
  void (load('node:util') as typeof import('node:util')).parseArgs;
}

/**
 * What a lint does first, before any of its code or the parser's WebAssembly is compiled: sets the
 * V8 flags, and starts compiling the hinted parser beside `dir` (the folder of the bundle) when this
 * node has one and `compile` (not for --help: node would wait for that compile before exiting). The
 * compile, for useCompiledParser once the lint is loaded. The build makes the code cache in a
 * process that starts the same way, so that V8 takes it.
 */
export function startLint(dir: URL, compile = true): Promise<WebAssembly.Module> | undefined {
  // Without a compile (--help) only whether the copy is there: the flags, which the cache was made
  // under, depend on it; its 1.7 MB need not be read.
  const hinted = compile ? readHintedParser(dir) : undefined;
  loadLintBuiltins();
  setV8Flags(lintV8Flags(hinted !== undefined || (!compile && existsSync(hintedParserPath(dir)))));
  return hinted && WebAssembly.compile(hinted);
}

/** The lint script's text and code cache as read from `dir`, before V8 compiles them (see runLintScript). */
export interface LintScriptFiles {
  readonly dir: URL;
  readonly file: string;
  readonly source: string;
  readonly cachedData?: Buffer;
}

/**
 * Reads the script in `dir`, the folder of the bundle (dist/lint), and its code cache unless
 * `cache` is false; undefined when it holds no bundled script (the source under tsx, or tsc's
 * output). Apart from runLintScript so that the entry can give the event loop a turn in between.
 */
export function readLintScript(dir: URL, options: { cache?: boolean } = {}): LintScriptFiles | undefined {
  const file = fileURLToPath(new URL(LINT_SCRIPT, dir));
  if (!existsSync(file)) return undefined;
  let cachedData: Buffer | undefined;
  if (options.cache !== false) {
    try {
      cachedData = readFileSync(fileURLToPath(new URL(LINT_CACHE, dir)));
    } catch {
      // No cache (a build that could not make one): compiled as usual.
    }
  }
  return { dir, file, source: readFileSync(file, 'utf8'), ...(cachedData ? { cachedData } : {}) };
}

/**
 * Compiles the script read by readLintScript (with its code cache) and runs it. `importer`: an
 * import() from a real ES module, for the packages the lint loads on demand (a script compiled by
 * node:vm has none of its own on Node 20).
 */
export function runLintScript(files: LintScriptFiles, importer: (specifier: string) => Promise<unknown>): { exports: LintExports; script: Script } {
  const { dir, file, source, cachedData } = files;
  const script = new Script(source, { filename: file, ...(cachedData ? { cachedData } : {}) });
  const module = { exports: {} as LintExports };
  const self = new URL(LINT_ENTRY, dir);
  const run = script.runInThisContext() as (
    exports: object,
    require: NodeRequire,
    module: object,
    filename: string,
    dirname: string,
    importMeta: { url: string },
    importer: (specifier: string) => Promise<unknown>,
  ) => void;
  run(module.exports, createRequire(self), module, file, fileURLToPath(dir), { url: self.href }, importer);
  return { exports: module.exports, script };
}

/** readLintScript, then runLintScript; undefined when `dir` holds no bundled script. */
export function loadLintScript(
  dir: URL,
  importer: (specifier: string) => Promise<unknown>,
  options: { cache?: boolean } = {},
): { exports: LintExports; script: Script } | undefined {
  const files = readLintScript(dir, options);
  return files && runLintScript(files, importer);
}

/** The cache of `script` as it is now (after a run, with the code compiled for that run), saved beside it. */
export function saveLintCache(dir: URL, script: Script): void {
  writeFileSync(fileURLToPath(new URL(LINT_CACHE, dir)), script.createCachedData());
}
