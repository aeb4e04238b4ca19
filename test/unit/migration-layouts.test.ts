/**
 * The migration tools' layouts (src/migrations/layouts/), each on a small project laid out as the
 * tool lays it out (test/fixtures/layouts/<tool>/): discovery, order, what is linted of each file
 * and whether the tool runs it in a transaction, and detection by `ship lint-migrations <dir>`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runLintCli } from '../../src/cli/lint-migrations.js';
import { discoverMigrations } from '../../src/migrations/discovery.js';
import type { MigrationFile } from '../../src/migrations/migration-file.js';
import { selectMigrations } from '../../src/migrations/select.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/layouts');
const sha = (algorithm: string, file: string) => createHash(algorithm).update(readFileSync(file)).digest('hex');

/** `ship lint-migrations <args> --format json` in a fixture project. */
const lint = (project: string, ...args: string[]) => lintIn(join(FIXTURES, project), ...args);

async function lintIn(cwd: string, ...args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runLintCli([...args, '--format', 'json'], {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    cwd,
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

test('Prisma: a folder per migration named by its directory, in name order; one statement alone runs outside a transaction, several in one', async () => {
  const dir = join(FIXTURES, 'prisma/prisma/migrations');
  const { layout, migrations, unrecognised } = await discovered(dir);
  assert.equal(layout, 'prisma');
  assert.deepEqual(
    migrations.map((m) => [m.version, m.name, m.transaction]),
    [
      ['20240105093000_init', 'init', true],
      ['20240112150000_add_post', 'add_post', true],
      ['20240112150000_add_post_published_index', 'add_post_published_index', false],
      ['20240120101500_drop_user_name', 'drop_user_name', true],
    ],
  );
  assert.deepEqual(unrecognised, []);
  const init = (await discoverMigrations(dir)).migrations[0];
  assert.equal(init?.checksum, sha('sha256', join(dir, '20240105093000_init/migration.sql')));
});

test('a checksum is computed when read, also on the selection the lint makes with paths relative to its directory', async () => {
  // Hashing loads node:crypto, ~3 ms of a lint that never reads a checksum.
  const project = join(FIXTURES, 'prisma');
  const selection = await selectMigrations(['prisma/migrations'], { cwd: project });
  // The lint's view of a file (MigrationSource) is discovery's MigrationFile.
  const init = selection.files[0] as MigrationFile;
  assert.equal(init.path, 'prisma/migrations/20240105093000_init/migration.sql');
  assert.equal(typeof Object.getOwnPropertyDescriptor(init, 'checksum')?.get, 'function');
  assert.equal(init.checksum, sha('sha256', join(project, init.path)));
  // As a spread or a structured clone (a worker) reads it: an own enumerable property.
  assert.equal({ ...init }.checksum, init.checksum);
  assert.equal(structuredClone(init).checksum, init.checksum);
});

test('the paths of a selection are what path.relative makes of them, from any working directory', async () => {
  const project = join(FIXTURES, 'diesel');
  const dir = join(project, 'migrations');
  const [first] = (await discoverMigrations(dir)).migrations;
  const cases: Array<[cwd: string, paths: string[]]> = [
    [project, ['migrations']],
    [dir, ['.']],
    [FIXTURES, [dir]],
    [join(FIXTURES, 'goose'), ['../diesel/migrations']],
    ['/', [dir]],
    [join(FIXTURES, 'sqlx/migrations'), [first!.path]],
  ];
  for (const [cwd, paths] of cases) {
    const selection = await selectMigrations(paths, { cwd });
    assert.ok(selection.files.length > 0);
    for (const file of [...selection.files, ...selection.history]) {
      const absolute = resolve(cwd, file.path);
      assert.ok(absolute.startsWith(`${dir}/`), `${cwd}: ${file.path}`);
      assert.equal(file.path, relative(cwd, absolute), `${cwd}: ${file.path}`);
    }
  }
});

test('ship lint-migrations detects Prisma: CONCURRENTLY beside another statement runs in the implicit transaction, alone it does not', async () => {
  const { code, files, findings } = await lint('prisma', 'prisma/migrations');
  assert.equal(code, 1);
  assert.deepEqual(files, [
    'prisma/migrations/20240105093000_init/migration.sql',
    'prisma/migrations/20240112150000_add_post/migration.sql',
    'prisma/migrations/20240112150000_add_post_published_index/migration.sql',
    'prisma/migrations/20240120101500_drop_user_name/migration.sql',
  ]);
  const concurrently = findings.filter((f) => f.endsWith('concurrently-in-transaction'));
  assert.deepEqual(concurrently, ['prisma/migrations/20240120101500_drop_user_name/migration.sql:11 concurrently-in-transaction']);
  assert.ok(findings.includes('prisma/migrations/20240120101500_drop_user_name/migration.sql:8 drop-column'), findings.join('\n'));
});

test('Drizzle: the journal decides what runs and in what order, `when` is the version, a file it does not name is reported', async () => {
  const dir = join(FIXTURES, 'drizzle/drizzle');
  const { layout, migrations, unrecognised } = await discovered(dir);
  assert.equal(layout, 'drizzle');
  // Two files numbered 0001 both run, in journal order (not name order).
  assert.deepEqual(
    migrations.map((m) => [m.version, m.name, m.file, m.transaction]),
    [
      ['1717171200000', '0000_brave_falcon', '0000_brave_falcon.sql', true],
      ['1717430400000', '0001_tired_owl', '0001_tired_owl.sql', true],
      ['1717516800000', '0001_silky_wolf', '0001_silky_wolf.sql', true],
    ],
  );
  assert.deepEqual(unrecognised, ['0002_unlisted_draft.sql']);
  const first = (await discoverMigrations(dir)).migrations[0];
  assert.equal(first?.checksum, sha('sha256', join(dir, '0000_brave_falcon.sql')));
});

test('ship lint-migrations detects Drizzle: statement breakpoints lint as comments, the unlisted file is named and not linted', async () => {
  const { code, stderr, files, findings } = await lint('drizzle', 'drizzle');
  assert.equal(code, 1);
  assert.deepEqual(files, ['drizzle/0000_brave_falcon.sql', 'drizzle/0001_tired_owl.sql', 'drizzle/0001_silky_wolf.sql']);
  assert.match(stderr, /drizzle\/0002_unlisted_draft\.sql matches no migration layout and was not linted/);
  assert.ok(!findings.some((f) => f.includes('syntax-error') || f.includes('0002_')), findings.join('\n'));
  assert.ok(findings.includes('drizzle/0001_tired_owl.sql:1 drop-column'), findings.join('\n'));
  assert.ok(findings.includes('drizzle/0001_tired_owl.sql:2 create-index-without-concurrently'), findings.join('\n'));
});

test('goose: the Up section only, Go migrations skipped, NO TRANSACTION honoured', async () => {
  const dir = join(FIXTURES, 'goose/db/migrations');
  const discovery = await discoverMigrations(dir);
  assert.equal(discovery.layout, 'goose');
  assert.deepEqual(
    discovery.migrations.map((m) => [m.version, m.name, m.transaction]),
    [
      ['00001', 'create_events', true],
      ['00003', 'index_events_created_at', false],
      ['00004', 'drop_event_payload', true],
    ],
  );
  assert.deepEqual(discovery.unrecognised, []);
  const last = discovery.migrations[2]!;
  assert.ok(!last.sql.includes('ADD COLUMN'), 'the Down section is not part of the SQL');
  assert.equal(last.sql.length, readFileSync(last.path, 'utf8').length, 'blanked, not cut: offsets still point into the file');
});

test('ship lint-migrations detects goose: findings at their lines in the real file, nothing from Down sections, NO TRANSACTION over --transaction-per-file', async () => {
  const { code, files, findings } = await lint('goose', 'db/migrations', '--transaction-per-file');
  assert.equal(code, 1);
  assert.equal(files?.length, 3);
  assert.deepEqual(findings, ['db/migrations/00004_drop_event_payload.sql:3 drop-column']);
});

test('sqlx: told apart by the crate beside it; `-- no-transaction` on the first line, SHA-384 checksums', async () => {
  const dir = join(FIXTURES, 'sqlx/migrations');
  const { layout, migrations, unrecognised } = await discovered(dir);
  assert.equal(layout, 'sqlx');
  assert.deepEqual(
    migrations.map((m) => [m.version, m.name, m.transaction]),
    [
      ['20240301120000', 'create_accounts', true],
      ['20240315083000', 'index_accounts_email', false],
      ['20240402110000', 'require_account_plan', true],
    ],
  );
  assert.deepEqual(unrecognised, []);
  const first = (await discoverMigrations(dir)).migrations[0];
  assert.equal(first?.checksum, sha('sha384', join(dir, '20240301120000_create_accounts.sql')));
});

test('ship lint-migrations detects sqlx: each file in a transaction unless it opts out, whatever --transaction-per-file says', async () => {
  const { code, findings } = await lint('sqlx', 'migrations', '--transaction-per-file');
  assert.equal(code, 1);
  assert.ok(!findings.some((f) => f.endsWith('concurrently-in-transaction')), findings.join('\n'));
  assert.ok(findings.includes('migrations/20240402110000_require_account_plan.sql:3 set-not-null'), findings.join('\n'));
});

test('a file of a folder-per-migration layout, or of a file with both directions, is read as its tool reads it when named alone or changed since --base', async () => {
  const repo = mkdtempSync(join(tmpdir(), 'ship-layouts-'));
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid', '-c', 'init.defaultBranch=main', ...args], { cwd: repo });
  try {
    cpSync(join(FIXTURES, 'prisma'), repo, { recursive: true });
    git('init', '-q');
    git('add', '.');
    git('commit', '-q', '-m', 'migrations so far');
    mkdirSync(join(repo, 'prisma/migrations/20240201080000_post_title_index'));
    writeFileSync(join(repo, 'prisma/migrations/20240201080000_post_title_index/migration.sql'), '-- CreateIndex\nCREATE INDEX "Post_title_idx" ON "Post"("title");\n');
    writeFileSync(join(repo, 'prisma/seed.sql'), 'DELETE FROM "Post";\n');
    git('add', '.');
    git('commit', '-q', '-m', 'index post titles');
    const { code, files, findings } = await lintIn(repo, '--base', 'main~1');
    assert.equal(code, 1);
    // The new migration only (not the seed), judged against the earlier ones: "Post" is an existing table, so the index blocks writes.
    assert.deepEqual(files, ['prisma/migrations/20240201080000_post_title_index/migration.sql']);
    assert.deepEqual(findings, [
      'prisma/migrations/20240201080000_post_title_index/migration.sql:2 create-index-without-concurrently',
      'prisma/migrations/20240201080000_post_title_index/migration.sql:2 require-lock-timeout',
    ]);
  } finally {
    rmSync(repo, { recursive: true, force: true });
  }
  const alone = await lint('goose', 'db/migrations/00004_drop_event_payload.sql');
  assert.deepEqual(alone.findings, ['db/migrations/00004_drop_event_payload.sql:3 drop-column']);
});

test('a Prisma or Drizzle project for another database is refused by name, instead of failing to parse file after file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ship-layouts-'));
  try {
    mkdirSync(join(dir, 'prisma/migrations/20240101000000_init'), { recursive: true });
    writeFileSync(join(dir, 'prisma/migrations/migration_lock.toml'), 'provider = "mysql"\n');
    writeFileSync(join(dir, 'prisma/migrations/20240101000000_init/migration.sql'), 'CREATE TABLE `User` (`id` INTEGER NOT NULL AUTO_INCREMENT, PRIMARY KEY (`id`));\n');
    await assert.rejects(discoverMigrations(join(dir, 'prisma/migrations')), /migration_lock\.toml says provider = "mysql": ship checks PostgreSQL migrations only/);
    mkdirSync(join(dir, 'drizzle/meta'), { recursive: true });
    writeFileSync(
      join(dir, 'drizzle/meta/_journal.json'),
      JSON.stringify({ version: '6', dialect: 'sqlite', entries: [{ idx: 0, when: 1, tag: '0000_init', breakpoints: true }] }),
    );
    writeFileSync(join(dir, 'drizzle/0000_init.sql'), 'CREATE TABLE `users` (`id` integer PRIMARY KEY NOT NULL);\n');
    const { code, stderr } = await lintIn(dir, 'drizzle');
    assert.equal(code, 2);
    assert.match(stderr, /_journal\.json is for dialect "sqlite": ship checks PostgreSQL migrations only/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Drizzle: a breakpoint ends a statement, as the migrator splits there, so a hand-written migration without semicolons lints', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ship-layouts-'));
  try {
    cpSync(join(FIXTURES, 'drizzle'), dir, { recursive: true });
    const journal = JSON.parse(readFileSync(join(dir, 'drizzle/meta/_journal.json'), 'utf8'));
    journal.entries.push({ idx: 3, version: '7', when: 1717600000000, tag: '0002_custom_backfill', breakpoints: true });
    writeFileSync(join(dir, 'drizzle/meta/_journal.json'), JSON.stringify(journal, null, 2));
    writeFileSync(
      join(dir, 'drizzle/0002_custom_backfill.sql'),
      "UPDATE users SET bio = '' WHERE bio IS NULL\n--> statement-breakpoint\nALTER TABLE users DROP COLUMN created_at\n",
    );
    const { findings } = await lintIn(dir, 'drizzle');
    assert.ok(!findings.some((f) => f.endsWith('syntax-error')), findings.join('\n'));
    assert.ok(findings.includes('drizzle/0002_custom_backfill.sql:3 drop-column'), findings.join('\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('goose: a SQL migration without "-- +goose Up" cannot be linted, as goose cannot run it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ship-layouts-'));
  try {
    cpSync(join(FIXTURES, 'goose'), dir, { recursive: true });
    writeFileSync(join(dir, 'db/migrations/00005_add_index.sql'), 'CREATE INDEX events_kind_idx ON events (kind);\n');
    const { code, stderr } = await lintIn(dir, 'db/migrations');
    assert.equal(code, 2);
    assert.match(stderr, /db\/migrations\/00005_add_index\.sql has no "-- \+goose Up" annotation: goose refuses to run it/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
