/**
 * src/index.ts is what every config file and playbook imports (defineConfig, env, command, sh):
 * whatever it reaches is loaded by each run before its first event. zod is ~95 modules (about
 * 40 ms here); its schemas stay out of that reach.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');

/** Every module of src reached from `entry` by value imports and re-exports (type-only ones are erased), with the packages each imports. */
function reach(entry: string): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (seen.has(file)) continue;
    const text = readFileSync(file, 'utf8');
    const specifiers = [...text.matchAll(/^(?:import|export)\s+(?!type\b)[^;]*?from\s+'([^']+)'/gms)].map((m) => m[1]!);
    seen.set(
      file,
      specifiers.filter((s) => !s.startsWith('.') && !s.startsWith('node:')),
    );
    for (const s of specifiers.filter((s) => s.startsWith('.'))) pending.push(resolve(dirname(file), s.replace(/\.js$/, '.ts')));
  }
  return seen;
}

test('the package entry a config file imports reaches no zod schema', () => {
  const reached = reach(join(SRC, 'index.ts'));
  const withZod = [...reached].filter(([, packages]) => packages.includes('zod')).map(([file]) => file.slice(SRC.length + 1));
  assert.deepEqual(withZod, [], `these modules import zod and are reached from src/index.ts: ${withZod.join(', ')}`);
  assert.ok(reached.size > 5, 'the walk follows imports (a sanity check on this test)');
});
