import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { discoverMigrations, MigrationDiscoveryError } from '../../src/migrations/discovery.js';
import { compileMigrationPattern, compareVersions } from '../../src/migrations/file-name.js';
import { allRules } from '../../schema-checks/index.js';
import { lintMigrations } from '../../src/lint/engine.js';

async function dirWith(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ship-discovery-'));
  for (const [name, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, name)), { recursive: true });
    await writeFile(join(dir, name), content);
  }
  return dir;
}

async function withDir(files: Record<string, string>, body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await dirWith(files);
  try {
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('Flyway: versions sort numerically by part, underscores are dots, repeatables are reported as unrecognised', async () => {
  await withDir(
    { 'V10__ten.sql': 'SELECT 10;', 'V2__two.sql': 'SELECT 2;', 'V1_1__one_one.sql': 'SELECT 11;', 'V1__one.sql': 'SELECT 1;', 'R__views.sql': 'SELECT 0;', 'README.md': '' },
    async (dir) => {
      const discovery = await discoverMigrations(dir);
      assert.deepEqual(
        discovery.migrations.map((m) => m.version),
        ['1', '1.1', '2', '10'],
      );
      assert.deepEqual(
        discovery.migrations.map((m) => m.layout),
        ['flyway', 'flyway', 'flyway', 'flyway'],
      );
      assert.equal(discovery.migrations[1]?.name, 'one_one');
      assert.deepEqual(
        discovery.unrecognised.map((file) => basename(file)),
        ['R__views.sql'],
      );
    },
  );
});

test('golang-migrate: only .up.sql files, with their SQL', async () => {
  await withDir(
    {
      '000002_add_email.up.sql': 'ALTER TABLE users ADD COLUMN email text;',
      '000002_add_email.down.sql': 'ALTER TABLE users DROP COLUMN email;',
      '000001_init.up.sql': 'CREATE TABLE users (id int);',
      '000001_init.down.sql': 'DROP TABLE users;',
    },
    async (dir) => {
      const { migrations, unrecognised } = await discoverMigrations(dir);
      assert.deepEqual(
        migrations.map((m) => [m.version, m.name, m.layout]),
        [
          ['000001', 'init', 'golang-migrate'],
          ['000002', 'add_email', 'golang-migrate'],
        ],
      );
      assert.equal(migrations[1]?.sql, 'ALTER TABLE users ADD COLUMN email text;');
      assert.deepEqual(unrecognised, []);
    },
  );
});

test('dbmate: only the up section is linted, at its real line numbers, and transaction:false is honoured', async () => {
  const upThenDown = [
    '-- migrate:up',
    'CREATE TABLE notes (id int);',
    'ALTER TABLE users DROP COLUMN bio;',
    '',
    '-- migrate:down',
    'ALTER TABLE users DROP COLUMN nickname;',
    '',
  ].join('\n');
  const noTransaction = ['-- migrate:up transaction:false', 'CREATE INDEX CONCURRENTLY users_bio ON users (bio);', '-- migrate:down', 'DROP INDEX users_bio;'].join('\n');
  await withDir({ '20240101120000_notes.sql': upThenDown, '20240102120000_index.sql': noTransaction }, async (dir) => {
    const { migrations } = await discoverMigrations(dir);
    assert.deepEqual(
      migrations.map((m) => [m.layout, m.transaction]),
      [
        ['dbmate', true],
        ['dbmate', false],
      ],
    );
    assert.ok(!migrations[0]?.sql.includes('nickname'), 'the down section is not part of the SQL');
    const report = await lintMigrations(migrations, { rules: allRules, transactionPerFile: true });
    const drops = report.findings.filter((f) => f.ruleId === 'drop-column');
    assert.deepEqual(
      drops.map((f) => [basename(f.file), f.line]),
      [['20240101120000_notes.sql', 3]],
    );
    // dbmate wraps the first file but not the second, so CONCURRENTLY is fine there.
    assert.equal(report.findings.filter((f) => f.ruleId === 'concurrently-in-transaction').length, 0);
  });
});

test('plain numbered files, and a configured pattern with a named version group', async () => {
  await withDir({ '002-second.sql': 'SELECT 2;', '001-first.sql': 'SELECT 1;', 'notes.txt': '' }, async (dir) => {
    assert.deepEqual(
      (await discoverMigrations(dir)).migrations.map((m) => [m.version, m.layout]),
      [
        ['001', 'numbered'],
        ['002', 'numbered'],
      ],
    );
  });
  await withDir({ 'release-3.sql': 'SELECT 3;', 'release-12.sql': 'SELECT 12;', 'other.sql': '' }, async (dir) => {
    const discovery = await discoverMigrations(dir, { pattern: compileMigrationPattern('^release-(?<version>\\d+)\\.sql$') });
    assert.deepEqual(
      discovery.migrations.map((m) => [m.version, m.layout]),
      [
        ['3', 'pattern'],
        ['12', 'pattern'],
      ],
    );
    assert.deepEqual(
      discovery.unrecognised.map((file) => basename(file)),
      ['other.sql'],
    );
  });
});

test('two files with the same version are an error naming both', async () => {
  await withDir({ 'V1__create.sql': 'SELECT 1;', 'V1.0__again.sql': 'SELECT 1;', 'V2__next.sql': 'SELECT 2;' }, async (dir) => {
    await assert.rejects(discoverMigrations(dir), (error: Error) => {
      assert.ok(error instanceof MigrationDiscoveryError);
      assert.match(error.message, /V1\.0__again\.sql/);
      assert.match(error.message, /V1__create\.sql/);
      return true;
    });
  });
});

test('one version twice: runners that order by name run both, in name order; the tools that refuse them are refused', async () => {
  // numbered (a runner ship does not know), dbmate (it sorts file names) and a configured pattern: both files, in name order.
  await withDir({ '0000_b.sql': 'SELECT 2;', '0000_a.sql': 'SELECT 1;', '0001_c.sql': 'SELECT 3;' }, async (dir) => {
    assert.deepEqual(
      (await discoverMigrations(dir)).migrations.map((m) => basename(m.path)),
      ['0000_a.sql', '0000_b.sql', '0001_c.sql'],
    );
  });
  await withDir({ '20240101000000_b.sql': '-- migrate:up\nSELECT 2;\n', '20240101000000_a.sql': '-- migrate:up\nSELECT 1;\n' }, async (dir) => {
    assert.deepEqual(
      (await discoverMigrations(dir)).migrations.map((m) => [basename(m.path), m.layout]),
      [
        ['20240101000000_a.sql', 'dbmate'],
        ['20240101000000_b.sql', 'dbmate'],
      ],
    );
  });
  await withDir({ 'release-2-b.sql': 'SELECT 2;', 'release-2-a.sql': 'SELECT 1;' }, async (dir) => {
    const discovery = await discoverMigrations(dir, { pattern: compileMigrationPattern('^release-(?<version>\\d+)-.*\\.sql$') });
    assert.deepEqual(
      discovery.migrations.map((m) => basename(m.path)),
      ['release-2-a.sql', 'release-2-b.sql'],
    );
  });
  // `.up.sql` names are golang-migrate's, which refuses duplicates, but runners that order by name use them too: linted in name order.
  await withDir({ '0000_b.up.sql': 'SELECT 2;', '0000_a.up.sql': 'SELECT 1;' }, async (dir) => {
    assert.deepEqual(
      (await discoverMigrations(dir)).migrations.map((m) => basename(m.path)),
      ['0000_a.up.sql', '0000_b.up.sql'],
    );
  });
  await withDir({ 'migrations/00001_a.sql': '-- +goose Up\nSELECT 1;\n', 'migrations/1_b.go': 'package migrations\n' }, async (dir) => {
    await assert.rejects(discoverMigrations(join(dir, 'migrations')), /version 1: .*00001_a\.sql and .*1_b\.go; goose refuses/);
  });
  await withDir({ 'Cargo.toml': '[dependencies]\nsqlx = "0.8"\n', 'migrations/0001_a.sql': 'SELECT 1;', 'migrations/1_b.sql': 'SELECT 2;' }, async (dir) => {
    await assert.rejects(discoverMigrations(join(dir, 'migrations')), /version 1: .*0001_a\.sql and .*1_b\.sql; sqlx cannot record both/);
  });
  await withDir({ '2024-01-01-000000_a/up.sql': 'SELECT 1;', '20240101000000_b/up.sql': 'SELECT 2;' }, async (dir) => {
    await assert.rejects(discoverMigrations(dir), /version 20240101000000: .*2024-01-01-000000_a\/up\.sql and .*20240101000000_b\/up\.sql; Diesel would run only one/);
  });
});

test('an empty directory, a missing one and a file instead of a directory are clear errors', async () => {
  await withDir({}, async (dir) => {
    await assert.rejects(discoverMigrations(dir), /no migration files in .* \(it is empty\): expected Flyway/);
    await assert.rejects(discoverMigrations(join(dir, 'missing')), /cannot read migrations directory .*missing: it does not exist/);
    await writeFile(join(dir, 'plain.sql'), '');
    await mkdir(join(dir, 'sub'));
    await assert.rejects(discoverMigrations(join(dir, 'plain.sql')), /it is not a directory/);
    await assert.rejects(discoverMigrations(join(dir, 'sub')), /no migration files/);
  });
});

test('a configured pattern must compile and name its version group', () => {
  assert.throws(() => compileMigrationPattern('^(\\d+'), /migrations\.pattern .* is not a valid regular expression/);
  assert.throws(() => compileMigrationPattern('^(\\d+)_.*\\.sql$'), /needs a named group "version"/);
});

test('versions compare by numeric part, trailing zero parts ignored', () => {
  assert.equal(compareVersions('1.10', '1.9'), 1);
  assert.equal(compareVersions('1.0', '1'), 0);
  assert.equal(compareVersions('20240101120000', '20231231235959'), 1);
  assert.equal(compareVersions('007', '7'), 0);
});
