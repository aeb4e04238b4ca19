import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './foreign-key-without-not-valid.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { ...options, rules: [rule] });
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags a validated foreign key', async () => {
  const found = await findings(`ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id);`);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.equal(found[0]?.line, 1);
  assert.ok(found[0]?.message.includes('"orders_user_fk"'), found[0]?.message);
});

test('flags REFERENCES on an added column', async () => {
  const found = await findings(`ALTER TABLE orders ADD COLUMN user_id bigint REFERENCES users (id);`);
  assert.equal(found.length, 1, JSON.stringify(found));
});

test('passes with NOT VALID', async () => {
  assert.deepEqual(await findings(`ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;`), []);
});

test('passes on a table created in the same migration', async () => {
  assert.deepEqual(
    await findings(`CREATE TABLE t (a int);
ALTER TABLE t ADD FOREIGN KEY (a) REFERENCES users (id);`),
    [],
  );
});
