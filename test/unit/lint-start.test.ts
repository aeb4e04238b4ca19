/**
 * How the published lint starts (src/cli/lint-script-cache.ts): what it loads before it changes
 * V8's flags. Runs the built files (`npm test` builds before the tests run, as `npm ci` does).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');

test('the published lint loads no node builtin after it has changed V8 flags', () => {
  // Node's code cache for its builtins is made under V8's default flags: one loaded after startLint
  // is compiled from source, several times slower. The build's sample, a folder per layout, in every
  // output format, so that each discovery and formatting path runs.
  const sample = join(root, 'scripts/lint-cache-sample');
  const folders = (JSON.parse(readFileSync(join(sample, 'folders.json'), 'utf8')) as string[]).map((folder) => join(sample, folder));
  const script = `
    const cache = await import(${JSON.stringify(new URL('../../dist/src/cli/lint-script-cache.js', import.meta.url).href)});
    const dir = new URL(${JSON.stringify(new URL('../../dist/lint/', import.meta.url).href)});
    const parser = cache.startLint(dir);
    const before = new Set(process.moduleLoadList);
    const { exports } = cache.loadLintScript(dir, (specifier) => import(specifier));
    if (parser) exports.useCompiledParser(parser);
    const quiet = { stdout() {}, stderr() {}, cwd: process.cwd() };
    const codes = [];
    for (const folder of ${JSON.stringify(folders)}) {
      for (const format of ['json', 'text', 'github']) codes.push(await exports.runLintCli(['--format', format, folder], quiet));
    }
    const after = process.moduleLoadList.filter((name) => !before.has(name) && name.startsWith('NativeModule '));
    console.log(JSON.stringify({ codes: [...new Set(codes)], after }));
  `;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  assert.equal(result.status, 0, result.stderr);
  const { codes, after } = JSON.parse(result.stdout) as { codes: number[]; after: string[] };
  // Each folder linted, with findings (exit 1), none refused as bad input (2).
  assert.deepEqual(codes, [1]);
  assert.deepEqual(after, [], 'load these in loadLintBuiltins (src/cli/lint-script-cache.ts)');
});
