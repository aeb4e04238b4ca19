#!/usr/bin/env node
// Runs every *.test.ts under test/ and schema-checks/ with node's built-in runner (through tsx),
// after checking the import rules, installing the system packages the integration tests need and
// building (and so type-checking) the tree.
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);

function findTests(dir) {
  const out = [];
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules' || entry.startsWith('.')) continue;
    const full = join(dir, entry);
    if (statSync(full).isDirectory()) out.push(...findTests(full));
    else if (entry.endsWith('.test.ts')) out.push(full);
  }
  return out;
}

const filter = process.argv.slice(2);
// The linter and formatter (biome.jsonc): the tree must be clean under both.
const lint = spawnSync('npm', ['run', '--silent', 'lint'], { stdio: 'inherit' });
if (lint.status !== 0) {
  console.error('npm test: the lint or format check failed (above); `npm run format` fixes the formatting, the rule set is in biome.jsonc');
  process.exit(lint.status || 1);
}
// The layers and the ban on cycles (.dependency-cruiser.cjs): checked first, in a second, so a
// broken import rule fails the run before minutes of tests.
const deps = spawnSync('npm', ['run', '--silent', 'deps'], { stdio: 'inherit' });
if (deps.status !== 0) {
  console.error('npm test: the dependency check failed (above): an import climbs a layer or closes a cycle; the layers are described at the top of .dependency-cruiser.cjs');
  process.exit(deps.status || 1);
}
execFileSync('bash', ['test/install-deps.sh'], { stdio: 'inherit' });
// The build (tsc, then the lint bundle): tests that run bin/ship.js run what users run.
execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
let files = [...findTests('test'), ...findTests('schema-checks')].sort();
if (filter.length) files = files.filter((f) => filter.some((pattern) => f.includes(pattern)));
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
