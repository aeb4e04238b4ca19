import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './index-too-many-columns.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { ...options, rules: [rule] });
  // SQL that does not parse would pass every "passes on" test: make it fail them instead.
  assert.deepEqual(
    report.findings.filter((finding) => finding.ruleId === 'syntax-error'),
    [],
  );
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags a non-unique btree index on four columns or expressions, concurrent or not', async () => {
  const found = await findings(`CREATE INDEX CONCURRENTLY orders_wide ON orders (account_id, status, created_at, kind);
CREATE INDEX ON orders USING btree (a, b, lower(c), (d + 1));`);
  assert.deepEqual(
    found.map((f) => [f.line, f.severity]),
    [
      [1, 'warning'],
      [2, 'warning'],
    ],
  );
  assert.match(found[0]?.message ?? '', /"orders_wide" on "orders" has 4 key columns/);
});

test('passes on three key columns with INCLUDE, on unique indexes, on GIN, and on an index shaped for an ORDER BY', async () => {
  assert.deepEqual(
    await findings(`CREATE INDEX CONCURRENTLY i ON orders (account_id, status, created_at) INCLUDE (kind, total);
CREATE UNIQUE INDEX CONCURRENTLY u ON orders (account_id, status, created_at, kind);
CREATE INDEX CONCURRENTLY g ON docs USING gin (a, b, c, d);
CREATE INDEX CONCURRENTLY page ON posts (community_id, featured DESC, score DESC, id DESC);
CREATE INDEX CONCURRENTLY page2 ON posts (community_id, featured, score, published NULLS LAST);`),
    [],
  );
});
