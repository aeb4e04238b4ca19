import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blockedWhileQueued, conflicts, LOCK_MODES, LOCKING_NODE_TYPES, type LockingStatement, locksTakenBy } from '../../src/lint/locks.js';
import { loadParser, parseSqlToJson } from '../../src/lint/parser.js';
import { readStatements } from '../../src/lint/statements.js';

/** Each lock of the statement as `mode kind relation`, the way the tables below read. */
async function locks(sql: string, pgVersion = 17): Promise<string[]> {
  const [statement] = readStatements(parseSqlToJson(await loadParser(), sql), Buffer.byteLength(sql), new Set(LOCKING_NODE_TYPES));
  assert.ok(statement, `${sql} is not a locking statement`);
  return locksTakenBy(statement as LockingStatement, pgVersion).map(
    (lock) => `${lock.mode} ${lock.kind} ${lock.relation ? [lock.relation.schema, lock.relation.name].filter(Boolean).join('.') : '?'}${lock.nowait ? ' nowait' : ''}`,
  );
}

test("the conflict table is PostgreSQL's: symmetric, and ROW EXCLUSIVE (writes) conflicts with SHARE and stronger", () => {
  for (const a of LOCK_MODES) for (const b of LOCK_MODES) assert.equal(conflicts(a, b), conflicts(b, a), `${a} / ${b}`);
  assert.deepEqual(
    LOCK_MODES.filter((mode) => conflicts(mode, 'ROW EXCLUSIVE')),
    ['SHARE', 'SHARE ROW EXCLUSIVE', 'EXCLUSIVE', 'ACCESS EXCLUSIVE'],
  );
  assert.deepEqual(
    LOCK_MODES.filter((mode) => conflicts(mode, 'ACCESS SHARE')),
    ['ACCESS EXCLUSIVE'],
  );
  assert.equal(conflicts('SHARE', 'SHARE'), false);
  assert.equal(conflicts('SHARE UPDATE EXCLUSIVE', 'SHARE UPDATE EXCLUSIVE'), true);
});

test('what a queued lock blocks: reads and writes, writes, or nothing; a materialized view is only read', () => {
  assert.equal(blockedWhileQueued({ relation: undefined, kind: 'table', mode: 'ACCESS EXCLUSIVE' }), 'reads and writes');
  assert.equal(blockedWhileQueued({ relation: undefined, kind: 'table', mode: 'SHARE' }), 'writes');
  assert.equal(blockedWhileQueued({ relation: undefined, kind: 'table', mode: 'SHARE UPDATE EXCLUSIVE' }), undefined);
  assert.equal(blockedWhileQueued({ relation: undefined, kind: 'matview', mode: 'EXCLUSIVE' }), undefined);
  assert.equal(blockedWhileQueued({ relation: undefined, kind: 'matview', mode: 'ACCESS EXCLUSIVE' }), 'reads and writes');
});

const TABLE: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['ALTER TABLE t ADD COLUMN a int', ['ACCESS EXCLUSIVE table t']],
  ['ALTER TABLE s.t DROP COLUMN a', ['ACCESS EXCLUSIVE table s.t']],
  ['ALTER TABLE t ALTER COLUMN a SET NOT NULL', ['ACCESS EXCLUSIVE table t']],
  ['ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID', ['ACCESS EXCLUSIVE table t']],
  ['ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES u (id) NOT VALID', ['SHARE ROW EXCLUSIVE table t', 'SHARE ROW EXCLUSIVE table u']],
  ['ALTER TABLE t ADD COLUMN a int REFERENCES u (id)', ['ACCESS EXCLUSIVE table t', 'SHARE ROW EXCLUSIVE table u']],
  ['ALTER TABLE t VALIDATE CONSTRAINT fk', ['SHARE UPDATE EXCLUSIVE table t']],
  ['ALTER TABLE t ENABLE TRIGGER tr', ['SHARE ROW EXCLUSIVE table t']],
  ['ALTER TABLE t DISABLE TRIGGER ALL', ['SHARE ROW EXCLUSIVE table t']],
  ['ALTER TABLE t DISABLE TRIGGER USER, VALIDATE CONSTRAINT c', ['SHARE ROW EXCLUSIVE table t']],
  ['ALTER TABLE t ALTER COLUMN a SET STATISTICS 1000', ['SHARE UPDATE EXCLUSIVE table t']],
  ['ALTER TABLE t SET (fillfactor = 70, toast.autovacuum_enabled = false)', ['SHARE UPDATE EXCLUSIVE table t']],
  ['ALTER TABLE t SET (user_catalog_table = true)', ['ACCESS EXCLUSIVE table t']],
  ['ALTER VIEW v SET (security_barrier)', ['ACCESS EXCLUSIVE view v']],
  ['ALTER TABLE t CLUSTER ON t_pkey', ['SHARE UPDATE EXCLUSIVE table t']],
  ['ALTER TABLE t ADD CONSTRAINT u UNIQUE USING INDEX i', ['ACCESS EXCLUSIVE table t']],
  ['ALTER TABLE p ATTACH PARTITION p1 FOR VALUES IN (1)', ['SHARE UPDATE EXCLUSIVE table p', 'ACCESS EXCLUSIVE table p1']],
  ['ALTER TABLE p DETACH PARTITION p1', ['ACCESS EXCLUSIVE table p', 'ACCESS EXCLUSIVE table p1']],
  ['ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY', ['SHARE UPDATE EXCLUSIVE table p', 'SHARE UPDATE EXCLUSIVE table p1']],
  ['ALTER INDEX i SET TABLESPACE fast', ['ACCESS EXCLUSIVE index i']],
  ['ALTER INDEX i ATTACH PARTITION i1', ['SHARE UPDATE EXCLUSIVE index i', 'ACCESS EXCLUSIVE index i1']],
  ['ALTER TABLE t OWNER TO app', ['ACCESS EXCLUSIVE table t']],
  ['CREATE TABLE t (a int)', []],
  ['CREATE TABLE t (a int REFERENCES u, b int, FOREIGN KEY (b) REFERENCES s.v (id), c int REFERENCES t)', ['SHARE ROW EXCLUSIVE table u', 'SHARE ROW EXCLUSIVE table s.v']],
  ['CREATE TABLE p1 PARTITION OF p FOR VALUES IN (1)', ['ACCESS EXCLUSIVE table p']],
  ['CREATE TABLE c (a int) INHERITS (p)', ['SHARE UPDATE EXCLUSIVE table p']],
  ['CREATE TABLE c (a int REFERENCES u) INHERITS (p)', ['SHARE UPDATE EXCLUSIVE table p', 'SHARE ROW EXCLUSIVE table u']],
  ['CREATE TABLE t (a int REFERENCES "we}ird", b int REFERENCES "s{"."u""}")', ['SHARE ROW EXCLUSIVE table we}ird', 'SHARE ROW EXCLUSIVE table s{.u"}']],
  [`CREATE TABLE t (a text CHECK (a <> '"pktable":{"relname":"x"}') REFERENCES u)`, ['SHARE ROW EXCLUSIVE table u']],
  ['CREATE TABLE s.t (a int REFERENCES s.t, b int REFERENCES t)', ['SHARE ROW EXCLUSIVE table t']],
  ['CREATE INDEX i ON t (a)', ['SHARE table t']],
  ['CREATE UNIQUE INDEX CONCURRENTLY i ON t (a)', ['SHARE UPDATE EXCLUSIVE table t']],
  ['CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()', ['SHARE ROW EXCLUSIVE table t']],
  ['DROP TABLE t, s.u', ['ACCESS EXCLUSIVE table t', 'ACCESS EXCLUSIVE table s.u']],
  ['DROP VIEW v', ['ACCESS EXCLUSIVE view v']],
  ['DROP MATERIALIZED VIEW m', ['ACCESS EXCLUSIVE matview m']],
  ['DROP SEQUENCE q', ['ACCESS EXCLUSIVE sequence q']],
  ['DROP INDEX i', ['ACCESS EXCLUSIVE index i']],
  ['DROP INDEX CONCURRENTLY i', ['SHARE UPDATE EXCLUSIVE index i']],
  ['DROP TRIGGER tr ON s.t', ['ACCESS EXCLUSIVE table s.t']],
  ['DROP POLICY p ON t', ['ACCESS EXCLUSIVE table t']],
  ['DROP SCHEMA s CASCADE', ['ACCESS EXCLUSIVE table ?']],
  ['DROP SCHEMA s', []],
  ['DROP TYPE mood', []],
  ['ALTER TABLE t RENAME TO u', ['ACCESS EXCLUSIVE table t']],
  ['ALTER TABLE t RENAME COLUMN a TO b', ['ACCESS EXCLUSIVE table t']],
  ['ALTER MATERIALIZED VIEW m RENAME COLUMN a TO b', ['ACCESS EXCLUSIVE matview m']],
  ['ALTER TABLE t RENAME CONSTRAINT c TO d', ['ACCESS EXCLUSIVE table t']],
  ['ALTER TRIGGER tr ON t RENAME TO x', ['ACCESS EXCLUSIVE table t']],
  ['ALTER INDEX i RENAME TO j', ['SHARE UPDATE EXCLUSIVE index i']],
  ['ALTER TYPE mood RENAME TO feeling', []],
  ['ALTER TABLE t SET SCHEMA archive', ['ACCESS EXCLUSIVE table t']],
  ['TRUNCATE t, u', ['ACCESS EXCLUSIVE table t', 'ACCESS EXCLUSIVE table u']],
  ['VACUUM t', ['SHARE UPDATE EXCLUSIVE table t']],
  ['VACUUM (FULL false) t', ['SHARE UPDATE EXCLUSIVE table t']],
  ['VACUUM FULL t', ['ACCESS EXCLUSIVE table t']],
  ['VACUUM FULL', ['ACCESS EXCLUSIVE table ?']],
  ['VACUUM (FULL, SKIP_LOCKED) t', ['ACCESS EXCLUSIVE table t nowait']],
  ['ANALYZE t', ['SHARE UPDATE EXCLUSIVE table t']],
  ['CLUSTER t USING t_pkey', ['ACCESS EXCLUSIVE table t']],
  ['CLUSTER', ['ACCESS EXCLUSIVE table ?']],
  ['REINDEX INDEX i', ['ACCESS EXCLUSIVE index i']],
  ['REINDEX TABLE t', ['SHARE table t', 'ACCESS EXCLUSIVE indexes t']],
  ['REINDEX (CONCURRENTLY) TABLE t', ['SHARE UPDATE EXCLUSIVE table t', 'SHARE UPDATE EXCLUSIVE indexes t']],
  ['REINDEX SCHEMA app', ['SHARE table ?', 'ACCESS EXCLUSIVE indexes ?']],
  ['LOCK TABLE t', ['ACCESS EXCLUSIVE table t']],
  ['LOCK TABLE t, u IN ROW EXCLUSIVE MODE', ['ROW EXCLUSIVE table t', 'ROW EXCLUSIVE table u']],
  ['LOCK TABLE t IN EXCLUSIVE MODE NOWAIT', ['EXCLUSIVE table t nowait']],
  ['REFRESH MATERIALIZED VIEW m', ['ACCESS EXCLUSIVE matview m']],
  ['REFRESH MATERIALIZED VIEW CONCURRENTLY m', ['EXCLUSIVE matview m']],
  ['CREATE POLICY p ON t USING (true)', ['ACCESS EXCLUSIVE table t']],
  ['ALTER POLICY p ON t USING (false)', ['ACCESS EXCLUSIVE table t']],
  ['CREATE RULE r AS ON INSERT TO t DO NOTHING', ['ACCESS EXCLUSIVE table t']],
  ['ALTER SEQUENCE q RESTART', ['SHARE ROW EXCLUSIVE sequence q']],
  ['ALTER DOMAIN d ADD CONSTRAINT c CHECK (VALUE > 0)', ['SHARE table ?']],
  ['ALTER DOMAIN d ADD CONSTRAINT c CHECK (VALUE > 0) NOT VALID', []],
  ['ALTER DOMAIN d VALIDATE CONSTRAINT c', ['SHARE table ?']],
  ['ALTER DOMAIN d SET NOT NULL', ['SHARE table ?']],
  ['ALTER DOMAIN d SET DEFAULT 0', []],
];

test('the lock each statement takes (statement → mode kind relation)', async () => {
  for (const [sql, expected] of TABLE) assert.deepEqual(await locks(sql), expected, sql);
});

test('a CREATE TABLE takes the same locks whether read from its JSON text or from its whole tree', async () => {
  // The text is read for the tables its foreign keys reference (statements.ts, DeferredCreateTable).
  for (const [sql, expected] of TABLE.filter(([sql]) => sql.startsWith('CREATE TABLE'))) {
    const [statement] = readStatements(parseSqlToJson(await loadParser(), sql), Buffer.byteLength(sql), new Set(LOCKING_NODE_TYPES));
    assert.ok(statement && statement.type === 'CreateStmt', sql);
    void statement.node;
    assert.deepEqual(
      locksTakenBy(statement as LockingStatement, 17).map((lock) => `${lock.mode} ${lock.kind} ${[lock.relation?.schema, lock.relation?.name].filter(Boolean).join('.')}`),
      expected,
      sql,
    );
  }
});

test('the lock depends on the PostgreSQL version where it changed: ATTACH PARTITION, ALTER INDEX RENAME (12)', async () => {
  assert.deepEqual(await locks('ALTER TABLE p ATTACH PARTITION p1 DEFAULT', 11), ['ACCESS EXCLUSIVE table p', 'ACCESS EXCLUSIVE table p1']);
  assert.deepEqual(await locks('ALTER INDEX i RENAME TO j', 11), ['ACCESS EXCLUSIVE index i']);
});
