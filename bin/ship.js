#!/usr/bin/env node
// The entry point runs the compiled CLI; `npm ci` builds it (the prepare script), as does `npm run build`.
// CommonJS (bin/package.json): node starts a CommonJS file ~5 ms sooner than an ES module, which
// counts for `ship lint-migrations`, a short run that CI repeats on every pull request.
'use strict';
// The SDK's notice that its future releases need Node 22 is for ship's maintainers, not for someone deploying.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
if (process.argv[2] === 'lint-migrations') {
  // Pull-request CI runs only this command: its own bundled entry (scripts/bundle-lint.mjs) skips
  // yargs and the deploy machinery. It writes its output itself, also when a reader quits early
  // (src/cli/lint-migrations.ts); the other commands watch theirs in src/cli/stdout.ts.
  process.argv.splice(2, 1);
  require('../dist/lint/lint-migrations.cjs');
} else {
  // The bundled CLI (scripts/bundle-cli.mjs: the same code in a few files, ~0.1 s sooner to start),
  // unless tsc alone has rebuilt dist/src since it was made: then the compiled modules, never a stale bundle.
  const { join } = require('node:path');
  const { statSync } = require('node:fs');
  const { pathToFileURL } = require('node:url');
  const bundle = join(__dirname, '../dist/cli/bundle/ship.js');
  const compiled = join(__dirname, '../dist/src/cli/main.js');
  const modified = (path) => statSync(path, { throwIfNoEntry: false })?.mtimeMs;
  const bundled = modified(bundle);
  // A failure to load is unhandled, as an uncaught error: printed, exit code 1.
  import(pathToFileURL(bundled !== undefined && !(modified(compiled) > bundled) ? bundle : compiled).href);
}
