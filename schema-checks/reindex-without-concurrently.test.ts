import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './reindex-without-concurrently.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { ...options, rules: [rule] });
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags REINDEX', async () => {
  const found = await findings(`REINDEX INDEX users_email_idx;`);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.equal(found[0]?.line, 1);
});

test('flags REINDEX TABLE with other options', async () => {
  const found = await findings(`REINDEX (VERBOSE) TABLE users;`);
  assert.equal(found.length, 1, JSON.stringify(found));
});

test('passes with CONCURRENTLY', async () => {
  assert.deepEqual(await findings(`REINDEX TABLE CONCURRENTLY users;`), []);
});

test('flags CONCURRENTLY set to false, in any spelling', async () => {
  for (const off of ['false', "'false'", '0', 'off', "E'false'", "U&'false'"]) {
    assert.equal((await findings(`REINDEX (CONCURRENTLY ${off}) INDEX users_email_idx;`)).length, 1, off);
  }
});

test('passes with CONCURRENTLY set to true, in any spelling', async () => {
  for (const on of ['', ' true', " 'on'", ' 1']) assert.deepEqual(await findings(`REINDEX (CONCURRENTLY${on}) INDEX users_email_idx;`), [], on);
});

test('REINDEX SYSTEM and catalog indexes are flagged without suggesting CONCURRENTLY, which PostgreSQL refuses on them', async () => {
  for (const sql of ['REINDEX SYSTEM;', 'REINDEX SYSTEM app;', 'REINDEX TABLE pg_catalog.pg_class;', 'REINDEX INDEX pg_class_oid_index;', 'REINDEX SCHEMA pg_catalog;']) {
    const found = await findings(sql);
    assert.equal(found.length, 1, sql);
    assert.doesNotMatch(found[0]?.safeAlternative ?? '', /REINDEX \.\.\. CONCURRENTLY/, sql);
    assert.match(found[0]?.safeAlternative ?? '', /maintenance window/, sql);
  }
  const user = await findings('REINDEX SCHEMA app;');
  assert.match(user[0]?.safeAlternative ?? '', /CONCURRENTLY/);
  assert.match(user[0]?.message ?? '', /SCHEMA "app"/);
});

test('passes on an index or table created earlier in the file', async () => {
  assert.deepEqual(await findings(`CREATE TABLE t (a int);\nCREATE INDEX t_a ON t (a);\nREINDEX INDEX t_a;\nREINDEX TABLE t;`), []);
});

test('flags an index created earlier in the file on a live table', async () => {
  assert.equal((await findings(`CREATE INDEX CONCURRENTLY users_a ON users (a);\nREINDEX INDEX users_a;`)).length, 1);
});
