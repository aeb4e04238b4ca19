/**
 * The published entry of `ship lint-migrations`: scripts/bundle-lint.mjs bundles it as CommonJS
 * (dist/lint/lint-migrations.cjs), which bin/ship.js, CommonJS too, requires. Node starts a chain of
 * CommonJS files ~5 ms sooner than one of ES modules (its ES module loader, and the namespaces of
 * the node: modules an ES module imports), a few percent of linting a folder of migrations in CI.
 * It compiles the lint, one script beside it, with the code cache the build made
 * (lint-script-cache.ts) and runs it as lint-migrations-main.ts runs the sources.
 */
import { asksForHelp } from './lint-help.js';
import { baselineCompilerFor, LINT_SCRIPT, readLintScript, runLintScript, startLint } from './lint-script-cache.js';

const dir = new URL('./', import.meta.url);
// The V8 flags; and the parser's hot functions compile on a background thread while the lint loads
// and finds the migrations (see compilation-hints.ts).
const parser = startLint(dir, !asksForHelp(process.argv.slice(2)));

const files = readLintScript(dir);
if (!files) throw new Error(`ship lint-migrations: ${LINT_SCRIPT} is missing beside ${import.meta.url}; run npm run build`);
// The event loop gets two turns, after the script is read and after it has run: V8 starts compiling
// the parser's functions in a task of the main thread once another thread has read the module,
// ~2 ms after WebAssembly.compile(), and the lint would keep this thread busy until it needs the
// parser. The earlier turn lets the compile start ~2.5 ms sooner when the module is read by then.
setImmediate(() => {
  const lint = runLintScript(files, (specifier) => import(specifier));
  if (parser) lint.exports.useCompiledParser(parser);
  setImmediate(() => {
    // A rejection (a bug, never a finding) is unhandled, as an uncaught error: printed, exit code 1.
    void lint.exports.runLintEntry(process.argv.slice(2), baselineCompilerFor).then((code) => {
      process.exitCode = code;
    });
  });
});
