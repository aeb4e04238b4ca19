import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgedNodeTypes, lintMigrations as lintMigrationsWith, lintSql as lintSqlWith, type LintOptions } from '../../src/lint/engine.js';
import { formatGithub } from '../../src/lint/format/github.js';
import { formatJson } from '../../src/lint/format/json.js';
import { formatText } from '../../src/lint/format/text.js';
import { allRules } from '../../schema-checks/index.js';
import type { AlterTableCommandKind, LintRule, NodeTypeName, Statement } from '../../src/lint/types.js';

/** These tests lint with every rule of schema-checks/, as the CLI and the pre-flight do, unless one passes its own. */
const lintSql = (sql: string, options: LintOptions & { path?: string; rules?: readonly LintRule[] } = {}) => lintSqlWith(sql, { rules: allRules, ...options });
const lintMigrations = (files: Parameters<typeof lintMigrationsWith>[0], options: LintOptions = {}) => lintMigrationsWith(files, { rules: allRules, ...options });

/** The timeouts a safe migration sets, on one line so that line numbers below stay simple. */
const SAFE_PREFIX = "SET lock_timeout = '2s'; SET statement_timeout = '5min';\n";

test('every rule has an id, a category, a message and a safe alternative, and ids are unique', () => {
  const ids = allRules.map((rule) => rule.id);
  assert.equal(new Set(ids).size, ids.length);
  for (const rule of allRules) {
    assert.match(rule.id, /^[a-z]+(-[a-z]+)*$/);
    assert.ok(['compat', 'lock', 'rewrite', 'transaction', 'hygiene'].includes(rule.category), rule.id);
    assert.ok(rule.message.length > 20 && rule.safeAlternative.length > 20, rule.id);
    assert.ok(rule.nodeTypes.length > 0, rule.id);
  }
});

test('findings point at the line and character column, also after multi-byte text and without a final semicolon', async () => {
  const sql = "SELECT 'héllo wörld'; ALTER TABLE users DROP COLUMN email";
  const report = await lintSql(sql, { path: 'V3__x.sql' });
  const drop = report.findings.find((f) => f.ruleId === 'drop-column');
  assert.deepEqual([drop?.file, drop?.line, drop?.column], ['V3__x.sql', 1, 23]);
  assert.equal(drop?.sourceLine, sql);
  const constraint = (await lintSql(`${SAFE_PREFIX}-- über\nALTER TABLE orders\n  ADD CONSTRAINT qty CHECK (qty > 0);`)).findings.find(
    (f) => f.ruleId === 'check-without-not-valid',
  );
  assert.deepEqual([constraint?.line, constraint?.column], [4, 7]);
});

test('SQL that does not parse is a finding with file, line, column and the parser message', async () => {
  const report = await lintSql("SELECT 'ü';\nALTER TABLE users ADD COLUMN;\n", { path: 'V9__broken.sql' });
  assert.equal(report.errorCount, 1);
  const [finding] = report.findings;
  assert.deepEqual([finding?.ruleId, finding?.file, finding?.line, finding?.column], ['syntax-error', 'V9__broken.sql', 2, 29]);
  assert.match(finding?.message ?? '', /syntax error at or near ";"/);
});

test('an empty file or one with only comments has no statements and no findings', async () => {
  for (const sql of ['', '  \n', '-- nothing to do yet\n']) {
    const report = await lintSql(sql);
    assert.deepEqual([report.statementCount, report.findings.length], [0, 0]);
  }
});

test('an unreadable migration file is an error naming it', async () => {
  await assert.rejects(lintMigrations(['/nonexistent/V1__x.sql']), /cannot read migration \/nonexistent\/V1__x\.sql: ENOENT/);
});

test('a suppression on the line above, or on the same line, silences that statement only and keeps its reason', async () => {
  const sql = [
    SAFE_PREFIX.trim(),
    '-- ship:allow drop-column read path removed in release 41',
    '-- (see ticket 123)',
    'ALTER TABLE users DROP COLUMN email;',
    'ALTER TABLE users DROP COLUMN phone; -- ship:allow drop-column,rename-column unused since 2023',
    'ALTER TABLE users DROP COLUMN fax;',
  ].join('\n');
  const report = await lintSql(sql);
  assert.deepEqual(
    report.findings.filter((f) => f.ruleId === 'drop-column').map((f) => f.line),
    [6],
  );
  assert.deepEqual(
    report.suppressed.map((f) => [f.line, f.reason]),
    [
      [4, 'read path removed in release 41'],
      [5, 'unused since 2023'],
    ],
  );
});

test('a suppression separated from the statement by a blank line does not apply, and is reported unused', async () => {
  const report = await lintSql(`${SAFE_PREFIX}-- ship:allow drop-column not here\n\nALTER TABLE users DROP COLUMN email;`);
  assert.deepEqual(report.findings.map((f) => [f.ruleId, f.severity, f.line]).sort(), [
    ['drop-column', 'error', 4],
    ['unused-suppression', 'warning', 2],
  ]);
});

test('a file-level suppression covers every statement of the file', async () => {
  const report = await lintSql(
    `-- ship:allow-file require-lock-timeout runner sets lock_timeout for the session\nALTER TABLE a ADD COLUMN x int;\nALTER TABLE b ADD COLUMN y int;`,
  );
  assert.deepEqual(report.findings, []);
  assert.equal(report.suppressed.length, 2);
});

test('a suppression without a reason, with an unknown rule id or an unknown directive is an error', async () => {
  const report = await lintSql(['-- ship:allow drop-column', '-- ship:allow no-such-rule because', '-- ship:ignore drop-column x', '-- ship:allow-file', 'SELECT 1;'].join('\n'));
  const problems = report.findings.filter((f) => f.ruleId === 'invalid-suppression');
  assert.deepEqual(
    problems.map((f) => [f.line, f.severity]),
    [
      [1, 'error'],
      [2, 'error'],
      [3, 'error'],
      [4, 'error'],
    ],
  );
  assert.match(problems[0]?.message ?? '', /has no reason/);
  assert.match(problems[1]?.message ?? '', /unknown rule id "no-such-rule"/);
  assert.match(problems[2]?.message ?? '', /unknown directive "ship:ignore"/);
  assert.equal(report.errorCount, 4);
});

test('context: lock rules skip tables created earlier in the same file, not in another file', async () => {
  const create = { path: 'V1__create.sql', sql: 'CREATE TABLE widgets (id int);\nCREATE INDEX widgets_id ON widgets (id);' };
  const index = { path: 'V2__index.sql', sql: 'CREATE INDEX widgets_id2 ON widgets (id);' };
  const report = await lintMigrations([create, index]);
  assert.deepEqual(
    report.findings.map((f) => [f.file, f.ruleId]),
    // A CREATE INDEX waits for SHARE, which blocks writes while it waits: it also needs a lock_timeout.
    [
      ['V2__index.sql', 'create-index-without-concurrently'],
      ['V2__index.sql', 'require-lock-timeout'],
    ],
  );
});

test('context: the PostgreSQL version setting changes what is flagged', async () => {
  const sql = `${SAFE_PREFIX}ALTER TABLE users ADD COLUMN status text DEFAULT 'active';`;
  assert.equal((await lintSql(sql, { pgVersion: 15 })).findings.length, 0);
  assert.deepEqual(
    (await lintSql(sql, { pgVersion: 10 })).findings.map((f) => f.ruleId),
    ['add-column-volatile-default'],
  );
});

test('the report counts errors and warnings, and statements', async () => {
  const report = await lintSql(`${SAFE_PREFIX}ALTER TABLE users ALTER COLUMN a DROP NOT NULL;\nALTER TABLE users DROP COLUMN b;`);
  assert.deepEqual([report.statementCount, report.errorCount, report.warningCount], [4, 1, 1]);
});

test('text output shows the offending line with a caret under the column, and the safe alternative', async () => {
  const report = await lintSql(`${SAFE_PREFIX}ALTER TABLE orders\n\tADD CONSTRAINT qty CHECK (qty > 0);`, { path: 'db/V2__qty.sql' });
  const text = formatText(report);
  assert.match(text, /^db\/V2__qty\.sql:3:6: error \[check-without-not-valid\] \(lock\)$/m);
  assert.ok(text.includes('  3 | \tADD CONSTRAINT qty CHECK (qty > 0);\n    | \t    ^\n'), text);
  assert.match(text, /Safe alternative:\n {4}1\. /);
  assert.match(text, /1 error, 0 warnings in 1 file \(3 statements checked\)\n$/);
});

test('github output is one workflow command per finding, with properties and data escaped', async () => {
  const report = await lintSql(`${SAFE_PREFIX}ALTER TABLE users DROP COLUMN "a,b";`, { path: 'db/V1__x,y.sql' });
  const [line] = formatGithub(report).split('\n');
  assert.match(line ?? '', /^::error file=db\/V1__x%2Cy\.sql,line=2,col=1,title=drop-column \(compat\)::Dropping column "a,b"/);
  assert.ok(!(line ?? '').slice(2).includes('\n'));
  assert.match(line ?? '', /%0ASafe alternative:%0A1\. /);
});

test('json output is the report itself', async () => {
  const report = await lintSql('ALTER TABLE users DROP COLUMN email;');
  assert.deepEqual(JSON.parse(formatJson(report)), JSON.parse(JSON.stringify(report)));
});

/** A rule that finds nothing and hands each statement that reaches it to `record` (not a hygiene rule: those judge only when turned on). */
function probeRule<K extends NodeTypeName>(type: K, record: (statement: Statement<K>) => void, alterTableCommands?: readonly AlterTableCommandKind[]): LintRule<K> {
  return {
    id: 'probe',
    category: 'lock',
    severity: 'warning',
    message: 'a rule that records what reaches it',
    safeAlternative: 'nothing to do: this rule only records the statements it is asked about',
    nodeTypes: [type],
    ...(alterTableCommands ? { alterTableCommands } : {}),
    check(statement) {
      record(statement);
      return [];
    },
  };
}

test('an ALTER TABLE reaches a rule that names its commands only when it has one of them, also as a constraint of an added column', async () => {
  const seen: string[] = [];
  const probe = probeRule('AlterTableStmt', (statement) => seen.push(statement.node.relation?.relname ?? '?'), ['AT_DropColumn', 'CONSTR_FOREIGN']);
  await lintSql(
    [
      'ALTER TABLE plain ADD COLUMN a int;',
      'ALTER TABLE dropping ADD COLUMN b int, DROP COLUMN c;',
      'ALTER TABLE keyed ADD COLUMN d bigint REFERENCES users (id);',
      'ALTER TABLE constrained ADD CONSTRAINT fk FOREIGN KEY (e) REFERENCES users (id);',
      'ALTER TABLE checked ADD CONSTRAINT positive CHECK (f > 0);',
    ].join('\n'),
    { rules: [probe] },
  );
  assert.deepEqual(seen, ['dropping', 'keyed', 'constrained']);
});

test('a CREATE TABLE read lazily still tells its table, columns and place: quoted names, schemas, first and last statements', async () => {
  const seen: Array<[string, number, number, number]> = [];
  const probe = probeRule('CreateStmt', (statement) =>
    seen.push([statement.node.relation?.relname ?? '?', statement.node.tableElts?.length ?? 0, statement.offset, statement.length]),
  );
  const sql = 'CREATE TABLE "odd}name" (id int, "b}" text);\nCREATE TABLE app.events (id int);\nCREATE TABLE last (a int, b int, c int)';
  await lintSql(sql, { rules: [probe] });
  assert.deepEqual(seen, [
    ['odd}name', 2, 0, 43],
    ['events', 1, 45, 32],
    ['last', 3, 79, sql.length - 79],
  ]);
  // Tables created in the file are exempt from lock rules; the same name in another schema is not.
  const indexes = await lintSql(`${sql};\nCREATE INDEX ON "odd}name" (id);\nCREATE INDEX ON app.events (id);\nCREATE INDEX ON events (id);`);
  assert.deepEqual(
    indexes.findings.map((f) => [f.ruleId, f.line]),
    [
      ['create-index-without-concurrently', 6],
      ['require-lock-timeout', 6],
    ],
  );
});

test('column types declared by CREATE TABLE follow the table through a rename into later migrations', async () => {
  const history = [{ path: 'V1.sql', sql: 'CREATE TABLE "a}" (code varchar(5));\nALTER TABLE "a}" RENAME TO b;' }];
  assert.deepEqual((await lintSql(`${SAFE_PREFIX}ALTER TABLE b ALTER COLUMN code TYPE text;`, { history })).findings, []);
  const narrowed = await lintSql(`${SAFE_PREFIX}ALTER TABLE b ALTER COLUMN code TYPE varchar(2);`, { history });
  assert.deepEqual(
    narrowed.findings.map((f) => f.ruleId),
    ['change-column-type'],
  );
  assert.match(narrowed.findings[0]?.message ?? '', /from varchar\(5\) to varchar\(2\)/);
});

test('the engine judges with the rules it is given and no others', async () => {
  const sql = 'ALTER TABLE users DROP COLUMN email;';
  assert.ok((await lintSql(sql)).findings.some((f) => f.ruleId === 'drop-column'));
  assert.deepEqual((await lintSqlWith(sql, { rules: [] })).findings, []);
});

test('hygiene rules judge only when the project turns them on; a suppression naming one is neither unknown nor unused while they are off', async () => {
  const seen: string[] = [];
  const hygiene: LintRule<'CreateStmt'> = {
    ...probeRule('CreateStmt', (statement) => seen.push(statement.node.relation?.relname ?? '?')),
    id: 'style-probe',
    category: 'hygiene',
  };
  const sql = '-- ship:allow style-probe legacy naming\nCREATE TABLE a (id bigint);';
  const off = await lintSqlWith(sql, { rules: [hygiene] });
  assert.deepEqual([seen, off.findings], [[], []]);
  await lintSqlWith(sql, { rules: [hygiene], hygiene: true });
  assert.deepEqual(seen, ['a']);
  // The same rule set, the other way round: each setting has its own dispatch.
  await lintSqlWith(sql, { rules: [hygiene] });
  assert.deepEqual(seen, ['a']);
});

test('a rule that judges the whole file reports at the end of the file, at the offset it names, and can be suppressed there', async () => {
  const wholeFile: LintRule<'TransactionStmt'> = {
    ...probeRule('TransactionStmt', () => {}),
    id: 'file-probe',
    atEndOfFile: (context) => (context.transactionBegunAt === undefined ? [] : [{ message: 'still open', offset: context.transactionBegunAt }]),
  };
  const open = await lintSqlWith('SELECT 1;\nBEGIN;\nSELECT 2;', { rules: [wholeFile] });
  assert.deepEqual(
    open.findings.map((f) => [f.ruleId, f.line, f.column, f.message]),
    [['file-probe', 2, 1, 'still open']],
  );
  const suppressed = await lintSqlWith('SELECT 1;\n-- ship:allow file-probe the runner commits\nBEGIN;\nSELECT 2;', { rules: [wholeFile] });
  assert.deepEqual([suppressed.findings, suppressed.suppressed.map((f) => f.line)], [[], [3]]);
  assert.deepEqual((await lintSqlWith('BEGIN;\nSELECT 2;\nCOMMIT;', { rules: [wholeFile] })).findings, []);
});

test('--trace takes as judged only the locks of statement types a rule judges for their effect: not those only hygiene rules read, nor data statements', () => {
  const judged = judgedNodeTypes(allRules);
  assert.ok(judged.has('AlterTableStmt') && judged.has('IndexStmt'));
  // Hygiene rules read statements for their style, not their locks: none of what they read counts as judged.
  assert.deepEqual([...judgedNodeTypes(allRules.filter((rule) => rule.category === 'hygiene'))], []);
  // An UPDATE's blocking locks come from triggers, which unbatched-backfill does not see.
  assert.ok(!judged.has('UpdateStmt') && !judged.has('DeleteStmt'));
});
