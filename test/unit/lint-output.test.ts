/**
 * How `ship lint-migrations` writes its output (directWriter in src/cli/lint-migrations.ts): in
 * pieces, straight to the file descriptor.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { directWriter } from '../../src/cli/lint-migrations.js';

test('a long text is written whole and unchanged, a character outside the BMP across a piece boundary included', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ship-lint-output-'));
  try {
    const file = join(dir, 'out.json');
    const fd = openSync(file, 'w');
    const write = directWriter(fd, () => assert.fail('the stream is for a descriptor that would block'));
    // A surrogate pair at 65,535/65,536 code units (the pieces are 64 Ki units), then more, some of it not ASCII.
    const text = `${'a'.repeat(65_535)}🙂${'é€'.repeat(40_000)}${'b'.repeat(70_000)}🙂\n`;
    write(text);
    write('');
    write('and after\n');
    closeSync(fd);
    assert.equal(readFileSync(file, 'utf8'), `${text}and after\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
