import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSql, type LintOptions } from '../src/lint/engine.js';
import rule from './require-lock-timeout.js';

async function findings(sql: string, options: LintOptions = {}) {
  const report = await lintSql(sql, { ...options, rules: [rule] });
  return report.findings.filter((finding) => finding.ruleId === rule.id);
}

test('flags ALTER TABLE without lock_timeout', async () => {
  const found = await findings(`ALTER TABLE users ADD COLUMN nickname text;`);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.equal(found[0]?.line, 1);
  assert.ok(found[0]?.message.includes('"users"'), found[0]?.message);
});

test('flags DROP TABLE and TRUNCATE without lock_timeout', async () => {
  const found = await findings(`DROP TABLE old;
TRUNCATE sessions;`);
  assert.equal(found.length, 2, JSON.stringify(found));
});

test('passes after SET lock_timeout', async () => {
  assert.deepEqual(
    await findings(`SET lock_timeout = '2s';
ALTER TABLE users ADD COLUMN nickname text;`),
    [],
  );
});

test('passes after SET LOCAL inside the transaction', async () => {
  assert.deepEqual(
    await findings(`BEGIN;
SET LOCAL lock_timeout = '2s';
ALTER TABLE users ADD COLUMN nickname text;
COMMIT;`),
    [],
  );
});

test('flags again once SET LOCAL ends with the transaction', async () => {
  const found = await findings(`BEGIN;
SET LOCAL lock_timeout = '2s';
COMMIT;
ALTER TABLE users ADD COLUMN nickname text;`);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.equal(found[0]?.line, 4);
});

test('flags after lock_timeout is reset to 0', async () => {
  const found = await findings(`SET lock_timeout = '2s';
SET lock_timeout = 0;
ALTER TABLE users DROP COLUMN a;`);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.equal(found[0]?.line, 3);
});

test('passes on locks that block no write while they wait', async () => {
  assert.deepEqual(
    await findings(`ALTER TABLE orders VALIDATE CONSTRAINT fk;
CREATE INDEX CONCURRENTLY i ON users (a);
DROP INDEX CONCURRENTLY j;
REINDEX INDEX CONCURRENTLY k;
ALTER TABLE orders SET (autovacuum_vacuum_scale_factor = 0.01), ALTER COLUMN a SET STATISTICS 500;
ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY;
ALTER INDEX i RENAME TO j;
VACUUM ANALYZE users;
REFRESH MATERIALIZED VIEW CONCURRENTLY totals;
LOCK TABLE users IN SHARE UPDATE EXCLUSIVE MODE;`),
    [],
  );
});

test('flags locks that block writes while they wait, not only ACCESS EXCLUSIVE', async () => {
  const statements = [
    ['CREATE INDEX i ON users (a);', 'SHARE on "users"'],
    ['ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES users (id) NOT VALID;', 'SHARE ROW EXCLUSIVE on "orders", SHARE ROW EXCLUSIVE on "users"'],
    ['ALTER TABLE orders DISABLE TRIGGER audit;', 'SHARE ROW EXCLUSIVE on "orders"'],
    ['ALTER TABLE orders ENABLE ALWAYS TRIGGER audit;', 'SHARE ROW EXCLUSIVE on "orders"'],
    ['CREATE TRIGGER audit AFTER UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION audit();', 'SHARE ROW EXCLUSIVE on "orders"'],
    ['LOCK TABLE users IN EXCLUSIVE MODE;', 'EXCLUSIVE on "users"'],
    ['LOCK TABLE users IN SHARE MODE;', 'SHARE on "users"'],
    ['ALTER SEQUENCE orders_id_seq RESTART WITH 1000;', 'SHARE ROW EXCLUSIVE on "orders_id_seq"'],
    ['ALTER DOMAIN email VALIDATE CONSTRAINT email_check;', 'SHARE on tables the statement does not name'],
  ];
  for (const [sql, lock] of statements) {
    const found = await findings(sql as string);
    assert.equal(found.length, 1, sql);
    assert.ok(found[0]?.message.includes(`waits for ${lock};`), found[0]?.message);
    assert.match(found[0]?.message ?? '', /blocks every write there/, sql);
  }
  const reindex = await findings('REINDEX TABLE users;');
  assert.match(reindex[0]?.message ?? '', /SHARE on "users", ACCESS EXCLUSIVE on the indexes of "users".*every read and write/);
});

test('flags a new table that takes a lock on a live one: a foreign key to it, a partition of it', async () => {
  const referencing = await findings(`CREATE TABLE items (id int PRIMARY KEY, order_id int REFERENCES orders (id), parent int REFERENCES items (id));`);
  assert.equal(referencing.length, 1);
  assert.match(referencing[0]?.message ?? '', /SHARE ROW EXCLUSIVE on "orders";/);
  const partition = await findings(`CREATE TABLE events_2030 PARTITION OF events FOR VALUES FROM ('2030-01-01') TO ('2031-01-01');`);
  assert.match(partition[0]?.message ?? '', /ACCESS EXCLUSIVE on "events".*every read and write/);
  const added = await findings(`CREATE TABLE items (id int, order_id int);\nALTER TABLE items ADD FOREIGN KEY (order_id) REFERENCES orders (id);`);
  assert.equal(added.length, 1);
  assert.match(added[0]?.message ?? '', /SHARE ROW EXCLUSIVE on "orders";/);
  assert.deepEqual(await findings(`CREATE TABLE plain (id int PRIMARY KEY, name text);\nCREATE TABLE child (id int) INHERITS (plain);`), []);
});

test('passes on a statement that will not queue: NOWAIT, SKIP_LOCKED', async () => {
  assert.deepEqual(await findings(`LOCK TABLE users IN ACCESS EXCLUSIVE MODE NOWAIT;\nVACUUM (FULL, SKIP_LOCKED) users;`), []);
});

test('passes on a sequence created earlier in the file', async () => {
  assert.deepEqual(await findings(`CREATE SEQUENCE public.users_id_seq;\nALTER SEQUENCE public.users_id_seq OWNED BY public.users.id;`), []);
});

test('passes on an index created earlier in the file', async () => {
  assert.deepEqual(await findings(`CREATE TABLE t (a int);\nCREATE INDEX t_a ON t (a);\nREINDEX INDEX t_a;\nDROP INDEX t_a;`), []);
});

test('passes on a table created in the same migration', async () => {
  assert.deepEqual(
    await findings(`CREATE TABLE t (a int);
ALTER TABLE t ADD COLUMN b int;`),
    [],
  );
});

test('with lockTimeoutPreset (the runner sets one) a file starts with a lock_timeout in force', async () => {
  assert.deepEqual(await findings('ALTER TABLE users ADD COLUMN nickname text;', { lockTimeoutPreset: true }), []);
  assert.deepEqual(await findings('BEGIN;\nALTER TABLE users ADD COLUMN nickname text;\nCOMMIT;', { lockTimeoutPreset: true, transactionPerFile: true }), []);
});

test('with lockTimeoutPreset, a file that turns lock_timeout off (0, DEFAULT, RESET, RESET ALL) is flagged after it', async () => {
  for (const off of ['SET lock_timeout = 0;', "SET lock_timeout TO '0s';", 'SET lock_timeout TO DEFAULT;', 'RESET lock_timeout;', 'RESET ALL;']) {
    const found = await findings(`ALTER TABLE users ADD COLUMN a int;\n${off}\nALTER TABLE users ADD COLUMN b int;`, { lockTimeoutPreset: true });
    assert.deepEqual(
      found.map((finding) => finding.line),
      [3],
      off,
    );
  }
  // SET LOCAL turns it off for its transaction only; the runner's setting is back after it.
  const local = await findings('BEGIN;\nSET LOCAL lock_timeout = 0;\nALTER TABLE users ADD COLUMN a int;\nCOMMIT;\nALTER TABLE users ADD COLUMN b int;', {
    lockTimeoutPreset: true,
  });
  assert.deepEqual(
    local.map((finding) => finding.line),
    [3],
  );
});

test('RESET ALL also ends a lock_timeout the file set itself', async () => {
  const found = await findings("SET lock_timeout = '2s';\nRESET ALL;\nALTER TABLE users DROP COLUMN a;");
  assert.deepEqual(
    found.map((finding) => finding.line),
    [3],
  );
});

test('reads the value of FULL and CONCURRENTLY: false is not the option', async () => {
  assert.equal((await findings(`REINDEX (CONCURRENTLY false) TABLE users;`)).length, 1);
  assert.deepEqual(await findings(`REINDEX (CONCURRENTLY 1) TABLE users;`), []);
  assert.deepEqual(await findings(`VACUUM (FULL 'off') users;`), []);
  assert.equal((await findings(`VACUUM (FULL on) users;`)).length, 1);
});

test('flags attaching an index built in the file on a live partition: the planner opens it for every query there', async () => {
  const found = await findings(`CREATE INDEX CONCURRENTLY events_2030_a ON events_2030 (a);\nALTER INDEX events_a ATTACH PARTITION events_2030_a;`);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.match(found[0]?.message ?? '', /ACCESS EXCLUSIVE on index "events_2030_a"/);
});
