#!/usr/bin/env node
// Standalone entry for `ship lint-migrations`: CI jobs and the benchmark run it without loading the deploy machinery.
import { setFlagsFromString } from 'node:v8';
import { LINT_V8_FLAGS, loadLintScript } from './lint-script-cache.js';

// Before any of the lint's code or the parser's WebAssembly is compiled (see LINT_V8_FLAGS).
for (const flag of LINT_V8_FLAGS) setFlagsFromString(flag);

// Bundled (dist/lint, as published): the lint is one script with a code cache beside this file.
// Otherwise (the source under tsx, tsc's output) its modules are imported.
const bundled = loadLintScript(new URL('./', import.meta.url), (specifier) => import(specifier))?.exports;
const { loadParser } = bundled ?? (await import('../lint/parser.js'));
// Compiling the parser's WebAssembly happens off the main thread: start it before loading the rest.
const parserReady = loadParser();
const argv = process.argv.slice(2);
const { startParseWorkerEarly } = bundled ?? (await import('../lint/early-worker.js'));
// A large file will be parsed partly on a worker thread: boot it while this thread loads the rules.
await startParseWorkerEarly(argv);
const { runLintCli } = bundled ?? (await import('./lint-migrations.js'));
// Not awaited here: the migrations are found and read while the parser compiles (the lint asks for
// it when it has files to parse). A parser that fails to load fails that request the same way.
parserReady.catch(() => {});
process.exitCode = await runLintCli(argv);
