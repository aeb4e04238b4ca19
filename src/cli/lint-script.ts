/**
 * What the lint entries (lint-migrations-bundled.ts as published, lint-migrations-main.ts from the
 * sources) need from the rest of the lint, gathered in one module: scripts/bundle-lint.mjs bundles
 * it into one script that the published entry compiles with a V8 code cache (lint-script-cache.ts).
 */
import { startParseWorkerEarly } from '../lint/early-worker.js';
import { loadParser, useCompiledParser } from '../lint/parser.js';
import { asksForHelp } from './lint-help.js';
import { type LintIo, processIo, runLintCli } from './lint-migrations.js';

export { loadParser, runLintCli, startParseWorkerEarly, useCompiledParser };

/**
 * `ship lint-migrations <argv>` once the lint is loaded (the entry has set the V8 flags): the exit
 * code. `beforeLint`: see LintIo.
 */
export async function runLintEntry(argv: readonly string[], beforeLint?: LintIo['beforeLint']): Promise<number> {
  // Compiling the parser's WebAssembly happens off the main thread: start it before anything else.
  const parserReady = asksForHelp(argv) ? undefined : loadParser();
  // A large file will be parsed partly on a worker thread: boot it while this thread finds the files.
  await startParseWorkerEarly(argv, beforeLint);
  // Not awaited here: the migrations are found and read while the parser compiles (the lint asks for
  // it when it has files to parse). A parser that fails to load fails that request the same way.
  parserReady?.catch(() => {});
  return runLintCli(argv, beforeLint ? { ...processIo, beforeLint } : processIo);
}
