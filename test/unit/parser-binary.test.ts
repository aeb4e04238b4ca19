/**
 * The parser binary the published lint's entry supplies (src/lint/parser.ts, useCompiledParser): a
 * copy V8 refuses, as a damaged build would leave, gives way to the parser libpg-query publishes.
 * Its own file: the parser is one per process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadParser, parseSqlToJson, useCompiledParser } from '../../src/lint/parser.js';

test('a damaged hinted parser, and its failed compile, give way to the published parser', async () => {
  const damaged = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x0a, 0xff]);
  const compiling = WebAssembly.compile(damaged);
  await assert.rejects(compiling);
  useCompiledParser(compiling);
  const parser = await loadParser();
  assert.match(parseSqlToJson(parser, 'SELECT 1'), /"SelectStmt"/);
});
