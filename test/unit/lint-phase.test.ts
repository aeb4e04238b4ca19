import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintMigrations } from '../../src/lint/engine.js';
import { PARALLEL_MIN_BYTES } from '../../src/lint/parallel.js';
import type { MigrationSource } from '../../src/lint/types.js';
import { allRules } from '../../schema-checks/index.js';

const CONTRACT_SQL = [
  '-- ship:phase contract',
  "SET lock_timeout = '2s';",
  "SET statement_timeout = '5min';",
  'ALTER TABLE users DROP COLUMN email;',
  'ALTER TABLE users RENAME COLUMN name TO legacy_name;',
  'DROP TABLE old_sessions;',
  'CREATE INDEX users_created ON users (created_at);',
  'ALTER TABLE users ALTER COLUMN id TYPE bigint;',
  'ALTER TABLE users ADD COLUMN tenant int NOT NULL;',
].join('\n');

const ruleIds = (findings: ReadonlyArray<{ ruleId: string }>) => [...new Set(findings.map((finding) => finding.ruleId))].sort();

test('a contract migration is not judged by the compat rules; lock and rewrite rules, and the NOT NULL column no code writes, still are', async () => {
  const asExpand = await lintMigrations([{ path: 'V2__contract.sql', sql: CONTRACT_SQL }], { rules: allRules });
  assert.deepEqual(ruleIds(asExpand.findings), [
    'change-column-type',
    'create-index-without-concurrently',
    'drop-column',
    'drop-table',
    'not-null-column-without-default',
    'not-rerunnable-outside-transaction',
    'rename-column',
  ]);
  const asContract = await lintMigrations([{ path: 'V2__contract.sql', sql: CONTRACT_SQL, phase: 'contract' }], { rules: allRules });
  assert.deepEqual(ruleIds(asContract.findings), [
    'change-column-type',
    'create-index-without-concurrently',
    'not-null-column-without-default',
    'not-rerunnable-outside-transaction',
  ]);
});

test('each file is judged by its own phase within one run', async () => {
  const files: MigrationSource[] = [
    { path: 'V1__expand.sql', sql: "SET lock_timeout = '2s';\nALTER TABLE users DROP COLUMN nickname;" },
    { path: 'V2__contract.sql', sql: "SET lock_timeout = '2s';\nALTER TABLE users DROP COLUMN email;", phase: 'contract' },
    { path: 'V3__expand.sql', sql: "SET lock_timeout = '2s';\nALTER TABLE users DROP COLUMN phone;", phase: 'expand' },
  ];
  const report = await lintMigrations(files, { rules: allRules });
  assert.deepEqual(
    report.findings.map((finding) => [finding.file, finding.ruleId]),
    [
      ['V1__expand.sql', 'drop-column'],
      ['V3__expand.sql', 'drop-column'],
    ],
  );
});

test('a large contract migration linted in parts on two threads is judged by its phase too', async () => {
  const filler = "INSERT INTO audit (note) VALUES ('padding padding padding padding padding');\n".repeat(Math.ceil(PARALLEL_MIN_BYTES / 70) + 10);
  const sql = `${filler}SET lock_timeout = '2s';\nALTER TABLE users DROP COLUMN email;\n`;
  assert.ok(Buffer.byteLength(sql) >= PARALLEL_MIN_BYTES);
  const asExpand = await lintMigrations([{ path: 'V9__big.sql', sql }], { rules: allRules, threads: 2 });
  assert.deepEqual(ruleIds(asExpand.findings), ['drop-column']);
  const asContract = await lintMigrations([{ path: 'V9__big.sql', sql, phase: 'contract' }], { rules: allRules, threads: 2 });
  assert.deepEqual(asContract.findings, []);
});
