#!/usr/bin/env node
// Bundles the compiled CLI (after tsc) into dist/cli/bundle, which bin/ship.js runs. Every run of
// ship starts by loading modules: unbundled, `ship deploy` loads ~300 of them (zod alone is 95,
// 45 of which are its translations) before its first event, and Node's module loader spends more
// time on that than on anything ship does before it. Bundled, they are a few files, split so that
// each command still loads only what it uses (its dynamic imports become chunks of their own).
//
// Only the packages in BUNDLED are bundled; every other package stays external and loads from
// node_modules as before: those with native parts or files they find at run time (ssh2, pg,
// libpg-query's wasm, jiti's transformer), the AWS SDK (large, and loaded only for AWS configs),
// and any package added later.
//
// The folder is two levels below dist, like dist/src/playbook/load.js, so the built-in playbooks
// are found where load.ts looks for them (dist/playbooks); parse-worker.js sits beside the chunk
// that starts it, as src/lint/parallel.ts expects.
import { build } from 'esbuild';
import { readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = 'dist/cli/bundle';

/** Pure JavaScript packages the CLI loads on every run, with what they import. */
const BUNDLED = new Set([
  'zod',
  'yargs',
  'yargs-parser',
  'cliui',
  'y18n',
  'escalade',
  'get-caller-file',
  'string-width',
  'strip-ansi',
  'ansi-regex',
  'ansi-styles',
  'wrap-ansi',
  'emoji-regex',
  'get-east-asian-width',
  'ms',
  'p-limit',
  'yocto-queue',
]);

const packageName = (specifier) => specifier.split('/', specifier.startsWith('@') ? 2 : 1).join('/');

const plugins = [
  {
    name: 'external-unless-bundled',
    setup(builder) {
      builder.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.path.startsWith('node:') || BUNDLED.has(packageName(args.path))) return undefined;
        return { path: args.path, external: true };
      });
    },
  },
  {
    // zod's namespace re-exports its 45 translations (`z.locales`), which ship never reads; its
    // English messages come from locales/en.js, imported on its own, and stay.
    name: 'zod-without-translations',
    setup(builder) {
      builder.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, () => ({ contents: 'export {};', loader: 'js' }));
    },
  },
  {
    // yargs finds its translations (help in the user's language, from LANG) and the package.json
    // it reads relative to its own file (import.meta.url). Bundled, that file is a chunk here; so
    // the URL is the one of the file in node_modules, as when it is not bundled.
    name: 'yargs-paths',
    setup(builder) {
      builder.onLoad({ filter: /[\\/]yargs[\\/]lib[\\/]platform-shims[\\/]esm\.mjs$/ }, async (args) => {
        const text = await readFile(args.path, 'utf8');
        const uses = text.split('import.meta.url').length - 1;
        if (uses !== 2) throw new Error(`${args.path}: expected import.meta.url twice (its own path, its require), found ${uses}: check yargs-paths in scripts/bundle-cli.mjs`);
        const own =
          "import { createRequire as __shipRequire } from 'node:module';\n" +
          "import { pathToFileURL as __shipFileUrl } from 'node:url';\n" +
          "const __shipYargsShim = __shipFileUrl(__shipRequire(import.meta.url).resolve('yargs/package.json').replace(/package\\.json$/, 'lib/platform-shims/esm.mjs')).href;\n";
        return { contents: own + text.replaceAll('import.meta.url', '__shipYargsShim'), loader: 'js', resolveDir: dirname(args.path) };
      });
    },
  },
];

// Chunk names carry content hashes: clear out the last build's.
await rm(join(root, outdir), { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: {
    ship: 'dist/src/cli/main.js',
    'parse-worker': 'dist/src/lint/parse-worker.js',
  },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  plugins,
  logLevel: 'warning',
});
