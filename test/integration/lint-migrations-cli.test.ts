import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const entry = join(root, 'src/cli/lint-migrations-main.ts');
// The migrations live in temporary directories outside the repo, so name tsx by its resolved URL.
const tsx = import.meta.resolve('tsx');
const work = mkdtempSync(join(tmpdir(), 'ship-lint-cli-'));
after(() => rmSync(work, { recursive: true, force: true }));

function ship(args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['--import', tsx, entry, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function project(name: string, files: Record<string, string>): string {
  const dir = join(work, name);
  mkdirSync(join(dir, 'db/migrations'), { recursive: true });
  for (const [file, sql] of Object.entries(files)) writeFileSync(join(dir, 'db/migrations', file), sql);
  return dir;
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=ship-test', '-c', 'user.email=ship-test@example.invalid', '-c', 'init.defaultBranch=main', ...args], { cwd, encoding: 'utf8' });
}

test('a clean directory exits 0; an unsafe migration exits 1 with the line shown; a suppressed one exits 0', () => {
  const dir = project('dirs', {
    'V1__init.sql': 'CREATE TABLE users (id bigint PRIMARY KEY, email varchar(100));\nCREATE INDEX users_email ON users (email);\n',
    'V2__widen.sql': "SET lock_timeout = '2s';\nALTER TABLE users ALTER COLUMN email TYPE text;\n",
  });
  const clean = ship(['db/migrations'], dir);
  assert.equal(clean.status, 0, clean.stdout + clean.stderr);
  assert.match(clean.stdout, /0 errors, 0 warnings in 2 files/);

  writeFileSync(join(dir, 'db/migrations/V3__drop.sql'), "SET lock_timeout = '2s';\nALTER TABLE users DROP COLUMN email;\n");
  const dirty = ship(['db/migrations'], dir);
  assert.equal(dirty.status, 1);
  assert.match(dirty.stdout, /^db\/migrations\/V3__drop\.sql:2:1: error \[drop-column\] \(compat\)$/m);
  assert.match(dirty.stdout, / {2}2 \| ALTER TABLE users DROP COLUMN email;\n {4}\| \^/);

  writeFileSync(
    join(dir, 'db/migrations/V3__drop.sql'),
    "SET lock_timeout = '2s';\n-- ship:allow drop-column code stopped using it in release 7\nALTER TABLE users DROP COLUMN email;\n",
  );
  const suppressed = ship(['db/migrations/V3__drop.sql', '--format', 'json'], dir);
  assert.equal(suppressed.status, 0, suppressed.stdout);
  const report = JSON.parse(suppressed.stdout);
  assert.deepEqual(report.files, ['db/migrations/V3__drop.sql']);
  assert.equal(report.suppressed[0].reason, 'code stopped using it in release 7');
});

test('github format, unparsable SQL and bad input', () => {
  const dir = project('bad', { 'V1__broken.sql': 'SELECT 1;\nCREATE TABLE (id int);\n' });
  const broken = ship(['db/migrations', '--format', 'github'], dir);
  assert.equal(broken.status, 1);
  assert.match(broken.stdout, /^::error file=db\/migrations\/V1__broken\.sql,line=2,col=14,title=syntax-error \(hygiene\)::SQL does not parse: syntax error at or near "\("/m);

  const missing = ship(['db/nope'], dir);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /cannot read db\/nope: no such file or directory/);

  mkdirSync(join(dir, 'empty'));
  const empty = ship(['empty'], dir);
  assert.equal(empty.status, 2);
  assert.match(empty.stderr, /no migration files in .*empty \(it is empty\)/);

  const format = ship(['db/migrations', '--format', 'xml'], dir);
  assert.equal(format.status, 2);
  assert.match(format.stderr, /Choices: "text", "github", "json"/);

  writeFileSync(join(dir, 'db/migrations/V1.0__again.sql'), 'SELECT 1;');
  const duplicate = ship(['db/migrations'], dir);
  assert.equal(duplicate.status, 2);
  assert.match(duplicate.stderr, /two migrations have version 1: .*V1.0__again.sql and .*V1__broken.sql|two migrations have version 1: .*V1__broken.sql and .*V1.0__again.sql/);
});

test('--base lints only the migrations added or changed since the ref, with earlier ones as context', () => {
  const dir = project('repo', {
    'V1__init.sql': 'CREATE TABLE users (id bigint PRIMARY KEY, email varchar(100), bio text);\n',
    'V2__old_unsafe.sql': 'ALTER TABLE users DROP COLUMN bio;\n',
  });
  git(dir, 'init', '-q');
  git(dir, 'add', '.');
  git(dir, 'commit', '-q', '-m', 'existing migrations');
  git(dir, 'checkout', '-q', '-b', 'feature');

  const nothing = ship(['--base', 'main'], dir);
  assert.equal(nothing.status, 0, nothing.stderr);
  assert.match(nothing.stderr, /no migration files changed since main/);

  writeFileSync(join(dir, 'db/migrations/V3__widen.sql'), "SET lock_timeout = '2s';\nALTER TABLE users ALTER COLUMN email TYPE text;\n");
  writeFileSync(join(dir, 'notes.sql.txt'), 'not a migration');
  git(dir, 'add', '.');
  git(dir, 'commit', '-q', '-m', 'widen email');
  const safe = ship(['--base', 'main', '--format', 'json'], dir);
  assert.equal(safe.status, 0, safe.stdout + safe.stderr);
  // V1 is replayed as context, so varchar(100) to text is known to be catalog-only; V2 is not linted.
  assert.deepEqual(JSON.parse(safe.stdout).files, ['db/migrations/V3__widen.sql']);

  writeFileSync(join(dir, 'db/migrations/V4__index.sql'), 'CREATE INDEX users_email ON users (email);\n');
  git(dir, 'add', '.');
  git(dir, 'commit', '-q', '-m', 'index');
  const unsafe = ship(['db/migrations', '--base', 'main', '--format', 'json'], dir);
  assert.equal(unsafe.status, 1);
  const report = JSON.parse(unsafe.stdout);
  assert.deepEqual(report.files, ['db/migrations/V3__widen.sql', 'db/migrations/V4__index.sql']);
  assert.deepEqual(
    report.findings.map((f: { ruleId: string }) => f.ruleId),
    // The SHARE lock of CREATE INDEX blocks writes while it waits: it needs a lock_timeout too.
    ['create-index-without-concurrently', 'require-lock-timeout'],
  );

  const badRef = ship(['--base', 'no-such-branch'], dir);
  assert.equal(badRef.status, 2);
  assert.match(badRef.stderr, /--base "no-such-branch" names no commit in the git repository at .*: check the spelling, and fetch it first/);
});

test('--base that is empty, blank or names no single commit is refused (exit 2) while an unsafe migration is on the branch', () => {
  const dir = project('base-refs', { 'V1__init.sql': 'CREATE TABLE users (id bigint PRIMARY KEY, bio text);\n' });
  git(dir, 'init', '-q');
  git(dir, 'add', '.');
  git(dir, 'commit', '-q', '-m', 'init');
  git(dir, 'checkout', '-q', '-b', 'feature');
  writeFileSync(join(dir, 'db/migrations/V2__drop.sql'), 'ALTER TABLE users DROP COLUMN bio;\n');
  git(dir, 'add', '.');
  git(dir, 'commit', '-q', '-m', 'drop bio');
  assert.equal(ship(['--base', 'main'], dir).status, 1, 'the branch does carry an error-level migration');

  // '' is what `--base "$UNSET_VARIABLE"` passes; git would read `...HEAD` as an empty diff.
  for (const base of ['', '   ']) {
    const result = ship(['--base', base], dir);
    assert.equal(result.status, 2, `--base ${JSON.stringify(base)}: ${result.stderr}`);
    assert.match(result.stderr, /--base is empty: name the git ref the branch started from, e\.g\. --base origin\/main/);
    assert.doesNotMatch(result.stderr, /no migration files changed/);
  }
  // A range or a tree is not a commit to diff from: `main..HEAD...HEAD` means nothing sensible.
  for (const base of ['main..HEAD', 'HEAD:db', 'HEAD~9']) {
    const result = ship(['--base', base], dir);
    assert.equal(result.status, 2, `--base ${base}: ${result.stderr}`);
    assert.match(result.stderr, new RegExp(`--base "${base.replace(/[.~]/g, '\\$&')}" names no commit`));
  }
});

test('bad input files exit 2 naming the file: 50 MB, a NUL byte, a FIFO (also behind a symlink); a large earlier migration only costs its context', () => {
  const dir = project('input', { 'V1__init.sql': 'CREATE TABLE users (id bigint PRIMARY KEY, bio text);\n' });
  // Before: the WebAssembly parser died ("Terminating process due to FATAL error" or a RangeError), exit 1.
  const big = 'ALTER TABLE users ADD COLUMN c integer;\n'.repeat((50 * 1024 * 1024) / 40);
  writeFileSync(join(dir, 'db/migrations/V2__huge.sql'), big);
  const huge = ship(['db/migrations/V2__huge.sql'], dir);
  assert.equal(huge.status, 2, huge.stderr);
  assert.match(huge.stderr, /^ship lint-migrations: db\/migrations\/V2__huge\.sql is 52428800 bytes \(50 MiB\), over the 2 MiB .*; split it into smaller migrations\n$/);

  // The huge file is now an earlier migration of the one linted: skipped with a warning, no crash.
  writeFileSync(join(dir, 'db/migrations/V3__small.sql'), "SET lock_timeout = '2s';\nALTER TABLE users ADD COLUMN note text;\n");
  const next = ship(['db/migrations/V3__small.sql', '--format', 'json'], dir);
  assert.equal(next.status, 0, next.stderr);
  assert.match(next.stderr, /warning: earlier migration db\/migrations\/V2__huge\.sql was not read for context: it is 52428800 bytes/);
  assert.deepEqual(
    JSON.parse(next.stdout).skippedContext.map((s: { file: string }) => s.file),
    ['db/migrations/V2__huge.sql'],
  );
  rmSync(join(dir, 'db/migrations/V2__huge.sql'));

  // Before: one statement reported, exit 0; the DROP after the NUL was never seen.
  writeFileSync(join(dir, 'db/migrations/V4__nul.sql'), 'SELECT 1;\0 DROP TABLE users;\n');
  const nul = ship(['db/migrations/V4__nul.sql'], dir);
  assert.equal(nul.status, 2, nul.stdout + nul.stderr);
  assert.match(nul.stderr, /db\/migrations\/V4__nul\.sql contains a NUL byte at byte offset 9 \(line 1\)/);
  rmSync(join(dir, 'db/migrations/V4__nul.sql'));

  // Before: reading the FIFO waited for a writer forever (the timeout below killed it).
  execFileSync('mkfifo', [join(dir, 'pipe.sql')]);
  symlinkSync(join(dir, 'pipe.sql'), join(dir, 'link.sql'));
  for (const path of ['pipe.sql', 'link.sql']) {
    const result = spawnSync(process.execPath, ['--import', tsx, entry, path], { cwd: dir, encoding: 'utf8', timeout: 30_000, env: { ...process.env, NODE_OPTIONS: '' } });
    assert.equal(result.signal, null, `${path} hung`);
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, new RegExp(`${path} is a named pipe \\(FIFO\\), not a regular file`));
  }
});

test('with no paths and no --base, the config names the directory and the settings; without one, a clear usage error', () => {
  const dir = project('configured', {
    'V1__init.sql': 'CREATE TABLE users (id bigint PRIMARY KEY, email text);\n',
    'V2__drop.sql': 'ALTER TABLE users DROP COLUMN email;\n',
  });
  // Secrets the deploy needs (the primary's URL) are not needed, nor validated, to lint.
  writeFileSync(
    join(dir, 'orchestrator.config.ts'),
    "export default { app: 'x', hosts: [], database: { primary: process.env.SHIP_TEST_UNSET_URL, migrations: { dir: 'db/migrations', pgVersion: 11 } } };\n",
  );
  const configured = ship(['--format', 'json'], dir);
  assert.equal(configured.status, 1, configured.stderr);
  const report = JSON.parse(configured.stdout);
  assert.deepEqual(report.files, ['db/migrations/V1__init.sql', 'db/migrations/V2__drop.sql']);
  assert.deepEqual(report.findings.map((f: { ruleId: string }) => f.ruleId).sort(), ['drop-column', 'require-lock-timeout']);

  // Elsewhere, --config points at it; the directory is relative to the config file, not the cwd.
  const elsewhere = ship(['--config', join(dir, 'orchestrator.config.ts'), '--format', 'json'], work);
  assert.equal(elsewhere.status, 1, elsewhere.stderr);
  assert.equal(JSON.parse(elsewhere.stdout).findings.length, 2);

  const none = ship([], work);
  assert.equal(none.status, 2);
  assert.match(
    none.stderr,
    /name the migration files or directories to lint, pass --base <git ref>, or set database.migrations.dir in a config file \(none at .*orchestrator\.config\.ts; pass --config <file>\)/,
  );

  writeFileSync(join(dir, 'other.config.ts'), "export default { app: 'x' };\n");
  const noMigrations = ship(['--config', 'other.config.ts'], dir);
  assert.equal(noMigrations.status, 2);
  assert.match(noMigrations.stderr, /other\.config\.ts has no database\.migrations/);

  writeFileSync(join(dir, 'bad.config.ts'), "export default { database: { migrations: { dir: 'db/migrations', pgVersion: 'fifteen' } } };\n");
  const bad = ship(['--config', 'bad.config.ts'], dir);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /bad\.config\.ts: invalid config: database\.migrations\.pgVersion: /);
});

test('--hygiene and --no-require-statement-timeout, and the config fields they override', () => {
  const dir = project('hygiene', {
    'V1__init.sql': 'CREATE TABLE users (id int PRIMARY KEY, seen timestamp);\n',
    'V2__retype.sql': "SET lock_timeout = '2s';\n-- ship:allow change-column-type users has 40 rows\nALTER TABLE users ALTER COLUMN seen TYPE timestamptz;\n",
  });
  const ruleIds = (result: { stdout: string }) => (JSON.parse(result.stdout) as { findings: Array<{ ruleId: string }> }).findings.map((f) => f.ruleId).sort();
  assert.deepEqual(ruleIds(ship(['db/migrations', '--format', 'json'], dir)), ['require-statement-timeout']);
  const hygiene = ship(['db/migrations', '--format', 'json', '--hygiene', '--no-require-statement-timeout'], dir);
  assert.equal(hygiene.status, 0, hygiene.stderr);
  assert.deepEqual(ruleIds(hygiene), ['prefer-bigint-for-keys', 'prefer-timestamptz']);

  writeFileSync(join(dir, 'orchestrator.config.ts'), "export default { database: { migrations: { dir: 'db/migrations', hygiene: true, requireStatementTimeout: false } } };\n");
  assert.deepEqual(ruleIds(ship(['--format', 'json'], dir)), ['prefer-bigint-for-keys', 'prefer-timestamptz']);
  assert.deepEqual(ruleIds(ship(['--format', 'json', '--no-hygiene', '--require-statement-timeout'], dir)), ['require-statement-timeout']);
});

test("with database.migrate.run 'ship' in the config, ship sets lock_timeout itself, so the files need not; without it they must", () => {
  const dir = project('preset', {
    'V1__init.sql': 'CREATE TABLE users (id bigint PRIMARY KEY);\n',
    'V2__nickname.sql': 'ALTER TABLE users ADD COLUMN nickname text;\n',
  });
  const ruleIds = (result: { stdout: string }) => (JSON.parse(result.stdout) as { findings: Array<{ ruleId: string }> }).findings.map((f) => f.ruleId);
  writeFileSync(join(dir, 'orchestrator.config.ts'), "export default { database: { migrations: { dir: 'db/migrations' } } };\n");
  assert.deepEqual(ruleIds(ship(['--format', 'json'], dir)), ['require-lock-timeout']);
  writeFileSync(join(dir, 'orchestrator.config.ts'), "export default { database: { migrations: { dir: 'db/migrations' }, migrate: { run: 'ship', lockTimeout: '2s' } } };\n");
  const preset = ship(['--format', 'json'], dir);
  assert.equal(preset.status, 0, preset.stderr);
  assert.deepEqual(ruleIds(preset), []);
  writeFileSync(
    join(dir, 'orchestrator.config.ts'),
    "export default { database: { migrations: { dir: 'db/migrations' }, migrate: { run: { command: 'npx prisma migrate deploy' } } } };\n",
  );
  assert.deepEqual(ruleIds(ship(['--format', 'json'], dir)), ['require-lock-timeout']);
  writeFileSync(join(dir, 'orchestrator.config.ts'), "export default { database: { migrations: { dir: 'db/migrations' }, migrate: { run: 'flyway' } } };\n");
  const bad = ship(['--format', 'json'], dir);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /database\.migrate\.run/);
});

test('`ship lint-migrations` through the published bin: findings, lines and exit code, for a file large enough to be parsed in parts', () => {
  const dir = project('bin', {
    'V1__drop.sql': `${"INSERT INTO audit_log (kind, note) VALUES ('seed', 'a row that no rule minds, repeated to make the file large');\n".repeat(3000)}ALTER TABLE users DROP COLUMN email;\n`,
  });
  const bin = join(root, 'bin/ship.js');
  // bin/ship.js runs the compiled CLI, which the test command builds before the tests run.
  // NODE_PENDING_DEPRECATION: the entry sets V8's flags through process.binding, whose warning must not show.
  const result = spawnSync(process.execPath, [bin, 'lint-migrations', 'db/migrations', '--format', 'json'], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, NODE_PENDING_DEPRECATION: '1' },
  });
  assert.equal(result.status, 1, result.stderr);
  assert.equal(result.stderr, '');
  const report = JSON.parse(result.stdout) as { statementCount: number; findings: Array<{ ruleId: string; line: number }> };
  assert.equal(report.statementCount, 3001);
  assert.deepEqual(
    report.findings.map((finding) => `${finding.line}:${finding.ruleId}`),
    ['3001:drop-column', '3001:require-lock-timeout'],
  );
  const help = spawnSync(process.execPath, [bin, 'lint-migrations', '--help'], { cwd: dir, encoding: 'utf8' });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--base/);
});

test('`ship lint-migrations` through the published bin reads the config when given no paths, and names a bad one (exit 2)', () => {
  // The published lint loads the config's module from tsc's output, apart from its bundled script.
  const dir = project('bin-config', {
    'V1__init.sql': 'CREATE TABLE users (id bigint PRIMARY KEY, email text);\n',
    'V2__drop.sql': 'ALTER TABLE users DROP COLUMN email;\n',
  });
  const bin = (args: string[], cwd: string) => spawnSync(process.execPath, [join(root, 'bin/ship.js'), 'lint-migrations', ...args], { cwd, encoding: 'utf8' });
  writeFileSync(join(dir, 'orchestrator.config.ts'), "export default { app: 'x', database: { migrations: { dir: 'db/migrations', pgVersion: 11 } } };\n");
  const configured = bin(['--format', 'json'], dir);
  assert.equal(configured.status, 1, configured.stderr);
  assert.deepEqual(JSON.parse(configured.stdout).files, ['db/migrations/V1__init.sql', 'db/migrations/V2__drop.sql']);
  writeFileSync(join(dir, 'bad.config.ts'), "export default { database: { migrations: { dir: 'db/migrations', pgVersion: 'fifteen' } } };\n");
  const bad = bin(['--config', 'bad.config.ts'], dir);
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /^ship lint-migrations: bad\.config\.ts: invalid config: database\.migrations\.pgVersion: /);
  const none = bin([], work);
  assert.equal(none.status, 2, none.stderr);
  assert.match(none.stderr, /^ship lint-migrations: name the migration files or directories to lint/);
});

test("output piped into a reader that quits early: no crash, the exit code is still the lint's", async () => {
  const dir = project('epipe', {
    'V1__drops.sql': `${Array.from({ length: 3000 }, (_, i) => `ALTER TABLE t${i} DROP COLUMN c;`).join('\n')}\n`,
  });
  const child = spawn(process.execPath, [join(root, 'bin/ship.js'), 'lint-migrations', 'db/migrations', '--format', 'json'], { cwd: dir });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  // Like `| head -c 100`: read a little of the megabytes of findings, then close the pipe.
  child.stdout.once('data', () => child.stdout.destroy());
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 1, stderr);
  assert.doesNotMatch(stderr, /EPIPE|Unhandled/);
});

test('a phase marker ship cannot read is bad input (exit 2) naming the file and line, also in a file of no layout', () => {
  const dir = project('phase-typo', { 'V1__drop.sql': "-- ship:phase contrct\nSET lock_timeout = '2s';\nALTER TABLE users DROP COLUMN email;\n" });
  const typo = ship(['db/migrations'], dir);
  assert.equal(typo.status, 2, typo.stdout + typo.stderr);
  assert.match(typo.stderr, /V1__drop\.sql:1: "ship:phase contrct" is not a phase/);
  writeFileSync(join(dir, 'drop-email.sql'), 'SELECT 1;\n-- ship:phase contract\nALTER TABLE users DROP COLUMN email;\n');
  const late = ship(['drop-email.sql'], dir);
  assert.equal(late.status, 2, late.stdout + late.stderr);
  assert.match(late.stderr, /drop-email\.sql:2: "ship:phase" is read only in the comments before the first statement/);
});

test('a contract migration (its header says so) is not refused for dropping what only the old code used', () => {
  const dir = project('phase-contract', {
    'V1__init.sql': 'CREATE TABLE users (id bigint PRIMARY KEY, email text);\n',
    'V2__drop.sql': "-- ship:phase contract\nSET lock_timeout = '2s';\nALTER TABLE users DROP COLUMN email;\n",
  });
  const contract = ship(['db/migrations'], dir);
  assert.equal(contract.status, 0, contract.stdout + contract.stderr);
  writeFileSync(join(dir, 'drop.sql'), "-- ship:phase contract\nSET lock_timeout = '2s';\nALTER TABLE users DROP COLUMN email;\n");
  const named = ship(['drop.sql'], dir);
  assert.equal(named.status, 0, named.stdout + named.stderr);
  writeFileSync(join(dir, 'db/migrations/V2__drop.sql'), "SET lock_timeout = '2s';\nALTER TABLE users DROP COLUMN email;\n");
  const expand = ship(['db/migrations'], dir);
  assert.equal(expand.status, 1, expand.stdout + expand.stderr);
  assert.match(expand.stdout, /V2__drop\.sql:2:1: error \[drop-column\]/);
});
