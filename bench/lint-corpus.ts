/**
 * Lint on real migration folders: `ship lint-migrations <dir>` against squawk-cli on the same
 * files, on public projects' migrations pinned at one commit each. Reports the wall time of both
 * (fresh processes, alternating, medians), the findings per rule of both, and the hand review of
 * a sample of ship's findings (bench/lint-corpus-review.json) against what ship reports now.
 *
 *   node --import tsx bench/lint-corpus.ts [--runs 15] [--only lemmy,ente] [--git-url 'https://github.com/{repo}.git'] [--before <git ref>]
 *   node --import tsx bench/lint-corpus.ts --sample 40   # print a sample of findings to review
 *
 * With --before, ship as it was at that commit is built (exported with git archive into
 * bench/.corpus/ship-<commit>/, node_modules linked, `npm run build`) and timed in the same
 * alternation: the before and after of a change. Where the time goes is measured too: node's own
 * start (`node -e 0`), ship's start and module loading (`lint-migrations --help`, which lints
 * nothing), and the phases inside a run (bench/lib/lint-phases.mjs).
 *
 * The corpora are fetched with git (only the migrations folder, at the pinned commit) into
 * bench/.corpus/ (gitignored) and reused from there. Offline, a corpus that is not cached yet is
 * skipped with a message saying so; with none available the benchmark prints `skipped` and
 * bench/run.ts keeps the figures RESULTS.md had. `--git-url` replaces where the repositories come
 * from ({repo} is owner/name, {owner} and {name} its parts), e.g. a folder of local mirrors.
 *
 * ship runs as published (bin/ship.js, after `npm run build`), squawk as npm installs it (its node
 * launcher and native binary), both without NODE_EXTRA_CA_CERTS (see lint-throughput.ts), both with
 * machine-readable output (ship --format json, squawk --reporter json). squawk is given the very
 * files ship linted, named one by one (ship finds them itself from the directory, by its layout).
 * Progress goes to stderr; the last line of stdout is the result as one JSON object.
 *
 * Tried on these corpora and not kept, before issue 15's second round (A/B medians of 15 to 25
 * alternating runs, two cores under a 1-minute load of 3 to 5 from other work, December 2026):
 * - Parsing the files on the worker thread too (it takes files from the last one back, the main
 *   thread from the first, each claiming a file through a SharedArrayBuffer): slower everywhere,
 *   e.g. ente 132-197 ms against 117-137, a directory of 3 tiny files 129 against 96 (a worker booted
 *   early and torn down at exit); under load it boots in ~70 ms, after the main thread is done.
 * - Node's user-land startup snapshot (node --build-snapshot, lint bundled as one CommonJS script):
 *   on Node 20 WebAssembly is not defined while the snapshot is built, so only the JavaScript can be
 *   in it; run directly (`node --snapshot-blob lint.blob <dir>`) ente took 102.6 ms against 116.3
 *   (21 alternating runs, load 4), but bin/ship.js is already a running node, and starting a second
 *   one with the blob took 135.9 ms. An empty snapshot alone costs ~7 ms over `node -e 0` (a 4 MB
 *   blob read). It only pays with a shell launcher instead of bin/ship.js (not portable to Windows).
 * Issue 15's second round (the commits after main 1ac555e; STARTUP_WORK below lists each with its
 * figures, and RESULTS.md shows the list): kept, the code cache (branch lintstart's), discovery
 * without path.join/relative per file, output written with fs.writeSync, a CommonJS start (bin and
 * lint entry), the parser's glue in the cached script, no fs/promises, --wasm-lazy-validation, the
 * machine's load read only for a large file, SourceMap without a UTF-8 copy for ASCII, the cache
 * trained on every format, parse results decoded from one Buffer. Measured on this machine while
 * other sessions ran test suites (load 4 to 28): wall times swing twice over, so CPU time (user +
 * system of the process and its threads) decided where the wall times could not.
 * Issue 15's third round (December 5, quiet machine, load ~1): kept, compilation hints for the
 * parser's hot functions, started before the script loads with one event-loop turn so V8 starts the
 * background compile; V8's flags set through node's v8 binding (node:v8 loads the stream modules);
 * each migration version split into numbers once per run; no parser compile for --help; the
 * parser's initial memory at 43 MB instead of 128.
 * Where an ente lint's ~74 ms go now (marks inside fresh processes, ms since node started): node
 * reaches the entry at ~17-20 (squawk's launcher pays this too); the entry reads the hinted parser
 * (1.5), sets the flags (0.3), starts its compile (1), reads the script and its cache (1.6), compiles
 * it from the cache (1.3) and runs it (1.4); the event-loop turn takes 0.5, or 4-5 when V8's
 * start-of-compile task runs in it rather than later; finding and reading the 124 files ~8 while the
 * compile runs on the other core (~13 wall for ~10 of CPU); waiting for it 0-3; instantiating ~5-7
 * (the 128 MB memory's allocation and the garbage collection it started were ~3-4 of that, before
 * the memory was lowered to 43 MB); the lint
 * ~22 (JSON.parse of the wanted statements ~4, the rules and the context in V8's interpreter, the
 * parser in Liftoff code); the exit ~3. squawk's ~47 are its node launcher (~22) and a native binary.
 * Issue 15's fourth round (December 5): decided by paired runs (A and B alternating, the median of
 * the differences and its 95% bootstrap interval, wall time and perf stat's task-clock), since the
 * machine's speed drifted by 10 ms between minutes. Kept: builtins loaded before the flags change,
 * a code cache trained on a folder per layout, --no-minor-gc-task, Sparkplug only for large input,
 * one compile thread for the parser,
 * the config reader out of the script, CREATE TABLE foreign keys read from the text, paths shown
 * without path.relative from any directory, output in 64 Ki pieces. perf (20 kHz, call graphs) on
 * ente: a sixth of the main thread is page faults (2.6 us each here; ~5,100 on the main thread,
 * ~3,100 on the compile threads against ~1,900 for `node -e 0`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { argument, median } from './lib/common.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/**
 * Start-up work for issue 15's 1.5x, measured apart from this benchmark (A/B medians of alternating
 * fresh processes; the header says more): shown in RESULTS.md under the figures.
 */
const STARTUP_WORK: readonly string[] = [
  "Kept (fourth round): node's builtins the lint needs (node:os, util.parseArgs) loaded before the V8 flags change: node compiles its builtins from a code cache made under V8's default flags, which V8 rejects once they differ (node:stream's 30 modules: 4.2 ms instead of 1.1); running the script 3.9 -> 2.6 ms (ente, timing marks, 21 runs). test/unit/lint-start.test.ts fails on any builtin loaded later.",
  'Kept (fourth round): the code cache and the parser hints made from one folder per layout (scripts/lint-cache-sample), not four Flyway files: discovery of the other layouts had been compiled from source on every lint. Cache 330 -> 365 KB, 77 -> 89 hinted functions. Training the cache on ente itself would have gained another 0.6 ms only (40 pairs, interval -2.1 to +0.2).',
  "Kept (fourth round): --no-minor-gc-task: V8's scavenge scheduled as a task when the new space is 80% full ran just before exit. ente -1.0 ms (60 pairs, interval -1.7 to -0.0), crates.io -2.6 (40 pairs, -5.0 to -1.2), lemmy within noise.",
  "Kept (fourth round): the config reader (config schema, load balancers, AWS, notifiers) out of the lint script, loaded from tsc's output only for a lint without paths: script 455 -> 320 KB, cache 365 -> 332 KB; ente -2.5 ms (40 pairs, -3.8 to -1.0). crates.io +3.9 ms: with less in the old generation V8's adaptive limit came lower and Sparkplug's code allocation triggered a 3 ms mark-compact (perf call graph); fixed by the next item.",
  "Kept (fourth round): Sparkplug off until the lint knows its SQL reaches 256 KB (LintIo.beforeLint; told early for a named file that large, so the parse worker's start runs with it): crates.io -4.5 ms (30 pairs, -5.7 to -1.7), ente and lemmy within noise, the 10,000-statement file -1.6 ms (20 pairs). Off throughout, that file took 17 ms more; turned on only after discovery, 6 ms more (the worker had booted without it).",
  "Kept (fourth round): a CREATE TABLE's foreign key targets read from its JSON text (each \"pktable\" is a RangeVar holding no object) instead of its whole tree, 176 KB of ente's JSON: CPU 89.8 -> 87.5 ms (perf stat, 30 runs); wall within noise in paired runs. Paths under a named folder shown without path.relative from any working directory: ente from /tmp -1.3 ms (40 pairs, -2.3 to -0.4). Output written in 64 Ki pieces: lemmy's 2.3 MB report 1.0-1.2 ms instead of 1.9-6.9 in one write; lemmy piped -2.9 ms (24 pairs, -6.8 to +1.6).",
  "Kept (fourth round, last): one thread compiles the parser's hinted functions (--wasm-num-compilation-tasks=1): on two cores a second compile thread only took the main thread's core, and each compile thread first-touches megabytes of scratch memory. ente -1.3 ms (40 pairs, -2.1 to -0.0; CPU -4.1), lemmy -4.0 (20 pairs, -6.8 to -2.2), crates.io -2.1 (30 pairs, -4.4 to -0.2), the 10,000-statement file within noise. An earlier round had found it within noise from medians of alternating runs.",
  "Dropped (fourth round): TurboFan for the parser's hot functions through compilation hints (without --liftoff-only): V8 11.3 compiled them all with the module or tiered up the two largest (87 and 90 ms of TurboFan each) whatever the hints said, and node waited for those compiles: lemmy +70 to +105 ms, ente +130. A parse-ahead on the worker for a run of 256 KB of SQL or more (the worker parsing the files after the one the main thread is at, the main thread polling for them and never waiting): the worker's first file came ~80 ms after the request, at lemmy's 160th of 342 files, and lemmy took 13 ms more (20 pairs; CPU +86). Emscripten's glue set up before the compile finished: within noise (crates.io +2.9, ente 0.0). process.exit() after the output: wall within noise on ente and lemmy (CPU -1.7). --no-parallel-scavenge: within noise. Reading each file with one readFileSync(path) would save ~0.8 ms on ente (124 files, 1.4 against 2.2 ms) but gives up read-sql-file.ts's size-before-read guarantee: not done. Nor open, one read of at most 2 MiB + 1 into a shared buffer and close (1.76 against 2.35 ms for ente's files; end to end within noise in 30 pairs): it takes a short read for the end of a regular file, which a network or FUSE file system (a CI runner's mounted checkout) need not honour, and would lint part of a migration without a word.",
  "Kept (third round): compilation hints (src/lint/compilation-hints.ts): the build traces which of the parser's 526 functions linting its sample compiles (75) and writes a copy of the parser marking them eager; the entry starts compiling it before it loads the script, then turns the event loop once so V8 starts the background compile. ente 81.3 -> 73.7 ms, one small file 55.3 -> 50.9 (21 alternating runs, load ~1); without the turn, ente 79.5 and crates.io 88.0 against 75.0 and 81.8 (25 runs).",
  "Kept (third round): V8's flags through node's v8 binding (process.binding('v8'), its deprecation warning held off for the call, node:v8 where the binding is gone): node:v8 loads node's stream modules, which the lint never uses. ente 74.7 -> 72.9 ms, one small file 52.0 -> 49.9 (31 runs).",
  'Kept (third round): each migration version split into numbers once per run, not at every comparison of the sort: sorting ente 1.3 -> 0.35 ms. And no parser compile for `lint-migrations --help`, which node waited for before exiting: 44 -> 31 ms.',
  "Kept (third round, last): the hinted parser declares 43 MB of initial memory (the top of Emscripten's stack, 34.5 MB, plus 10 MB of heap; src/lint/initial-memory.ts) instead of 128: the 128 MB allocation starts a full garbage collection, which a folder the size of ente's or crates.io's then never needs. ente 78.8 -> 74.7 and 83.7 -> 76.0 ms, crates.io 83.8 -> 81.6, the 10,000-statement file 244 -> 232, lemmy 161.6 -> 166.5 and 170.8 -> 170.9 (25 to 31 runs). Earlier in the round, before the hints, 45 MB had come out even (ente 81.8 against 78.6, crates.io 88.2 against 91.4): the mark-compact the 128 MB starts early then came later and atomic. Only the two largest functions eager instead of 75: ente 77.9 against 75.7 (25 runs).",
  'Dropped (third round), each within noise or slower against the same build (21 to 31 alternating runs): --wasm-num-compilation-tasks=1 or 2, --no-incremental-marking (alone and with one compile task), --semi-space-growth-factor=8, --no-concurrent-marking with --no-parallel-scavenge (ente 84.7 against 80.1), --maglev, --wasm-max-initial-code-space-reservation=2 or 8 (the turn is then never 4-5 ms, but the same work comes later), process.exit() after the output (84.5 against 84.6), more event-loop turns while the script loads (76.8 against 77.6).',
  'Dropped (third round): the script read in one call as Latin-1 (the build writing it in ASCII) instead of as UTF-8, which node reads 8 KB at a time: ente 74.7 against 74.8 ms (31 runs). A parse worker booted first thing, to instantiate and run the parser beside the main thread: a worker thread took 58 to 72 ms to boot on this machine, so it was not built.',
  'Kept: a V8 code cache for the lint (branch lintstart: dist/lint/lint-script.cjs compiled through node:vm with dist/lint/lint-script.cache, made by npm run build). Cherry-picked first, against main 1ac555e: crates.io 160.0 -> 146.1 ms (15 alternating runs, load 2.8 to 6.6); on top of everything below, without the cache file against with it: crates.io 111.5 -> 98.1 ms (CPU 108.7 -> 96.4), ente 126.6 -> 102.5 (CPU 104.5 -> 89.8), 21 runs, load 4.3.',
  'Kept: discovery writes paths by concatenation, not path.join/relative per file (~6 and ~10 µs a call under --no-opt): crates.io 151.2 -> 133.6 ms (21 runs, load 3.5).',
  'Kept: output written with fs.writeSync, not through process.stdout (a pipe made node load its net and stream modules): crates.io 116.2 -> 113.0 ms, CPU 111.2 -> 109.1 (25 runs, load 8).',
  'Kept: a CommonJS start, bin/ship.js (bin/package.json) and dist/lint/lint-migrations.cjs: a bare chain of the same files took 29.8 ms against 36.0 as ES modules; crates.io 113.0 -> 110.8 ms, CPU 109.1 -> 106.5 (25 runs, load 8).',
  "Kept: the parser's Emscripten glue inside the cached script (dropped on lintstart, where there was no cache to hold it): CPU crates.io 126.7 -> 122.0 ms, ente 111.8 -> 106.2 (21 runs, load 14 to 15).",
  'Kept: no fs/promises on the lint path (the WebAssembly file read synchronously, so V8 compiles it during discovery; the named paths stat()ed synchronously): no change measurable under load 8 (115.8 against 116.2 ms).',
  'Kept: --wasm-lazy-validation (validating all 526 functions took ~4 ms of CPU on background threads): CPU crates.io 106.6 -> 103.4 and 115.5 -> 109.6 ms, ente 102.7 -> 102.4 (21 runs, load 18 to 20). Dropped with the same runs: --no-wasm-lazy-compilation (CPU 138.7), --no-wasm-tier-up in place of --liftoff-only (372: TurboFan).',
  'Kept: the load read (node:os, /proc/loadavg) only for a file large enough to parse in parts, and SourceMap without a UTF-8 copy of ASCII text: CPU crates.io 114.1 -> 111.0 ms, ente 106.3 -> 102.7 (21 runs, load 23 to 28).',
  'Kept: the code cache trained on the text and github formats too, with more kinds of statement: ente (text) 104.0 -> 100.8 ms, crates.io (json) unchanged (21 runs, load 8).',
  'Kept: parse results decoded from one Buffer over the parser memory, the output written as a string: CPU crates.io 110.2 -> 108.9 ms, ente 98.5 -> 97.1 (21 runs, load 7).',
  'Dropped: the parser memory declared at 45 MB instead of 128 (patched before compiling; it grows itself): ready in 5.9 ms instead of 10.4 alone, but the full collection it avoided at instantiation then came later and atomic (7 to 13 ms): CPU crates.io 109.8 against 110.7, ente 96.3 against 93.0.',
  'Dropped in the second round, kept in the third: V8 compilation hints with the compile started from within the lint: the background compile then finished 27 to 80 ms after a 30 ms busy main thread at load 7. It waited for the main thread: V8 starts compiling the functions in a task of the main thread once it has read the module, and the lint gave it no turn of the event loop until it needed the parser.',
  'Dropped: discovery and the engine without an async function per file: CPU crates.io 111.1 against 109.3 ms, ente 101.8 against 102.5 (a bare benchmark of 570 async calls had promised 2 to 10 ms).',
  'Dropped: --always-sparkplug (CPU 124.9 against 121.4 ms), --no-lazy-feedback-allocation (120.1, no change), dropping --no-opt (132.8); --single-threaded-gc set at run time (V8 aborts).',
  "Not done: reading each file with one readFileSync(path) (2.7 against 5 to 7 ms for the 285 files) would give up read-sql-file.ts's no FIFO, no device, size-before-read guarantee.",
  "Dropped earlier (lintstart): node's user-land startup snapshot (WebAssembly cannot be in it on Node 20; a second node from bin/ship.js took 135.9 ms against 116.3).",
];
const shipBin = join(root, 'bin/ship.js');
const squawkBin = join(root, 'node_modules/.bin/squawk');
const CACHE = join(root, 'bench/.corpus');
const REVIEW = join(root, 'bench/lint-corpus-review.json');
/** The squawk-cli release compared against (the same as lint-throughput.ts). */
const SQUAWK_VERSION = '2.66.0';

export interface Corpus {
  /** Short name, used in the review file and on the command line. */
  readonly name: string;
  /** GitHub owner/name. */
  readonly repo: string;
  readonly commit: string;
  /** The migrations folder, as given to ship. */
  readonly dir: string;
  readonly layout: string;
}

export const CORPORA: readonly Corpus[] = [
  {
    name: 'lemmy',
    repo: 'LemmyNet/lemmy',
    commit: '439734dd638a2c06a2f907beab7dcf4646e88f86',
    dir: 'migrations',
    layout: 'Diesel (<timestamp>_<name>/up.sql, metadata.toml)',
  },
  {
    name: 'crates.io',
    repo: 'rust-lang/crates.io',
    commit: '57fa000662f511321daa61e6769f190ea0e80771',
    dir: 'migrations',
    layout: 'Diesel (<timestamp>_<name>/up.sql, metadata.toml)',
  },
  {
    name: 'ente',
    repo: 'ente-io/ente',
    commit: 'a621d733154a834f23754e7e874de769be532d9d',
    dir: 'server/migrations',
    layout: 'golang-migrate (<n>_<name>.up.sql)',
  },
];

const benchEnv = { ...process.env };
delete benchEnv.NODE_EXTRA_CA_CERTS;

function option(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? undefined : process.argv[at + 1];
}

function git(args: string[], cwd: string): { ok: boolean; why: string } {
  const result = spawnSync('git', args, { cwd, encoding: 'utf8', timeout: 300_000, env: { ...process.env, GIT_TERMINAL_PROMPT: '0' } });
  const why = (result.error?.message ?? result.stderr ?? '').trim().split('\n').filter(Boolean).at(-1) ?? `exit ${result.status}`;
  return { ok: result.status === 0, why };
}

/**
 * The corpus's checkout (only its migrations folder), fetched once at the pinned commit; a string
 * saying why when it cannot be had.
 */
export function fetchCorpus(corpus: Corpus, urlTemplate: string): { dir: string } | { skipped: string } {
  const target = join(CACHE, `${corpus.name}-${corpus.commit.slice(0, 12)}`);
  if (existsSync(join(target, '.fetched'))) return { dir: join(target, corpus.dir) };
  const [owner = '', name = ''] = corpus.repo.split('/');
  const url = urlTemplate.replaceAll('{repo}', corpus.repo).replaceAll('{owner}', owner).replaceAll('{name}', name);
  const partial = `${target}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  process.stderr.write(`lint-corpus: fetching ${corpus.dir} of ${corpus.repo} at ${corpus.commit.slice(0, 12)} from ${url}\n`);
  // Blobs only for the migrations folder: a shallow, blobless fetch of the commit, then a sparse checkout.
  const steps: string[][] = [
    ['init', '-q'],
    ['remote', 'add', 'origin', url],
    ['fetch', '-q', '--depth', '1', '--filter=blob:none', 'origin', corpus.commit],
    ['sparse-checkout', 'set', '--no-cone', `/${corpus.dir}/`],
    ['-c', 'advice.detachedHead=false', 'checkout', '-q', corpus.commit],
  ];
  for (const step of steps) {
    const { ok, why } = git(step, partial);
    if (!ok) {
      rmSync(partial, { recursive: true, force: true });
      return {
        skipped: `could not fetch ${corpus.repo} at ${corpus.commit} from ${url} (offline, or the host is unreachable?): git ${step[0] === '-c' ? step[2] : step[0]}: ${why}`,
      };
    }
  }
  rmSync(join(partial, '.git'), { recursive: true, force: true });
  writeFileSync(join(partial, '.fetched'), `${corpus.repo} ${corpus.commit}\n`);
  rmSync(target, { recursive: true, force: true });
  renameSync(partial, target);
  return { dir: join(target, corpus.dir) };
}

interface ShipFinding {
  ruleId: string;
  file: string;
  line: number;
  severity: string;
  message: string;
}

interface ShipReport {
  files: string[];
  statementCount: number;
  findings: ShipFinding[];
  errorCount: number;
  warningCount: number;
}

interface SquawkFinding {
  file: string;
  line: number;
  rule_name: string;
  level: string;
}

function shipArgs(dir: string, bin = shipBin): [string, string[]] {
  return [process.execPath, [bin, 'lint-migrations', dir, '--format', 'json']];
}

function squawkArgs(files: readonly string[]): [string, string[]] {
  return [squawkBin, ['--reporter', 'json', ...files]];
}

/**
 * ship as it was at `ref`, built: the path of its bin/ship.js, or why it cannot be had. Exported
 * with git archive (the repository's worktrees are left alone) and built against this checkout's
 * node_modules.
 */
function buildBefore(ref: string): { bin: string; commit: string } | { skipped: string } {
  const resolved = spawnSync('git', ['rev-parse', '--verify', `${ref}^{commit}`], { cwd: root, encoding: 'utf8' });
  if (resolved.status !== 0) return { skipped: `--before ${ref}: no such commit here` };
  const commit = resolved.stdout.trim();
  const dir = join(CACHE, `ship-${commit.slice(0, 12)}`);
  const bin = join(dir, 'bin/ship.js');
  if (existsSync(join(dir, '.built'))) return { bin, commit };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  process.stderr.write(`lint-corpus: building ship at ${commit.slice(0, 12)} in ${relative(root, dir)}\n`);
  const exported = spawnSync('sh', ['-c', `git archive ${commit} | tar -x -C "${dir}"`], { cwd: root, encoding: 'utf8' });
  if (exported.status !== 0) return { skipped: `--before ${ref}: git archive failed: ${exported.stderr.trim()}` };
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: dir, encoding: 'utf8' });
  if (build.status !== 0) return { skipped: `--before ${ref}: its build failed: ${(build.stdout + build.stderr).trim().split('\n').at(-1)}` };
  writeFileSync(join(dir, '.built'), `${commit}\n`);
  return { bin, commit };
}

function run(command: string, args: string[]): { ms: number; stdout: string } {
  const started = performance.now();
  const result = spawnSync(command, args, { cwd: root, env: benchEnv, encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = performance.now() - started;
  // Both exit 1 when they find problems, which every corpus has.
  if (result.status !== 0 && result.status !== 1) throw new Error(`${command} ${args.slice(0, 4).join(' ')} ... exited ${result.status}: ${String(result.stderr).slice(0, 500)}`);
  return { ms, stdout: result.stdout };
}

function countBy<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return Object.fromEntries(Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
}

/**
 * squawk's rules that flag the same hazard as a ship rule (for the side-by-side table). ship's
 * hygiene rules are off unless a project turns them on; squawk's prefer-* rules are on by default.
 */
export const SQUAWK_EQUIVALENTS: Readonly<Record<string, readonly string[]>> = {
  'require-lock-timeout': ['require-lock-timeout', 'require-timeout-settings'],
  'require-statement-timeout': ['require-statement-timeout'],
  'create-index-without-concurrently': ['require-concurrent-index-creation'],
  'drop-index-without-concurrently': ['require-concurrent-index-deletion'],
  'concurrently-in-transaction': ['ban-concurrent-index-creation-in-transaction'],
  'not-rerunnable-outside-transaction': ['prefer-robust-stmts'],
  'not-null-column-without-default': ['adding-required-field'],
  'set-not-null': ['adding-not-nullable-field'],
  'add-column-volatile-default': ['adding-field-with-default'],
  'change-column-type': ['changing-column-type'],
  'check-without-not-valid': ['constraint-missing-not-valid'],
  'foreign-key-without-not-valid': ['adding-foreign-key-constraint'],
  'unique-constraint-without-index': ['disallowed-unique-constraint'],
  'primary-key-on-existing-table': ['adding-serial-primary-key-field'],
  'drop-column': ['ban-drop-column'],
  'drop-table': ['ban-drop-table'],
  'drop-not-null': ['ban-drop-not-null'],
  'drop-database': ['ban-drop-database'],
  'rename-column': ['renaming-column'],
  'rename-table': ['renaming-table'],
  'transaction-nesting': ['transaction-nesting'],
  'add-json-column': ['prefer-jsonb'],
  'prefer-bigint-for-keys': ['prefer-bigint-over-int', 'prefer-bigint-over-smallint'],
  'prefer-identity': ['prefer-identity'],
  'prefer-timestamptz': ['prefer-timestamp-tz'],
  'prefer-text-over-varchar': ['prefer-text-field'],
  'identifier-too-long': ['identifier-too-long'],
};

export interface ReviewEntry {
  readonly corpus: string;
  /** Relative to the corpus's migrations folder. */
  readonly file: string;
  readonly line: number;
  readonly ruleId: string;
  /** 'true': the hazard is real as the finding says; 'false': a false positive. */
  readonly verdict: 'true' | 'false';
  readonly why: string;
}

interface Timing {
  medianMs: number;
  runsMs: number[];
}

/** Medians of the phases bench/lib/lint-phases.mjs measures, over `runs` fresh processes of each mode. */
function phases(dir: string, runs: number): Record<string, number> {
  const samples: Record<string, number[]> = {};
  for (let i = 0; i < runs; i++) {
    for (const mode of ['lint', 'parse-first']) {
      const result = spawnSync(process.execPath, [join(root, 'bench/lib/lint-phases.mjs'), dir, mode], { cwd: root, env: benchEnv, encoding: 'utf8' });
      if (result.status !== 0) throw new Error(`lint-phases exited ${result.status}: ${result.stderr.slice(0, 500)}`);
      for (const [key, value] of Object.entries(JSON.parse(result.stdout) as Record<string, number | undefined>)) {
        if (typeof value !== 'number' || key === 'files') continue;
        // The lint after a parse-first pass judges a warm parser: kept apart.
        const name = mode === 'parse-first' && key === 'lint' ? 'lintAfterParse' : key;
        if (mode === 'parse-first' && key !== 'lint' && key !== 'parseCold') continue;
        const values = samples[name] ?? [];
        values.push(value);
        samples[name] = values;
      }
    }
  }
  return Object.fromEntries(Object.entries(samples).map(([key, values]) => [key, Math.round(median(values) * 10) / 10]));
}

interface CorpusResult {
  name: string;
  repo: string;
  commit: string;
  dir: string;
  layout: string;
  files: number;
  statements: number;
  bytes: number;
  ship: { medianMs: number; runsMs: number[]; findings: number; errors: number; warnings: number; byRule: Record<string, number> };
  squawk: { medianMs: number; runsMs: number[]; findings: number; byRule: Record<string, number> };
  ratio: number;
  /** ship at the --before commit, in the same alternation. */
  before?: Timing & { commit: string; ratio: number };
  /** `node -e 0` and `ship lint-migrations --help`, in the same alternation: node's start, and ship's start with its modules loaded. */
  nodeStart: Timing;
  shipStart: Timing;
  phases: Record<string, number>;
  load: [number, number];
}

function race(corpus: Corpus, dir: string, runs: number, before: { bin: string; commit: string } | undefined): { result: CorpusResult; findings: ShipFinding[] } {
  const ship = shipArgs(relative(root, dir));
  const first = run(...ship);
  const report = JSON.parse(first.stdout) as ShipReport;
  const files = report.files.map((file) => resolve(root, file));
  const squawk = squawkArgs(files);
  const squawkFindings = JSON.parse(run(...squawk).stdout) as SquawkFinding[];
  const sides: Record<string, [string, string[]]> = {
    ship,
    squawk,
    nodeStart: [process.execPath, ['-e', '0']],
    shipStart: [process.execPath, [shipBin, 'lint-migrations', '--help']],
    ...(before ? { before: shipArgs(relative(root, dir), before.bin) } : {}),
  };
  const names = Object.keys(sides);
  const samples: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
  const loadBefore = loadavg()[0] ?? 0;
  // One untimed run each warms the page cache.
  for (const name of names) run(...sides[name]!);
  for (let i = 0; i < runs; i++) {
    // Alternating, each side's place turning every run, so that load from elsewhere falls on all alike.
    for (let k = 0; k < names.length; k++) {
      const name = names[(i + k) % names.length]!;
      samples[name]!.push(run(...sides[name]!).ms);
    }
    process.stderr.write(`lint-corpus ${corpus.name} ${i + 1}/${runs}: ${names.map((name) => `${name} ${Math.round(samples[name]![i]!)} ms`).join(', ')}\n`);
  }
  const round = (values: number[]) => values.map((value) => Math.round(value));
  const timing = (name: string): Timing => ({ medianMs: Math.round(median(samples[name]!)), runsMs: round(samples[name]!) });
  const shipRuns = samples.ship!;
  const squawkRuns = samples.squawk!;
  const bytes = files.reduce((sum, file) => sum + readFileSync(file).length, 0);
  return {
    findings: report.findings.map((finding) => ({ ...finding, file: relative(dir, resolve(root, finding.file)) })),
    result: {
      name: corpus.name,
      repo: corpus.repo,
      commit: corpus.commit,
      dir: corpus.dir,
      layout: corpus.layout,
      files: files.length,
      statements: report.statementCount,
      bytes,
      ship: {
        medianMs: Math.round(median(shipRuns)),
        runsMs: round(shipRuns),
        findings: report.findings.length,
        errors: report.errorCount,
        warnings: report.warningCount,
        byRule: countBy(report.findings, (finding) => finding.ruleId),
      },
      squawk: {
        medianMs: Math.round(median(squawkRuns)),
        runsMs: round(squawkRuns),
        findings: squawkFindings.length,
        byRule: countBy(squawkFindings, (finding) => finding.rule_name),
      },
      ratio: Number((median(shipRuns) / median(squawkRuns)).toFixed(3)),
      ...(before ? { before: { ...timing('before'), commit: before.commit, ratio: Number((median(samples.before!) / median(squawkRuns)).toFixed(3)) } } : {}),
      nodeStart: timing('nodeStart'),
      shipStart: timing('shipStart'),
      phases: runs > 0 ? phases(dir, Math.max(3, Math.ceil(runs / 2))) : {},
      load: [Number(loadBefore.toFixed(2)), Number((loadavg()[0] ?? 0).toFixed(2))],
    },
  };
}

/** The reviewed findings, each marked with whether ship still reports it. */
function checkReview(findings: ReadonlyMap<string, ShipFinding[]>): {
  entries: Array<ReviewEntry & { reported: boolean }>;
  reported: number;
  falsePositives: number;
  rate: number;
} {
  const review = existsSync(REVIEW) ? (JSON.parse(readFileSync(REVIEW, 'utf8')) as ReviewEntry[]) : [];
  const entries = review
    .filter((entry) => findings.has(entry.corpus))
    .map((entry) => ({
      ...entry,
      reported: (findings.get(entry.corpus) ?? []).some((finding) => finding.file === entry.file && finding.line === entry.line && finding.ruleId === entry.ruleId),
    }));
  const reported = entries.filter((entry) => entry.reported);
  const falsePositives = reported.filter((entry) => entry.verdict === 'false').length;
  return { entries, reported: reported.length, falsePositives, rate: reported.length ? Number((falsePositives / reported.length).toFixed(3)) : 0 };
}

/** A deterministic sample spread over the rules and corpora, to review by hand (--sample N). */
function sample(findings: ReadonlyMap<string, ShipFinding[]>, size: number): void {
  const byRule = new Map<string, Array<ShipFinding & { corpus: string }>>();
  for (const [corpus, list] of findings) {
    for (const finding of list) byRule.set(finding.ruleId, [...(byRule.get(finding.ruleId) ?? []), { ...finding, corpus }]);
  }
  // Round-robin over the rules, taking evenly spaced findings of each: every rule is sampled, the frequent ones more.
  const picked: Array<ShipFinding & { corpus: string }> = [];
  const rules = [...byRule.keys()].sort();
  for (let round = 0; picked.length < size && round < size; round++) {
    for (const rule of rules) {
      const list = byRule.get(rule) ?? [];
      const take = Math.min(list.length, Math.ceil((size * list.length) / [...findings.values()].flat().length) + 1);
      if (round >= take || picked.length >= size) continue;
      picked.push(list[Math.floor(((round + 0.5) * list.length) / take)]!);
    }
  }
  for (const finding of picked) console.log(JSON.stringify({ corpus: finding.corpus, file: finding.file, line: finding.line, ruleId: finding.ruleId, message: finding.message }));
}

function main(): void {
  const runs = argument('runs', 15);
  const only = option('only')?.split(',');
  const urlTemplate = option('git-url') ?? 'https://github.com/{repo}.git';
  const corpora = CORPORA.filter((corpus) => !only || only.includes(corpus.name));
  const available: Array<{ corpus: Corpus; dir: string }> = [];
  const skipped: string[] = [];
  for (const corpus of corpora) {
    const fetched = fetchCorpus(corpus, urlTemplate);
    if ('skipped' in fetched) {
      process.stderr.write(`lint-corpus: skipping ${corpus.name}: ${fetched.skipped}\n`);
      skipped.push(`${corpus.name}: ${fetched.skipped}`);
    } else {
      available.push({ corpus, dir: fetched.dir });
    }
  }
  if (available.length === 0) {
    console.log(JSON.stringify({ name: 'lint-corpus', skipped: `no corpus could be had: ${skipped.join('; ')}` }));
    return;
  }
  const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'ignore' });
  if (build.status !== 0) throw new Error(`npm run build exited ${build.status}`);
  if (!existsSync(squawkBin)) {
    // Installed here, not as a dependency (see lint-throughput.ts).
    const install = spawnSync('npm', ['install', '--no-save', `squawk-cli@${SQUAWK_VERSION}`], { cwd: root, stdio: 'inherit' });
    if (install.status !== 0 || !existsSync(squawkBin)) throw new Error(`could not install squawk-cli@${SQUAWK_VERSION} (npm exited ${install.status})`);
  }
  const beforeRef = option('before');
  const built = beforeRef === undefined || process.argv.includes('--sample') ? undefined : buildBefore(beforeRef);
  if (built && 'skipped' in built) {
    process.stderr.write(`lint-corpus: ${built.skipped}; timing without it\n`);
    skipped.push(built.skipped);
  }
  const before = built && !('skipped' in built) ? built : undefined;
  const results: CorpusResult[] = [];
  const findings = new Map<string, ShipFinding[]>();
  for (const { corpus, dir } of available) {
    const raced = race(corpus, dir, process.argv.includes('--sample') ? 0 : runs, before);
    results.push(raced.result);
    findings.set(corpus.name, raced.findings);
  }
  if (process.argv.includes('--sample')) {
    sample(findings, argument('sample', 40));
    return;
  }
  const target = 1.5;
  const squawkVersion = spawnSync(squawkBin, ['--version'], { encoding: 'utf8' }).stdout.trim();
  console.log(
    JSON.stringify({
      name: 'lint-corpus',
      runs,
      machine: `${cpus().length} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'}), Node ${process.version}`,
      command: `node --import tsx bench/lint-corpus.ts --runs ${runs}${beforeRef ? ` --before ${beforeRef}` : ''}`,
      ship: 'node bin/ship.js lint-migrations <dir> --format json (compiled by tsc and bundled by esbuild: npm run build, as published)',
      squawk: `${squawkVersion} (node_modules/.bin/squawk --reporter json <the files ship linted>)`,
      environment: 'both without NODE_EXTRA_CA_CERTS',
      target: `ship wall time <= ${target} x squawk`,
      corpora: results.map((result) => ({ ...result, met: result.ratio <= target })),
      skipped,
      squawkEquivalents: SQUAWK_EQUIVALENTS,
      review: checkReview(findings),
      startupWork: STARTUP_WORK,
    }),
  );
}

main();
