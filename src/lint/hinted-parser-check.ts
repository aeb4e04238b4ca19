import { spawnSync } from 'node:child_process';
import { compiledFunctionsInTrace } from './compilation-hints.js';

/**
 * Whether this node's V8, under the lint entry's flags, compiles exactly the `eager` functions of
 * the hinted parser beside the lint script in `dir` when it compiles the module (see
 * compilation-hints.ts). One that ignored the hints would gain nothing from the copy (it compiles
 * each function when first called, as it does the published parser), and one without the flag
 * would print an error on every lint. Asked of a fresh node, since V8's flags are its whole process's; `extraFlags` are set
 * after the entry's (tests use them to play a V8 that ignores the hints). Run from tsc's output.
 */
export function hintsTakeEffect(dir: URL, eager: ReadonlySet<number>, extraFlags: readonly string[] = []): boolean {
  // tsc's output, which the build runs: a node with module hooks (tsx) may exit before V8's trace is all written.
  const cache = new URL('../cli/lint-script-cache.js', import.meta.url).href;
  const script = `
    const cache = await import(${JSON.stringify(cache)});
    cache.setV8Flags([...cache.lintV8Flags(true), '--wasm-num-compilation-tasks=0', '--trace-wasm-compilation-times', ...${JSON.stringify(extraFlags)}]);
    await WebAssembly.compile(cache.readHintedParser(new URL(${JSON.stringify(dir.href)})));
  `;
  // No compile threads (set after the lint's flags, which have one): V8 then compiles on the main
  // thread and prints each function's line whole; compile threads printing at once cut one another's lines.
  const args = ['--input-type=module', '-e', script];
  const checked = spawnSync(process.execPath, args, { encoding: 'latin1', env: { ...process.env, NODE_OPTIONS: '' }, maxBuffer: 64 * 1024 * 1024 });
  if (checked.status !== 0 || checked.stderr.trim() !== '') return false;
  const compiled = compiledFunctionsInTrace(checked.stdout);
  return compiled.size === eager.size && [...eager].every((index) => compiled.has(index));
}
