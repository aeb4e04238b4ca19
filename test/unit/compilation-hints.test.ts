/**
 * The parser's compilation hints (src/lint/compilation-hints.ts): the section is placed where V8
 * reads it, says eager for exactly the functions named (counted after the imports), and V8 then
 * compiles those when the module is compiled and the others only when called.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compiledFunctionsInTrace, withCompilationHints } from '../../src/lint/compilation-hints.js';
import { hintedParserFile } from '../../src/cli/lint-script-cache.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * A module with one imported function and three of its own (indices 1, 2, 3), each returning its
 * own number; `f1`..`f3` exported.
 */
function tinyModule(): Uint8Array<ArrayBuffer> {
  const section = (id: number, body: number[]) => [id, body.length, ...body];
  const name = (text: string) => [text.length, ...Buffer.from(text)];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, [1, 0x60, 0, 1, 0x7f]), // type 0: () -> i32
    ...section(2, [1, ...name('env'), ...name('g'), 0x00, 0]), // import env.g: type 0
    ...section(3, [3, 0, 0, 0]),
    ...section(7, [3, ...name('f1'), 0, 1, ...name('f2'), 0, 2, ...name('f3'), 0, 3]),
    ...section(10, [3, ...[4, 0, 0x41, 1, 0x0b], ...[4, 0, 0x41, 2, 0x0b], ...[4, 0, 0x41, 3, 0x0b]]),
  ]);
}

function hintBytes(wasm: Uint8Array<ArrayBuffer>): number[] {
  const sections = WebAssembly.Module.customSections(new WebAssembly.Module(wasm), 'compilationHints');
  assert.equal(sections.length, 1);
  const bytes = [...new Uint8Array(sections[0] as ArrayBuffer)];
  // A count (LEB128), then one byte per function the module declares.
  let at = 0;
  while ((bytes[at++] as number) & 0x80);
  return bytes.slice(at);
}

test('eager for the functions named, counted after the imports, lazy for the others; Liftoff for both tiers', () => {
  const hinted = withCompilationHints(tinyModule(), new Set([2]));
  assert.ok(WebAssembly.validate(hinted));
  // Function 2 is the module's second own function: strategy eager (2), tiers baseline (1 << 2 | 1 << 4).
  assert.deepEqual(hintBytes(hinted), [0x15, 0x16, 0x15]);
  // The module still runs as it did.
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(hinted), { env: { g: () => 0 } });
  assert.deepEqual(
    [1, 2, 3].map((n) => (exports[`f${n}`] as () => number)()),
    [1, 2, 3],
  );
});

test('the section goes before the code section, and a module that has one already, or no code, is refused', () => {
  const plain = tinyModule();
  const hinted = withCompilationHints(plain, new Set());
  const text = Buffer.from(hinted).toString('latin1');
  const codeSection = plain.length - 18;
  assert.equal(text.indexOf('compilationHints') < codeSection + hinted.length - plain.length, true);
  assert.deepEqual([...hinted.subarray(hinted.length - 18)], [...plain.subarray(codeSection)]);
  assert.throws(() => withCompilationHints(hinted, new Set()), /has a compilationHints section already/);
  assert.throws(() => withCompilationHints(plain.subarray(0, codeSection), new Set()), /no code section/);
  assert.throws(() => withCompilationHints(plain.subarray(0, 13), new Set()), /ends inside|no code section/);
});

test('the functions V8 compiled, read from its trace', () => {
  const trace = [
    'Compiled WasmToJS wrapper wasm-to-js-5-iiii-, took 0 ms; codesize 140',
    'Compiled function 0x2ff82d20#140 using Liftoff, took 6 ms and 8152032 bytes; bodysize 101939 codesize 327436',
    'Compiled function 0x2ff82d20#37 using Liftoff, took 3 ms and 3215144 bytes; bodysize 81308 codesize 204260',
    'Compiled function 0x2ff82d20#37 using TurboFan, took 9 ms and 1 bytes; bodysize 81308 codesize 1',
    '{"findings":[]} Compiled function 0x2ff82d20#99 using Liftoff',
    // Another module (node's CommonJS lexer, say), with fewer functions compiled.
    'Compiled function 0x7fac0010#3 using Liftoff, took 0 ms and 1 bytes; bodysize 1 codesize 1',
  ].join('\n');
  assert.deepEqual(
    [...compiledFunctionsInTrace(trace)].sort((a, b) => a - b),
    [37, 140],
  );
});

test("V8 compiles the hinted functions with the module, and the rest only when called (this node's own V8)", () => {
  // The compiled module (npm test builds before the tests run): tsx would compile WebAssembly of its
  // own. No compile threads, so that V8's trace lines are not cut by one another (hinted-parser-check.ts).
  const script = `
    const { withCompilationHints } = await import(${JSON.stringify(new URL('../../dist/src/lint/compilation-hints.js', import.meta.url).href)});
    const { readFileSync } = await import('node:fs');
    const wasm = new Uint8Array(readFileSync(${JSON.stringify(createRequire(import.meta.url).resolve('libpg-query/wasm/libpg-query.wasm'))}));
    const module = await WebAssembly.compile(withCompilationHints(wasm, new Set([37, 140])));
    console.log('compiled');
  `;
  const result = spawnSync(
    process.execPath,
    ['--experimental-wasm-compilation-hints', '--liftoff-only', '--wasm-num-compilation-tasks=0', '--trace-wasm-compilation-times', '--input-type=module', '-e', script],
    { cwd: root, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } },
  );
  assert.equal(result.status, 0, result.stderr);
  const beforeAnyCall = result.stdout.slice(0, result.stdout.indexOf('compiled\n'));
  assert.deepEqual(
    [...compiledFunctionsInTrace(beforeAnyCall)].sort((a, b) => a - b),
    [37, 140],
  );
});

test('the build made the hinted parser for this node, with the functions a lint calls marked eager', () => {
  // `npm test` builds before the tests run, as `npm ci` does.
  const file = join(root, 'dist/lint', hintedParserFile());
  assert.ok(existsSync(file), `${file} is missing: npm run build makes it`);
  const hints = hintBytes(new Uint8Array(readFileSync(file)));
  const eager = hints.filter((hint) => (hint & 3) === 2).length;
  // The scanner and the grammar at least, and far from all of the ~500 functions.
  assert.ok(eager >= 2 && eager < hints.length / 2, `${eager} of ${hints.length} eager`);
});

test("the published lint's code cache was made under the V8 flags its entry sets with the hinted parser, and they are set", () => {
  // V8 rejects a code cache made under other flags, silently: the lint then compiles its ~450 KB afresh.
  // As the entry starts: the flags set through node's v8 binding (not node:v8), the hinted parser
  // compiling; and for --help, without the compile, under the same flags.
  for (const compile of [true, false]) {
    const script = `
      const cache = await import(${JSON.stringify(new URL('../../dist/src/cli/lint-script-cache.js', import.meta.url).href)});
      const dir = new URL(${JSON.stringify(new URL('../../dist/lint/', import.meta.url).href)});
      const parser = cache.startLint(dir, ${compile});
      const { script } = cache.loadLintScript(dir, (specifier) => import(specifier));
      await parser;
      console.log(JSON.stringify({ hinted: parser !== undefined, rejected: script.cachedDataRejected }));
    `;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), { hinted: compile, rejected: false });
  }
});

test('the published lint compiles the parser for a lint, and not for --help', () => {
  const lint = (...args: string[]) =>
    spawnSync(process.execPath, ['--trace-wasm-compilation-times', join(root, 'bin/ship.js'), 'lint-migrations', ...args], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: '' },
    });
  const linted = lint('scripts/lint-cache-sample/flyway', '--format', 'json');
  assert.equal(linted.status, 1, linted.stderr);
  assert.ok(compiledFunctionsInTrace(linted.stdout).size >= 2);
  const help = lint('--help');
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /--base/);
  assert.equal(compiledFunctionsInTrace(help.stdout).size, 0);
});

test("the build's check keeps the hinted parser only where V8 compiles exactly its eager functions with the module", async () => {
  // As the build runs it: from tsc's output (npm test builds before the tests run).
  const { hintsTakeEffect } = (await import(new URL('../../dist/src/lint/hinted-parser-check.js', import.meta.url).href)) as typeof import('../../src/lint/hinted-parser-check.js');
  const dir = new URL('../../dist/lint/', import.meta.url);
  const hints = hintBytes(new Uint8Array(readFileSync(join(fileURLToPath(dir), hintedParserFile()))));
  // Function indices count the module's 25 imports first.
  const eager = new Set(hints.flatMap((hint, index) => ((hint & 3) === 2 ? [index + 25] : [])));
  assert.equal(hintsTakeEffect(dir, eager), true);
  // A V8 that ignores the hints compiles no function with the module; one that does not know a flag says so on stderr.
  assert.equal(hintsTakeEffect(dir, eager, ['--no-experimental-wasm-compilation-hints']), false);
  assert.equal(hintsTakeEffect(dir, eager, ['--no-such-flag-for-ship']), false);
  // Another set than the one the copy marks.
  assert.equal(hintsTakeEffect(dir, new Set([...eager].slice(1))), false);
});
