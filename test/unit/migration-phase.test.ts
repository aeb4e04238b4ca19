import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classifyError } from '../../src/errors/codes.js';
import { discoverMigrations } from '../../src/migrations/discovery.js';
import { MigrationPhaseError, readMigrationPhase } from '../../src/migrations/phase.js';
import { lintSql } from '../../src/lint/engine.js';
import { sqlComments } from '../../src/lint/sql-comments.js';
import { allRules } from '../../schema-checks/index.js';

function phaseError(sql: string): MigrationPhaseError {
  try {
    readMigrationPhase(sql, 'db/V7__x.sql');
  } catch (error) {
    assert.ok(error instanceof MigrationPhaseError, String(error));
    return error;
  }
  assert.fail(`no error for ${JSON.stringify(sql)}`);
}

test('a migration is expand unless its header declares contract, in a -- or a /* */ comment', () => {
  assert.equal(readMigrationPhase('ALTER TABLE users ADD COLUMN note text;', 'f.sql'), 'expand');
  assert.equal(readMigrationPhase('-- ship:phase contract\nALTER TABLE users DROP COLUMN email;', 'f.sql'), 'contract');
  assert.equal(readMigrationPhase('--ship:phase contract\nSELECT 1;', 'f.sql'), 'contract');
  assert.equal(readMigrationPhase('/* ship:phase contract */ ALTER TABLE users DROP COLUMN email;', 'f.sql'), 'contract');
  assert.equal(readMigrationPhase('/*\n * Drops what release 41 stopped reading.\n * ship:phase contract\n */\nSELECT 1;', 'f.sql'), 'contract');
  assert.equal(readMigrationPhase('-- Add the column the new code reads.\n\n-- ship:phase expand\nSELECT 1;', 'f.sql'), 'expand');
  // Words after the phase are a note for the reader.
  assert.equal(readMigrationPhase('-- ship:phase contract  (email moved to user_emails in 1.4)\nSELECT 1;', 'f.sql'), 'contract');
  // The same phase declared twice is no contradiction.
  assert.equal(readMigrationPhase('-- ship:phase contract\n/* ship:phase contract */\nSELECT 1;', 'f.sql'), 'contract');
});

test('dbmate: the header may sit above or below "-- migrate:up"', () => {
  assert.equal(readMigrationPhase('-- ship:phase contract\n-- migrate:up\nALTER TABLE users DROP COLUMN email;\n-- migrate:down\n', 'f.sql'), 'contract');
  assert.equal(readMigrationPhase('-- migrate:up\n-- ship:phase contract\nALTER TABLE users DROP COLUMN email;\n-- migrate:down\n', 'f.sql'), 'contract');
});

test('any other value is an error naming the file and the line, with the code for it', () => {
  const typo = phaseError('-- Drop the old column.\n-- ship:phase contrct\nALTER TABLE users DROP COLUMN email;');
  assert.equal(typo.line, 2);
  assert.match(typo.message, /^db\/V7__x\.sql:2: "ship:phase contrct" is not a phase: write "-- ship:phase contract"/);
  assert.equal(classifyError(typo).code, 'SHIP-E046');
  assert.match(phaseError('-- ship:phase Contract\nSELECT 1;').message, /"ship:phase Contract" is not a phase/);
  assert.match(phaseError('/*\n\n ship:phase\n*/\nSELECT 1;').message, /^db\/V7__x\.sql:3: "ship:phase" names no phase/);
  assert.match(phaseError('-- ship:phase expand\n-- ship:phase contract\nSELECT 1;').message, /^db\/V7__x\.sql:2: "ship:phase contract" contradicts "ship:phase expand" on line 1/);
});

test('a marker after the first statement is refused, not ignored: the file would run as expand', () => {
  const late = phaseError("SET lock_timeout = '2s';\n-- ship:phase contract\nALTER TABLE users DROP COLUMN email;");
  assert.equal(late.line, 2);
  assert.match(late.message, /read only in the comments before the first statement; move it to the top/);
  assert.equal(phaseError('SELECT 1; /* ship:phase contract */').line, 1);
});

test('text that only looks like a marker (in a string, a quoted name, a function body) is no marker', () => {
  const sql = [
    "INSERT INTO notes VALUES ('-- ship:phase contract');",
    "INSERT INTO notes VALUES (E'it''s \\' -- ship:phase contract');",
    'CREATE TABLE "-- ship:phase contract" (id int);',
    "CREATE FUNCTION f() RETURNS text AS $body$ SELECT '/* ship:phase contract */' $body$ LANGUAGE sql;",
  ].join('\n');
  assert.equal(readMigrationPhase(sql, 'f.sql'), 'expand');
});

test('sqlComments: nested block comments are one comment; the header ends at the first token', () => {
  const comments = sqlComments('/* a /* nested */ still a */ -- b\nSELECT 1; -- c\n/* d');
  assert.deepEqual(
    comments.map((c) => [c.body, c.leading]),
    [
      [' a /* nested */ still a ', true],
      [' b', true],
      [' c', false],
      [' d', false],
    ],
  );
});

test('discovery records each file phase; a bad marker stops discovery naming the file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ship-phase-'));
  try {
    await writeFile(join(dir, 'V1__add.sql'), 'ALTER TABLE users ADD COLUMN note text;');
    await writeFile(join(dir, 'V2__drop.sql'), '-- ship:phase contract\nALTER TABLE users DROP COLUMN email;');
    const discovery = await discoverMigrations(dir);
    assert.deepEqual(
      discovery.migrations.map((m) => [m.version, m.phase]),
      [
        ['1', 'expand'],
        ['2', 'contract'],
      ],
    );
    await writeFile(join(dir, 'V3__bad.sql'), '-- ship:phase later\nSELECT 1;');
    await assert.rejects(discoverMigrations(dir), (error: Error) => error instanceof MigrationPhaseError && error.message.startsWith(`${join(dir, 'V3__bad.sql')}:1:`));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the lint does not take the marker for a malformed suppression', async () => {
  const report = await lintSql('-- ship:phase contract\nSELECT 1;', { rules: allRules });
  assert.deepEqual(report.findings, []);
});
