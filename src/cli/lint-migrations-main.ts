#!/usr/bin/env node
// Standalone entry for `ship lint-migrations`: CI jobs and the benchmark run it without loading the deploy machinery.
import { loadParser } from '../lint/parser.js';

// Compiling the parser's WebAssembly happens off the main thread: start it before loading the rest.
const parserReady = loadParser();
const { runLintCli } = await import('./lint-migrations.js');
await parserReady;
process.exitCode = await runLintCli(process.argv.slice(2));
