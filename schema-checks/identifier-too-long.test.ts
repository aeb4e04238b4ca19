import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './identifier-too-long.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { hygiene: true, ...options, rules: [rule] });
  // SQL that does not parse would pass every "passes on" test: make it fail them instead.
  assert.deepEqual(
    report.findings.filter((finding) => finding.ruleId === 'syntax-error'),
    [],
  );
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

const LONG = 'orders_customer_id_created_at_status_partial_covering_index_v2'; // 62 bytes: allowed
const TOO_LONG = `${LONG}_b`; // 64 bytes

test('flags a name over 63 bytes where it is defined, with its length and what it becomes', async () => {
  assert.equal(Buffer.byteLength(TOO_LONG), 64);
  const found = await findings(`CREATE INDEX CONCURRENTLY ${TOO_LONG} ON orders (customer_id);`);
  assert.deepEqual(
    found.map((f) => [f.line, f.column]),
    [[1, 27]],
  );
  assert.match(found[0]?.message ?? '', new RegExp(`${TOO_LONG} is 64 bytes: PostgreSQL cuts it to "${TOO_LONG.slice(0, 63)}" \\(63 bytes\\)`));
});

test('counts bytes, not characters: 40 accented letters are 80 bytes', async () => {
  const name = 'é'.repeat(40);
  const found = await findings(`CREATE TABLE t ("${name}" int, "Ölçüm" int);`);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.match(found[0]?.message ?? '', new RegExp(`"${name}" is 80 bytes: PostgreSQL cuts it to "${'é'.repeat(31)}" \\(62 bytes\\)`));
  assert.equal(found[0]?.column, 17);
});

test('flags tables, columns, constraints, renames, views, functions, triggers and types', async () => {
  const n = (kind: string) => `${kind}_${'x'.repeat(64)}`;
  const found = await findings(`CREATE TABLE ${n('table')} (${n('column')} int CONSTRAINT ${n('check')} CHECK (true));
ALTER TABLE orders ADD COLUMN ${n('added')} int, ADD CONSTRAINT ${n('fk')} FOREIGN KEY (a) REFERENCES b (id);
ALTER TABLE orders RENAME COLUMN a TO ${n('renamed')};
CREATE VIEW ${n('view')} AS SELECT 1;
CREATE FUNCTION ${n('fn')}() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;
CREATE TRIGGER ${n('trigger')} BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION f();
CREATE TYPE ${n('mood')} AS ENUM ('happy');
CREATE SEQUENCE ${n('seq')};`);
  assert.deepEqual(
    found.map((f) => f.message.split('_')[0]),
    ['table', 'column', 'check', 'added', 'fk', 'renamed', 'view', 'fn', 'trigger', 'mood', 'seq'],
  );
});

test('passes on names of 63 bytes, on long names only referred to, and on long strings and comments', async () => {
  assert.deepEqual(
    await findings(`-- ${TOO_LONG} in a comment
CREATE INDEX ${LONG}x ON ${TOO_LONG} (a);
CREATE TABLE t (a text DEFAULT '${TOO_LONG}', b text DEFAULT $$${TOO_LONG}$$) /* ${TOO_LONG} */;
ALTER TABLE ${TOO_LONG} ADD COLUMN c int;`),
    [],
  );
});

test('is a hygiene rule: silent unless the project turns hygiene on', async () => {
  assert.deepEqual(await findings(`CREATE TABLE ${TOO_LONG} (a int);`, { hygiene: false }), []);
});
