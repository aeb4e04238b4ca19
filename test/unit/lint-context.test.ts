import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql as lintSqlWith, type LintOptions } from '../../src/lint/engine.js';
import { allRules } from '../../schema-checks/index.js';

/** What the context knows, seen through every rule of schema-checks/, as the CLI lints. */
const lintSql = (sql: string, options: LintOptions = {}) => lintSqlWith(sql, { rules: allRules, ...options });
const ruleIds = async (sql: string, options: LintOptions = {}) => (await lintSql(sql, options)).findings.map((f) => f.ruleId);

test('context: SELECT INTO, CREATE TABLE AS and a materialized view create tables the running code does not use yet', async () => {
  for (const create of [
    'SELECT * INTO t FROM old',
    'SELECT a INTO t FROM x UNION SELECT b FROM y',
    'CREATE TABLE t AS SELECT * FROM old',
    'CREATE MATERIALIZED VIEW t AS SELECT * FROM old',
  ]) {
    assert.deepEqual(await ruleIds(`${create};\nCREATE INDEX t_a ON t (a);\nREINDEX TABLE t;\nVACUUM FULL t;`), [], create);
  }
  assert.deepEqual(await ruleIds(`SELECT * INTO t FROM old;\nALTER TABLE t DROP COLUMN b, ALTER COLUMN c TYPE bigint;`), []);
});

test('context: nullability follows a table through a rename into later migrations, and is forgotten with the table', async () => {
  const history = [{ path: 'V1.sql', sql: 'CREATE TABLE a (x int, y int NOT NULL);\nALTER TABLE a RENAME TO b;' }];
  const prefix = "SET lock_timeout = '2s';\n";
  assert.deepEqual(await ruleIds(`${prefix}ALTER TABLE b ALTER COLUMN x DROP NOT NULL;`, { history }), []);
  assert.deepEqual(await ruleIds(`${prefix}ALTER TABLE b ALTER COLUMN y DROP NOT NULL;`, { history }), ['drop-not-null']);
  const dropped = [...history, { path: 'V2.sql', sql: 'DROP TABLE b;' }];
  assert.deepEqual(await ruleIds(`${prefix}ALTER TABLE b ALTER COLUMN x DROP NOT NULL;`, { history: dropped }), ['drop-not-null']);
});
