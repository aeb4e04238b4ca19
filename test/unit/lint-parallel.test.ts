/**
 * A large migration is parsed in parts on two threads (src/lint/parallel.ts) and judged part by
 * part. Whatever the cuts, the report must be exactly the one-thread report: same findings,
 * positions, suppressions and context carried across the cuts (open transaction, tables created,
 * lock_timeout, NOT VALID checks).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allRules } from '../../schema-checks/index.js';
import { lintMigrations as lintMigrationsWith, lintSql as lintSqlWith, type LintOptions } from '../../src/lint/engine.js';
import { coresBusyElsewhere, MAIN_THREAD_SHARE, PARALLEL_MIN_BYTES, WORKER_CUTS } from '../../src/lint/parallel.js';
import { splitPoint, splitPoints } from '../../src/lint/split.js';
import type { LintRule } from '../../src/lint/types.js';

/** These tests lint with every rule of schema-checks/, as the CLI and the pre-flight do, unless one passes its own. */
const lintSql = (sql: string, options: LintOptions & { path?: string; rules?: readonly LintRule[] } = {}) => lintSqlWith(sql, { rules: allRules, ...options });
const lintMigrations = (files: Parameters<typeof lintMigrationsWith>[0], options: LintOptions = {}) => lintMigrationsWith(files, { rules: allRules, ...options });

/** Where the file is cut: the main thread's part, then the worker's parts. */
function cuts(sql: string): number[] {
  const first = splitPoint(sql, MAIN_THREAD_SHARE);
  assert.ok(first !== undefined);
  return [first, ...splitPoints(sql.slice(first), WORKER_CUTS).map((cut) => first + cut)];
}

function workerThreads(): number {
  const report = process.report.getReport() as unknown as { workers: unknown[] };
  return report.workers.length;
}

/** Filler that no rule minds, so the interesting statements land on both sides of the cut. */
function filler(count: number, tag: string): string {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    lines.push(`INSERT INTO audit_log (kind, note) VALUES ('${tag}', 'row ${i} – naïve café; "quoted" $$ not a dollar quote $$');`);
    lines.push(`UPDATE settings SET value = $v$${tag};${i}$v$ WHERE key = 'k${i}'; -- trailing ; comment`);
    lines.push(`/* block ; comment /* nested; */ */ COMMENT ON TABLE audit_log IS E'it\\'s ${i};';`);
  }
  return `${lines.join('\n')}\n`;
}

function bigMigration(): string {
  const head = [
    '-- ship:allow-file drop-table the legacy tables are empty and unused since release 40',
    'BEGIN;',
    "SET LOCAL lock_timeout = '2s';",
    'CREATE TABLE fresh (id bigint PRIMARY KEY, name varchar(20));',
    'ALTER TABLE accounts ADD CONSTRAINT accounts_name_nn CHECK (name IS NOT NULL) NOT VALID;',
    'DROP TABLE legacy_one;',
  ].join('\n');
  const tail = [
    // Same transaction as the head, across the cut: fresh is new, lock_timeout is set, the check was added NOT VALID in it.
    'CREATE INDEX fresh_name ON fresh (name);',
    'ALTER TABLE fresh ALTER COLUMN name TYPE text;',
    'ALTER TABLE accounts VALIDATE CONSTRAINT accounts_name_nn;',
    'ALTER TABLE accounts ALTER COLUMN name SET NOT NULL;',
    'COMMIT;',
    'ALTER TABLE accounts DROP COLUMN age;',
    '-- ship:allow drop-column the column is unused since release 41',
    'ALTER TABLE accounts DROP COLUMN nickname;',
    '-- ship:allow rename-table this one suppresses nothing, which is reported',
    'CREATE INDEX accounts_email ON accounts (email);',
    'DROP TABLE legacy_two;',
  ].join('\n');
  return `${head}\n${filler(900, 'a')}${tail}\n${filler(300, 'b')}SELECT 1`;
}

test('a large migration linted on two threads reports exactly what one thread reports', async () => {
  const sql = bigMigration();
  assert.ok(Buffer.byteLength(sql) > PARALLEL_MIN_BYTES, `the test file must be large enough to be split (${Buffer.byteLength(sql)} bytes)`);
  const at = cuts(sql);
  assert.equal(at.length, 1 + WORKER_CUTS.length);
  assert.ok(
    at.some((cut) => sql.indexOf('CREATE TABLE fresh') < cut && cut < sql.indexOf('CREATE INDEX fresh_name')),
    'a cut falls between head and tail',
  );
  assert.ok(
    at.some((cut) => cut > sql.indexOf('DROP TABLE legacy_two')),
    'and one after the tail',
  );

  // tsx's module hooks may run on a thread of their own: count the lint worker as the difference.
  const before = workerThreads();
  const one = await lintSql(sql, { path: 'V9__big.sql', threads: 1 });
  assert.equal(workerThreads(), before, 'one thread starts no worker');
  const two = await lintSql(sql, { path: 'V9__big.sql', threads: 2 });
  assert.equal(workerThreads(), before + 1, 'two threads start the lint worker');
  assert.deepEqual(two, one);

  // What the context across the cut decides (so equality above is not two empty reports).
  const ids = one.findings.map((f) => `${f.line}:${f.ruleId}`);
  const line = (text: string) => sql.slice(0, sql.indexOf(text)).split('\n').length;
  assert.ok(!ids.some((id) => id.startsWith(`${line('CREATE INDEX fresh_name')}:`)), 'an index on a table created in the file is fine');
  assert.ok(!ids.some((id) => id.startsWith(`${line('ALTER TABLE fresh ALTER')}:`)), 'retyping a new table is fine');
  assert.ok(ids.includes(`${line('VALIDATE CONSTRAINT')}:validate-in-same-transaction`), ids.join(' '));
  assert.ok(ids.includes(`${line('DROP COLUMN age')}:drop-column`));
  assert.ok(ids.includes(`${line('DROP COLUMN age')}:require-lock-timeout`), 'lock_timeout was SET LOCAL: it ended with the COMMIT');
  assert.ok(ids.includes(`${line('CREATE INDEX accounts_email')}:create-index-without-concurrently`));
  assert.ok(ids.includes(`${line('ship:allow rename-table')}:unused-suppression`));
  assert.deepEqual(
    one.suppressed.map((s) => `${s.line}:${s.ruleId}`).sort(),
    [`${line('DROP TABLE legacy_one')}:drop-table`, `${line('DROP TABLE legacy_two')}:drop-table`, `${line('DROP COLUMN nickname')}:drop-column`].sort(),
  );
  assert.equal(one.statementCount, 3 * 1200 + 5 + 9 + 1);
});

test('what a file linted on two threads established carries on to the next file', async () => {
  // The big file's last part (parsed on the worker) retypes fresh.name to text; the next file relies on knowing that.
  const files = [
    { path: 'V9__big.sql', sql: bigMigration() },
    { path: 'V10__narrow.sql', sql: "SET lock_timeout = '2s';\nALTER TABLE fresh ALTER COLUMN name TYPE varchar(10);\n" },
  ];
  const one = await lintMigrations(files, { threads: 1 });
  assert.deepEqual(await lintMigrations(files, { threads: 2 }), one);
  const narrowing = one.findings.find((f) => f.file === 'V10__narrow.sql');
  assert.equal(narrowing?.ruleId, 'change-column-type');
  assert.match(narrowing.message, /from text/);
});

test('facts only the whole file or its text show come out the same on two threads: the last statement, an open BEGIN, long names', async () => {
  const long = `accounts_${'x'.repeat(60)}`;
  const ending = (last: string) =>
    [
      'ALTER TABLE accounts ADD COLUMN flag boolean;',
      filler(900, 'd'),
      `CREATE INDEX CONCURRENTLY IF NOT EXISTS ${long} ON accounts (flag);`,
      'UPDATE accounts SET flag = false;',
      'DROP TABLE legacy_three;',
      filler(300, 'e'),
      last,
    ].join('\n');
  const line = (sql: string, text: string) => sql.slice(0, sql.indexOf(text)).split('\n').length;
  // The last statement: a DROP there can be re-run (nothing follows it); a BEGIN there is never committed.
  for (const [last, atLastLine] of [
    ['DROP TABLE legacy_four', ['drop-table', 'require-lock-timeout']],
    ['BEGIN;\nSELECT 1', ['uncommitted-transaction']],
  ] as const) {
    const sql = ending(last);
    assert.ok(cuts(sql)[0]! < sql.indexOf('CREATE INDEX CONCURRENTLY'), 'the long name and the backfill are in a part the worker parses');
    const one = await lintSql(sql, { threads: 1, hygiene: true });
    assert.deepEqual(await lintSql(sql, { threads: 2, hygiene: true }), one);
    const ids = one.findings.map((f) => `${f.line}:${f.ruleId}`);
    assert.ok(ids.includes(`${line(sql, long)}:identifier-too-long`), ids.join(' '));
    assert.equal(one.findings.find((f) => f.ruleId === 'identifier-too-long')?.column, 'CREATE INDEX CONCURRENTLY IF NOT EXISTS '.length + 1);
    assert.ok(ids.includes(`${line(sql, 'UPDATE accounts')}:unbatched-backfill`), ids.join(' '));
    assert.ok(ids.includes(`${line(sql, 'DROP TABLE legacy_three')}:not-rerunnable-outside-transaction`), ids.join(' '));
    assert.deepEqual(
      one.findings.filter((f) => f.line === line(sql, last.split('\n')[0]!)).map((f) => f.ruleId),
      atLastLine,
    );
  }
});

test('a syntax error in either part, or a cut the splitter got wrong, falls back to one whole-file parse', async () => {
  const sql = bigMigration();
  for (const broken of [sql.replace('UPDATE settings SET value = $v$b;299$v$', 'UPDATE settings SET SET'), sql.replace("'row 3 –", "'row 3 –' ,, '")]) {
    const one = await lintSql(broken, { threads: 1 });
    const two = await lintSql(broken, { threads: 2 });
    assert.deepEqual(two, one);
    assert.equal(one.findings.length, 1);
    assert.equal(one.findings[0]?.ruleId, 'syntax-error');
  }
  // A function body in BEGIN ATOMIC ... END has semicolons the splitter cannot tell from statement ends.
  const atomic = `${filler(700, 'c')}CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; ${'SELECT 2; '.repeat(20000)}END;\nALTER TABLE accounts DROP COLUMN age;\n`;
  assert.ok(
    cuts(atomic).some((cut) => cut > atomic.indexOf('BEGIN ATOMIC') && cut < atomic.indexOf('END;')),
    'a cut falls inside the function body',
  );
  const one = await lintSql(atomic, { threads: 1 });
  assert.deepEqual(await lintSql(atomic, { threads: 2 }), one);
  assert.deepEqual(
    one.findings.map((f) => f.ruleId),
    ['drop-column', 'require-lock-timeout'],
  );
});

test('the cut skips semicolons in quotes, dollar quotes, comments and parentheses', () => {
  const cases: Array<[string, string]> = [
    ["select 'a;b'; select 2;", "select 'a;b';"],
    ["select E'it\\'s;'; select 2;", "select E'it\\'s;';"],
    ['select "a;""b"; select 2;', 'select "a;""b";'],
    ['select $$;$$; select 2;', 'select $$;$$;'],
    ['select $fn$ $$; $fn$; select 2;', 'select $fn$ $$; $fn$;'],
    ['select 1 -- ;\n; select 2;', 'select 1 -- ;\n;'],
    ['select /* ; /* ; */ ; */ 1; select 2;', 'select /* ; /* ; */ ; */ 1;'],
    [
      'create rule r as on insert to t do (insert into a values (1); insert into b values (2)); select 2;',
      'create rule r as on insert to t do (insert into a values (1); insert into b values (2));',
    ],
    ['select $1; select 2;', 'select $1;'],
  ];
  for (const [sql, first] of cases) assert.equal(sql.slice(0, splitPoint(sql, 0)), first, sql);
  assert.equal(splitPoint('select 1;', 0), undefined, 'no statement after the last semicolon');
  assert.equal(splitPoint("select 'unterminated; select 2;", 0), undefined);
  assert.deepEqual(splitPoints('select 1; select 2; select 3; select 4;', [0.3, 0.6]), ['select 1; select 2;'.length, 'select 1; select 2; select 3;'.length]);
  assert.deepEqual(splitPoints('select 1; select 2;', [0.2, 0.9]), ['select 1;'.length], 'fewer cuts when the text runs out');
});

test('cores busy elsewhere are counted as they are now: two threads spinning are seen at once', {
  skip: process.platform !== 'linux' && 'reads /proc/loadavg, which only Linux has',
}, async () => {
  const { Worker } = await import('node:worker_threads');
  const flags = new Int32Array(new SharedArrayBuffer(8));
  // flags[0]: spinners started; flags[1]: 1 when they should stop.
  const spin = `const { workerData: flags } = require('node:worker_threads'); Atomics.add(flags, 0, 1); while (Atomics.load(flags, 1) === 0) {}`;
  const before = coresBusyElsewhere();
  const spinners = [new Worker(spin, { eval: true, workerData: flags }), new Worker(spin, { eval: true, workerData: flags })];
  try {
    while (Atomics.load(flags, 0) < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    // A one-minute average would still be near `before`; the threads running now include both spinners.
    assert.ok(coresBusyElsewhere() >= 2, `busy elsewhere: ${coresBusyElsewhere()} (before: ${before})`);
  } finally {
    Atomics.store(flags, 1, 1);
    await Promise.all(spinners.map((spinner) => new Promise((resolve) => spinner.once('exit', resolve))));
  }
});

test('a parse worker started early and never used does not keep the process alive', async () => {
  // The lint entry boots the worker as soon as it sees a large file; the lint may then refuse
  // (a file over the size limit, a bad flag) without parsing. Before: node re-refs a worker when a
  // 'message' listener is added after unref(), and `ship lint-migrations` hung after its exit-2 message.
  const { spawnSync } = await import('node:child_process');
  const parallel = new URL('../../src/lint/parallel.ts', import.meta.url).href;
  const script = `const { warmUpParseWorker } = await import(${JSON.stringify(parallel)}); warmUpParseWorker(); console.log('started');`;
  const result = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(result.signal, null, 'the process hung with the idle worker');
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout, 'started\n');
});
