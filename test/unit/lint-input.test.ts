import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allRules } from '../../schema-checks/index.js';
import { lintMigrations, lintSql } from '../../src/lint/engine.js';
import { readSqlFile } from '../../src/lint/read-sql-file.js';
import { MAX_SQL_FILE_BYTES, SqlInputError } from '../../src/lint/sql-input.js';
import { discoverMigrations } from '../../src/migrations/discovery.js';

const rules = allRules;

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ship-lint-input-'));
  try {
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('a NUL byte is refused, naming the file, the byte offset and the line, instead of silently ending the parse there', async () => {
  // Before: PostgreSQL's parser read up to the NUL, one statement was reported and the DROP went unseen.
  await assert.rejects(
    lintSql('SELECT 1;\n\0 DROP TABLE x;\n', { rules, path: 'V7__nul.sql' }),
    (error: unknown) => error instanceof SqlInputError && /^V7__nul\.sql contains a NUL byte at byte offset 10 \(line 2\)/.test(error.message) && /remove it/.test(error.message),
  );
  // Offsets count bytes, as editors and hexdump show them.
  await assert.rejects(lintSql("SELECT 'é';\0", { rules, path: 'x.sql' }), /NUL byte at byte offset 12 \(line 1\)/);
});

test('a migration over the size limit is refused with its size before it reaches the parser', async () => {
  const big = 'SELECT 1;\n'.repeat(Math.ceil((MAX_SQL_FILE_BYTES + 1) / 10));
  await assert.rejects(
    lintSql(big, { rules, path: 'V8__big.sql' }),
    (error: unknown) =>
      error instanceof SqlInputError && error.message.startsWith(`V8__big.sql is ${big.length} bytes (2.0 MiB), over the 2 MiB`) && /split it/.test(error.message),
  );
  // Multi-byte text is measured in bytes: 0.8 M characters of 3 bytes each are 2.4 MB.
  await assert.rejects(lintSql(`SELECT '${'€'.repeat(800_000)}';`, { rules }), /is 2400010 bytes/);
  const justUnder = `${'SELECT 1;\n'.repeat(Math.floor(MAX_SQL_FILE_BYTES / 10) - 1)}`;
  assert.equal((await lintSql(justUnder, { rules })).errorCount, 0);
});

test('SQL nested too deeply for the parser is refused naming the file, and the next lint in the process still works', async () => {
  // Before: a RangeError from inside the WebAssembly parser escaped the lint (the CLI died with exit 1).
  const deep = `SELECT ${'1+'.repeat(20_000)}1;\n`;
  const before = process.exitCode;
  await assert.rejects(
    lintSql(deep, { rules, path: 'V9__deep.sql' }),
    (error: unknown) => error instanceof SqlInputError && /^V9__deep\.sql is nested too deeply for the SQL parser/.test(error.message),
  );
  assert.equal(process.exitCode, before, 'a failing parse leaves the process exit code alone');
  const after = await lintSql('ALTER TABLE users DROP COLUMN email;', { rules, path: 'V10__next.sql' });
  assert.ok(after.findings.some((finding) => finding.ruleId === 'drop-column'));
});

test('an earlier migration that cannot be read for context is skipped and reported, the linted file is still linted', async () => {
  const report = await lintMigrations([{ path: 'V3__add.sql', sql: "SET lock_timeout = '2s';\nALTER TABLE users DROP COLUMN bio;\n" }], {
    rules,
    history: [
      { path: 'V1__huge_seed.sql', sql: 'SELECT 1;\n'.repeat(MAX_SQL_FILE_BYTES / 10 + 1) },
      { path: 'V2__deep.sql', sql: `SELECT ${'1+'.repeat(20_000)}1;\n` },
      { path: 'V2_1__nul.sql', sql: 'SELECT 1;\0' },
    ],
  });
  assert.deepEqual(
    report.skippedContext.map((skipped) => skipped.file),
    ['V1__huge_seed.sql', 'V2__deep.sql', 'V2_1__nul.sql'],
  );
  assert.match(report.skippedContext[0]?.reason ?? '', /^is 2097160 bytes/);
  assert.deepEqual(report.files, ['V3__add.sql']);
  assert.ok(report.findings.some((finding) => finding.ruleId === 'drop-column'));
});

test('several unlintable files are named together, before any is parsed', async () => {
  await assert.rejects(
    lintMigrations(
      [
        { path: 'a.sql', sql: 'SELECT 1;\0' },
        { path: 'b.sql', sql: 'SELECT 1;' },
        { path: 'c.sql', sql: '', problem: 'is a directory, not a regular file: name the migration file itself' },
      ],
      { rules },
    ),
    /^SqlInputError: 2 migration files cannot be checked:\na\.sql contains a NUL byte.*\nc\.sql is a directory/,
  );
});

test('reading a migration: FIFOs, devices and directories (also behind symlinks) are refused without blocking; a large file is not read', async () => {
  await withDir(async (dir) => {
    const fifo = join(dir, 'V1__fifo.sql');
    execFileSync('mkfifo', [fifo]);
    // Before: readFile on a FIFO waited for a writer forever; this test would time out.
    assert.match((await readSqlFile(fifo)).problem ?? '', /^is a named pipe \(FIFO\), not a regular file/);
    await symlink(fifo, join(dir, 'V2__link.sql'));
    assert.match((await readSqlFile(join(dir, 'V2__link.sql'))).problem ?? '', /^is a named pipe \(FIFO\)/);
    await symlink('/dev/zero', join(dir, 'V3__zero.sql'));
    assert.match((await readSqlFile(join(dir, 'V3__zero.sql'))).problem ?? '', /^is a character device/);
    assert.match((await readSqlFile(dir)).problem ?? '', /^is a directory/);
    const large = join(dir, 'V4__large.sql');
    await writeFile(large, Buffer.alloc(MAX_SQL_FILE_BYTES + 1, 'x'));
    assert.deepEqual(await readSqlFile(large), {
      sql: '',
      problem: `is ${MAX_SQL_FILE_BYTES + 1} bytes (2.0 MiB), over the 2 MiB a migration file may have for PostgreSQL's parser to check it safely; split it into smaller migrations`,
    });
    await assert.rejects(readSqlFile(join(dir, 'missing.sql')), { code: 'ENOENT' });
  });
});

test('discovery (the deploy pre-flight reads migrations through it) marks a large migration instead of crashing, and linting it refuses', async () => {
  await withDir(async (dir) => {
    await writeFile(join(dir, 'V1__init.sql'), 'CREATE TABLE users (id bigint PRIMARY KEY, bio text);\n');
    await writeFile(join(dir, 'V2__seed.sql'), `${'SELECT 1;\n'.repeat(MAX_SQL_FILE_BYTES / 10 + 1)}`);
    const discovery = await discoverMigrations(dir);
    const seed = discovery.migrations.find((migration) => migration.version === '2');
    assert.equal(seed?.sql, '');
    assert.match(seed?.problem ?? '', /^is 2097160 bytes/);
    // As the pre-flight lints pending migrations with the others as history:
    await assert.rejects(
      lintMigrations([seed!], { rules, history: discovery.migrations.filter((m) => m !== seed) }),
      (error: unknown) => error instanceof SqlInputError && error.message.startsWith(`${join(dir, 'V2__seed.sql')} is 2097160 bytes`),
    );
  });
});

test('the parser running out of memory (past the size limit) is a SqlParserFailure, not an exit: the exit code is restored and a fresh parser takes over', async () => {
  const { loadParser, parseSqlToJson, SqlParserFailure } = await import('../../src/lint/parser.js');
  // 6 MiB of the densest SQL found needs more than the parser's 1 GiB (it dies from 5 MiB on).
  const dense = `SELECT ${'a,'.repeat(3 * 1024 * 1024)}a;`;
  const exitCode = process.exitCode;
  const parser = await loadParser();
  // The dying C code prints "Terminating process due to FATAL error": it must not reach stdout, where it would corrupt --format json.
  const written: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string | Uint8Array) => written.push(String(chunk)) > 0) as typeof process.stdout.write;
  try {
    assert.throws(
      () => parseSqlToJson(parser, dense),
      (error: unknown) => error instanceof SqlParserFailure && /made the SQL parser run out of memory \(it has 1 GiB\); split it/.test((error as Error).message),
    );
  } finally {
    process.stdout.write = write;
  }
  assert.deepEqual(written, []);
  assert.equal(process.exitCode, exitCode, 'Emscripten set process.exitCode on its way out; the parser puts it back');
  const fresh = await loadParser();
  assert.notEqual(fresh, parser);
  assert.match(parseSqlToJson(fresh, 'SELECT 1;'), /SelectStmt/);
});
