import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './detach-partition-without-concurrently.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { ...options, rules: [rule] });
  // SQL that does not parse would pass every "passes on" test: make it fail them instead.
  assert.deepEqual(
    report.findings.filter((finding) => finding.ruleId === 'syntax-error'),
    [],
  );
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags DETACH PARTITION without CONCURRENTLY on PostgreSQL 14 and later, at the partition', async () => {
  const found = await findings('ALTER TABLE measurements\n  DETACH PARTITION archive.measurements_2020;', { pgVersion: 14 });
  assert.deepEqual(
    found.map((f) => [f.line, f.column]),
    [[2, 20]],
  );
  assert.match(found[0]?.message ?? '', /"archive"."measurements_2020" from "measurements"/);
});

test('passes on DETACH PARTITION ... CONCURRENTLY and ... FINALIZE', async () => {
  assert.deepEqual(await findings('ALTER TABLE measurements DETACH PARTITION measurements_2020 CONCURRENTLY;'), []);
  assert.deepEqual(await findings('ALTER TABLE measurements DETACH PARTITION measurements_2020 FINALIZE;'), []);
});

test('passes before PostgreSQL 14, which has no CONCURRENTLY to offer, and on a table created in the file', async () => {
  assert.deepEqual(await findings('ALTER TABLE measurements DETACH PARTITION measurements_2020;', { pgVersion: 13 }), []);
  assert.deepEqual(
    await findings(`CREATE TABLE m (at date) PARTITION BY RANGE (at);
CREATE TABLE m_2020 PARTITION OF m FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
ALTER TABLE m DETACH PARTITION m_2020;`),
    [],
  );
});
