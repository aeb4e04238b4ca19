import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './prefer-bigint-for-keys.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { hygiene: true, ...options, rules: [rule] });
  // SQL that does not parse would pass every "passes on" test: make it fail them instead.
  assert.deepEqual(
    report.findings.filter((finding) => finding.ruleId === 'syntax-error'),
    [],
  );
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags integer primary keys, foreign keys, identity and serial columns, declared on the column or the table', async () => {
  const found = await findings(`CREATE TABLE orders (
  id integer GENERATED ALWAYS AS IDENTITY,
  user_id int REFERENCES users (id),
  shop_id int4,
  legacy serial,
  PRIMARY KEY (id),
  FOREIGN KEY (shop_id) REFERENCES shops (id)
);
ALTER TABLE orders ADD COLUMN coupon_id integer, ADD CONSTRAINT orders_coupon FOREIGN KEY (coupon_id) REFERENCES coupons (id);
ALTER TABLE items ADD COLUMN order_id int NOT NULL REFERENCES orders (id);`);
  assert.deepEqual(
    found.map((f) => [f.line, f.message.match(/integer (.*?):/)?.[1]]),
    [
      [2, 'identity column'],
      [3, 'foreign key'],
      [4, 'foreign key'],
      [5, 'serial column'],
      [9, 'foreign key'],
      [10, 'foreign key'],
    ],
  );
  assert.match(found[0]?.message ?? '', /Column "id" of "orders" is a 4-byte integer identity column/);
});

test('passes on bigint keys, integer columns that are no keys, smallint lookup keys and integer arrays', async () => {
  assert.deepEqual(
    await findings(`CREATE TABLE orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, user_id bigint REFERENCES users (id), quantity integer, tags int[]);
CREATE TABLE countries (id smallint PRIMARY KEY, name text);
ALTER TABLE orders ADD COLUMN total_cents integer;`),
    [],
  );
});

test('is a hygiene rule: silent unless the project turns hygiene on', async () => {
  assert.deepEqual(await findings('CREATE TABLE users (id int PRIMARY KEY);', { hygiene: false }), []);
});
