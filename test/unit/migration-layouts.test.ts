/**
 * The migration tools' layouts (src/migrations/layouts/), each on a small project laid out as the
 * tool lays it out (test/fixtures/layouts/<tool>/): discovery, order, what is linted of each file
 * and whether the tool runs it in a transaction, and detection by `ship lint-migrations <dir>`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runLintCli } from '../../src/cli/lint-migrations.js';
import { discoverMigrations } from '../../src/migrations/discovery.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/layouts');

/** `ship lint-migrations <args> --format json` in a fixture project. */
async function lint(project: string, ...args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runLintCli([...args, '--format', 'json'], {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    cwd: join(FIXTURES, project),
  });
  const report = stdout ? JSON.parse(stdout) : undefined;
  const findings: string[] = (report?.findings ?? []).map((f: any) => `${f.file}:${f.line} ${f.ruleId}`);
  return { code, stderr, files: report?.files as string[] | undefined, findings };
}

async function discovered(dir: string) {
  const discovery = await discoverMigrations(dir);
  return {
    layout: discovery.layout,
    migrations: discovery.migrations.map((m) => ({ version: m.version, name: m.name, file: relative(dir, m.path), transaction: m.transaction })),
    unrecognised: discovery.unrecognised.map((file) => relative(dir, file)),
  };
}

test('Diesel: a folder per migration, the version is the timestamp without dashes, metadata.toml can turn the transaction off', async () => {
  const dir = join(FIXTURES, 'diesel/migrations');
  assert.deepEqual(await discovered(dir), {
    layout: 'diesel',
    migrations: [
      { version: '00000000000000', name: 'diesel_initial_setup', file: '00000000000000_diesel_initial_setup/up.sql', transaction: true },
      { version: '20240115093000', name: 'create_books', file: '2024-01-15-093000_create_books/up.sql', transaction: true },
      // run_in_transaction = false, and a lone statement: no implicit transaction either.
      { version: '20240202121500', name: 'index_books_by_author', file: '2024-02-02-121500_index_books_by_author/up.sql', transaction: false },
      { version: '202403100800000000', name: 'drop_books_isbn', file: '2024-03-10-080000-0000_drop_books_isbn/up.sql', transaction: true },
    ],
    unrecognised: [],
  });
});

test('ship lint-migrations detects Diesel: up.sql only, at its real lines, CONCURRENTLY accepted where metadata.toml lets it run outside a transaction', async () => {
  const { code, files, findings } = await lint('diesel', 'migrations');
  assert.equal(code, 1);
  assert.equal(files?.length, 4);
  assert.ok(files?.every((file) => file.endsWith('/up.sql')));
  assert.deepEqual(
    findings.filter((f) => !f.includes('require-lock-timeout')),
    ['migrations/2024-03-10-080000-0000_drop_books_isbn/up.sql:3 drop-column'],
  );
});
