#!/usr/bin/env node
// Bundles the compiled `ship lint-migrations` entry (after tsc) into a few files under dist/lint.
// Pull-request CI runs this command on its own, often on large files, and node's module loader
// spends ~25 ms on its ~50 separate modules, a tenth of the lint of a 10,000-statement migration.
// npm packages stay external: they load from node_modules as they do for every other command.
import { build } from 'esbuild';
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

// Chunk names carry content hashes: clear out the last build's.
await rm(join(root, 'dist/lint'), { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: {
    // parse-worker must sit next to the code that starts it: parallel.ts names it './parse-worker.js'.
    'lint-migrations': 'dist/src/cli/lint-migrations-main.js',
    'parse-worker': 'dist/src/lint/parse-worker.js',
  },
  outdir: 'dist/lint',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
});
