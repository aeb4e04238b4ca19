#!/usr/bin/env node
// `ship lint-migrations` from the sources (under tsx) or tsc's output, with the lint's modules
// imported. As published, bin/ship.js runs lint-migrations-bundled.ts's bundle instead: the same
// steps, on the lint compiled as one script with a code cache.
import { setFlagsFromString } from 'node:v8';
import { LINT_V8_FLAGS } from './lint-script-cache.js';

// Before any of the lint's code or the parser's WebAssembly is compiled (see LINT_V8_FLAGS).
for (const flag of LINT_V8_FLAGS) setFlagsFromString(flag);

const { runLintEntry } = await import('./lint-script.js');
process.exitCode = await runLintEntry(process.argv.slice(2));
