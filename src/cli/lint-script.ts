/**
 * What the lint entry (lint-migrations-main.ts) needs from the rest of the lint, gathered in one
 * module: scripts/bundle-lint.mjs bundles it into one script that the entry compiles with a V8 code
 * cache (lint-script-cache.ts).
 */
export { startParseWorkerEarly } from '../lint/early-worker.js';
export { loadParser } from '../lint/parser.js';
export { runLintCli } from './lint-migrations.js';
