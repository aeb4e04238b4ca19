import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DefElem, VacuumStmt } from 'libpg-query';
import { booleanValue, optionIsOn } from '../../src/lint/ast.js';
import { loadParser, parseSqlToJson } from '../../src/lint/parser.js';

async function vacuumOptions(sql: string): Promise<VacuumStmt['options']> {
  const tree = JSON.parse(parseSqlToJson(await loadParser(), sql)) as { stmts: Array<{ stmt: { VacuumStmt: VacuumStmt } }> };
  return tree.stmts[0]?.stmt.VacuumStmt.options;
}

async function fullValue(spelling: string): Promise<boolean | undefined> {
  const [option] = (await vacuumOptions(`VACUUM (FULL ${spelling}) t`)) ?? [];
  assert.ok(option && 'DefElem' in option, spelling);
  return booleanValue(option.DefElem as DefElem);
}

test('a boolean option reads as PostgreSQL reads it: every spelling of true and false', async () => {
  for (const spelling of ['', 'true', 'TRUE', "'true'", 'on', "'On'", '1', "E'on'", "U&'true'", '"on"']) assert.equal(await fullValue(spelling), true, spelling);
  for (const spelling of ['false', 'False', "'false'", 'off', "'OFF'", '0', "E'false'", "U&'false'", '"off"']) assert.equal(await fullValue(spelling), false, spelling);
});

test('a value PostgreSQL refuses for a boolean option reads as neither', async () => {
  // defGetBoolean takes the integers 0 and 1 only, and true/false/on/off only: the statement fails.
  for (const spelling of ['yes', 'no', "'1'", "'0'", '2', '-1', '1.0', "'t'"]) assert.equal(await fullValue(spelling), undefined, spelling);
});

test('an option is on when its last spelling is true, as the server reads the list in order', async () => {
  assert.equal(optionIsOn(await vacuumOptions('VACUUM FULL t'), 'full'), true);
  assert.equal(optionIsOn(await vacuumOptions('VACUUM (FULL false) t'), 'full'), false);
  assert.equal(optionIsOn(await vacuumOptions('VACUUM (FULL off, FULL) t'), 'full'), true);
  assert.equal(optionIsOn(await vacuumOptions('VACUUM (FULL, FULL 0) t'), 'full'), false);
  assert.equal(optionIsOn(await vacuumOptions('VACUUM (FULL yes) t'), 'full'), false);
  assert.equal(optionIsOn(await vacuumOptions('VACUUM (ANALYZE) t'), 'full'), false);
});
