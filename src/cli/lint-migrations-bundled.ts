/**
 * The published entry of `ship lint-migrations`: scripts/bundle-lint.mjs bundles it as CommonJS
 * (dist/lint/lint-migrations.cjs), which bin/ship.js, CommonJS too, requires. Node starts a chain of
 * CommonJS files ~5 ms sooner than one of ES modules (its ES module loader, and the namespaces of
 * the node: modules an ES module imports), a few percent of linting a folder of migrations in CI.
 * It compiles the lint, one script beside it, with the code cache the build made
 * (lint-script-cache.ts) and runs it as lint-migrations-main.ts runs the sources.
 */
import { setFlagsFromString } from 'node:v8';
import { LINT_SCRIPT, LINT_V8_FLAGS, loadLintScript } from './lint-script-cache.js';

// Before any of the lint's code or the parser's WebAssembly is compiled (see LINT_V8_FLAGS).
for (const flag of LINT_V8_FLAGS) setFlagsFromString(flag);

const lint = loadLintScript(new URL('./', import.meta.url), (specifier) => import(specifier));
if (!lint) throw new Error(`ship lint-migrations: ${LINT_SCRIPT} is missing beside ${import.meta.url}; run npm run build`);
// A rejection (a bug, never a finding) is unhandled, as an uncaught error: printed, exit code 1.
void lint.exports.runLintEntry(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
