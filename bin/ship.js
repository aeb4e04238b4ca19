#!/usr/bin/env node
// The entry point runs the compiled CLI; `npm ci` builds it (the prepare script), as does `npm run build`.
// The SDK's notice that its future releases need Node 22 is for ship's maintainers, not for someone deploying.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
if (process.argv[2] === 'lint-migrations') {
  // Pull-request CI runs only this command: its own bundled entry (scripts/bundle-lint.mjs) skips
  // yargs and the deploy machinery. It writes its output itself, also when a reader quits early
  // (src/cli/lint-migrations.ts); the other commands watch theirs in src/cli/stdout.ts.
  process.argv.splice(2, 1);
  await import('../dist/lint/lint-migrations.js');
} else {
  // The bundled CLI (scripts/bundle-cli.mjs: the same code in a few files, ~0.1 s sooner to start),
  // unless tsc alone has rebuilt dist/src since it was made: then the compiled modules, never a stale bundle.
  const { statSync } = await import('node:fs');
  const bundle = new URL('../dist/cli/bundle/ship.js', import.meta.url);
  const compiled = new URL('../dist/src/cli/main.js', import.meta.url);
  const modified = (url) => statSync(url, { throwIfNoEntry: false })?.mtimeMs;
  const bundled = modified(bundle);
  await import((bundled !== undefined && !(modified(compiled) > bundled) ? bundle : compiled).href);
}
