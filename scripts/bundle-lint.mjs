#!/usr/bin/env node
// Bundles the compiled `ship lint-migrations` (after tsc) into dist/lint.
// Pull-request CI runs this command on its own, often on large files, and node's module loader
// spends ~25 ms on its ~50 separate modules, a tenth of the lint of a 10,000-statement migration.
// npm packages stay external: they load from node_modules as they do for every other command.
//
// Three bundles: the entry (CommonJS, which bin/ship.js requires: src/cli/lint-migrations-bundled.ts),
// the whole lint as one script that the entry compiles with a V8 code cache
// (src/cli/lint-script-cache.ts), made here by linting scripts/lint-cache-sample/ once, and the
// parse worker (an ES module, started by the lint for a large file).
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist/lint');
const { hintedParserFile, LINT_SCRIPT } = await import(pathToFileURL(join(root, 'dist/src/cli/lint-script-cache.js')).href);

// What an earlier build left (its files had other names).
await rm(outdir, { recursive: true, force: true });
// The parse worker must sit next to the code that starts it: parallel.ts names it './parse-worker.js'
// from the script's import.meta.url, which loadLintScript() gives as the entry's folder.
await build({
  absWorkingDir: root,
  entryPoints: { 'parse-worker': 'dist/src/lint/parse-worker.js' },
  outdir: 'dist/lint',
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
});

// The entry: CommonJS, its import.meta made from its file name.
await build({
  absWorkingDir: root,
  entryPoints: ['dist/src/cli/lint-migrations-bundled.js'],
  outfile: join(outdir, 'lint-migrations.cjs'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  banner: { js: 'var __shipEntryMeta = { url: require("node:url").pathToFileURL(__filename).href };' },
  define: { 'import.meta': '__shipEntryMeta' },
  logLevel: 'warning',
});

// The parser's Emscripten glue (61 KB of JavaScript, CommonJS) goes into the script rather than
// loading from node_modules: so its compiled code is in the code cache. (Not into the worker: an
// ES module, where the glue's require() and __dirname are not defined.)
const require = createRequire(import.meta.url);
const inlineParserGlue = {
  name: 'inline-parser-glue',
  setup(build) {
    build.onResolve({ filter: /^libpg-query\/wasm\/libpg-query\.js$/ }, (args) => ({ path: require.resolve(args.path) }));
  },
};

// A lint reads a ship config only when it is given no paths: that module (and the config schema,
// load balancers and notifiers it imports, a quarter of the script) loads then from tsc's output,
// beside this folder, instead of being read with the script on every lint.
const configuredMigrationsOutside = {
  name: 'configured-migrations-outside',
  setup(build) {
    build.onResolve({ filter: /^\.\.\/migrations\/configured\.js$/ }, () => ({ path: '../src/migrations/configured.js', external: true }));
  },
};

// The script: CommonJS, wrapped in a function that loadLintScript() calls with what a CommonJS
// module gets, the entry's import.meta, and an import() of the entry's (a script compiled by
// node:vm cannot import() on Node 20): execa, ES modules only, loads on demand for --base.
const script = await build({
  absWorkingDir: root,
  entryPoints: ['dist/src/cli/lint-script.js'],
  write: false,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  define: { 'import.meta': '__shipImportMeta' },
  plugins: [inlineParserGlue, configuredMigrationsOutside],
  logLevel: 'warning',
});
let body = script.outputFiles[0].text.replace(/\bimport\((?="[^"]+"\))/g, '__shipImport(');
// (Not jiti.import(), nor the import() in the text of the worker that runs the TypeScript source.)
const left = body.match(/(?<![.\w$])import\s*\((?!\$\{)|\bimport\.meta\b/);
if (left) throw new Error(`bundle-lint: the lint script still uses ${left[0]}, which a node:vm script cannot run`);
body = `(function (exports, require, module, __filename, __dirname, __shipImportMeta, __shipImport) {\n${body}\n})`;
await writeFile(join(outdir, LINT_SCRIPT), body);

// Which of the parser's functions a lint calls: the sample linted once with V8 tracing what it
// compiles (each function on its first call, lazily). Those are marked for compiling at once in a
// copy of the parser (src/lint/compilation-hints.ts), named for this V8 (lint-script-cache.ts).
// Both runs start as the entry does (startLint): when tracing, the hinted copy is not made yet.
const sampleRoot = 'scripts/lint-cache-sample';
const lintSampleFolders = JSON.parse(await readFile(join(root, sampleRoot, 'folders.json'), 'utf8')).map((folder) => `${sampleRoot}/${folder}`);
const lintSample = (save) => `
const cache = await import(${JSON.stringify(pathToFileURL(join(root, 'dist/src/cli/lint-script-cache.js')).href)});
const dir = new URL(${JSON.stringify(`${pathToFileURL(outdir).href}/`)});
const parser = cache.startLint(dir);
const { exports, script } = cache.loadLintScript(dir, (specifier) => import(specifier), { cache: false });
if (parser) exports.useCompiledParser(parser);
const quiet = { stdout() {}, stderr() {}, cwd: process.cwd() };
// One folder per layout (scripts/lint-cache-sample/README.md), in every output format: CI reads
// github's, people text, tools json.
for (const folder of ${JSON.stringify(lintSampleFolders)}) {
  for (const format of ['json', 'text', 'github']) {
    const code = await exports.runLintCli(['--format', format, folder], quiet);
    if (code !== 1) throw new Error('bundle-lint: linting ' + folder + ' exited ' + code + ', not 1 (findings)');
  }
}
if (${save}) cache.saveLintCache(dir, script);
`;
const env = { ...process.env, NODE_OPTIONS: '' };
const traced = spawnSync(process.execPath, ['--trace-wasm-compilation-times', '--input-type=module', '-e', lintSample(false)], {
  cwd: root,
  stdio: ['ignore', 'pipe', 'inherit'],
  env,
  maxBuffer: 64 * 1024 * 1024,
});
if (traced.status !== 0) throw new Error(`bundle-lint: tracing the parser's functions failed (node exited ${traced.status})`);
const { compiledFunctionsInTrace, withCompilationHints } = await import(pathToFileURL(join(root, 'dist/src/lint/compilation-hints.js')).href);
const hot = compiledFunctionsInTrace(traced.stdout.toString('latin1'));
// A node whose V8 prints no such trace: no hints, the parser compiles as published.
if (hot.size > 0) {
  const wasm = await readFile(require.resolve('libpg-query/wasm/libpg-query.wasm'));
  const hinted = join(outdir, hintedParserFile());
  // And with a smaller initial memory (src/lint/initial-memory.ts), where the stack's place is known.
  const { PARSER_HEAP_ROOM, stackTopOf, withInitialMemory } = await import(pathToFileURL(join(root, 'dist/src/lint/initial-memory.js')).href);
  const stackTop = stackTopOf(wasm);
  const withHints = withCompilationHints(wasm, hot);
  await writeFile(hinted, stackTop === undefined ? withHints : withInitialMemory(withHints, stackTop + PARSER_HEAP_ROOM));
  // Kept only where this node's V8 compiles exactly the hinted functions with the module (see hintsTakeEffect).
  const { hintsTakeEffect } = await import(pathToFileURL(join(root, 'dist/src/lint/hinted-parser-check.js')).href);
  if (!hintsTakeEffect(new URL(`${pathToFileURL(outdir).href}/`), hot)) {
    await rm(hinted, { force: true });
    console.warn(`bundle-lint: this node (V8 ${process.versions.v8}) does not compile the parser by its hints; the lint compiles it as published`);
  }
}

// The code cache: the sample linted once more, in a fresh node, by the code the entry runs, with its flags.
const trained = spawnSync(process.execPath, ['--input-type=module', '-e', lintSample(true)], { cwd: root, stdio: 'inherit', env });
if (trained.status !== 0) throw new Error(`bundle-lint: making the lint's code cache failed (node exited ${trained.status})`);
