#!/usr/bin/env node
// Standalone entry for `ship lint-migrations`: CI jobs and the benchmark run it without loading the deploy machinery.
import { setFlagsFromString } from 'node:v8';

// The parser is one WebAssembly call per file, and V8 cannot swap optimised code into a call that
// is already running, so optimising it (TurboFan, in the background) never speeds this run up; yet
// node waits for those background compiles before it exits, ~0.1 s. Baseline code only, then; set
// before the module is compiled.
setFlagsFromString('--liftoff-only');
// Likewise for JavaScript: a lint lasts a fraction of a second, too short to repay TurboFan's
// compiles, which on a 2-core machine take CPU from the parse on the worker thread. Measured on the
// benchmark file: 303 ms instead of 321 (10,000 statements), 682 instead of 740 (40,000).
setFlagsFromString('--no-opt');

const { loadParser } = await import('../lint/parser.js');
// Compiling the parser's WebAssembly happens off the main thread: start it before loading the rest.
const parserReady = loadParser();
const argv = process.argv.slice(2);
const { startParseWorkerEarly } = await import('../lint/early-worker.js');
// A large file will be parsed partly on a worker thread: boot it while this thread loads the rules.
await startParseWorkerEarly(argv);
const { runLintCli } = await import('./lint-migrations.js');
// Not awaited here: the migrations are found and read while the parser compiles (the lint asks for
// it when it has files to parse). A parser that fails to load fails that request the same way.
parserReady.catch(() => {});
process.exitCode = await runLintCli(argv);
