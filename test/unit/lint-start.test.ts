/**
 * How the published lint starts (src/cli/lint-script-cache.ts): what it loads before it changes
 * V8's flags. Runs the built files (`npm test` builds before the tests run, as `npm ci` does).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

test('the published lint compiles with Sparkplug only once it knows its SQL is large', () => {
  // V8's trace of what Sparkplug compiles goes to stdout, beside the report. Node's own start, before
  // the lint sets its flags, compiles the same few functions whatever the command does.
  const compiled = (...args: string[]) => {
    const result = spawnSync(process.execPath, ['--trace-baseline', join(root, 'bin/ship.js'), 'lint-migrations', ...args], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: '' },
      maxBuffer: 256 * 1024 * 1024,
    });
    assert.ok(result.status === 0 || result.status === 1, `${result.status} ${result.error} ${result.stderr}`);
    return result.stdout.split('\n').filter((line) => line.startsWith('[completed compiling') && line.includes('(target BASELINE)')).length;
  };
  const atStart = compiled('--help');
  assert.equal(compiled(join(root, 'scripts/lint-cache-sample/flyway'), '--format', 'json'), atStart);
  const dir = mkdtempSync(join(tmpdir(), 'ship-lint-start-'));
  try {
    // Over BASELINE_COMPILER_MIN_SQL (256 KB).
    const statement = (i: number) => `ALTER TABLE accounts ADD COLUMN extra_${i} integer;\n`;
    writeFileSync(join(dir, 'V1__wide.sql'), Array.from({ length: 6000 }, (_, i) => statement(i)).join(''));
    assert.ok(compiled(join(dir, 'V1__wide.sql'), '--format', 'json') > atStart + 20);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
