/**
 * Writes docs/config.md from the config schema (`npm run docs`); `--check` only reports whether
 * the file is up to date (exit 1 when not), for CI.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONFIG_DOC_PATH, REGENERATE_COMMAND, renderConfigDoc } from '../src/config/doc.js';

const target = join(dirname(fileURLToPath(import.meta.url)), '..', CONFIG_DOC_PATH);
const generated = renderConfigDoc();
let current: string | undefined;
try {
  current = readFileSync(target, 'utf8');
} catch {
  current = undefined;
}

if (process.argv.includes('--check')) {
  if (current !== generated) {
    process.stderr.write(`${CONFIG_DOC_PATH} is out of date with src/config/schema.ts; run \`${REGENERATE_COMMAND}\`\n`);
    process.exitCode = 1;
  }
} else if (current !== generated) {
  writeFileSync(target, generated);
  process.stdout.write(`wrote ${CONFIG_DOC_PATH}\n`);
} else {
  process.stdout.write(`${CONFIG_DOC_PATH} is up to date\n`);
}
