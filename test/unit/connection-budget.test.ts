import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planConnectionBudget, type ConnectionCapacity } from '../../src/preflight/database/connection-budget.js';

const capacity: ConnectionCapacity = { maxConnections: 100, reservedConnections: 3, otherClients: 7, appRole: 'app' };

test('counts every process pool plus the side-by-side pools of one batch', () => {
  const budget = planConnectionBudget(capacity, { instances: 8, poolSize: 5, processesPerInstance: 2, batchSize: 1 }, 'primary db:5432/app');
  assert.equal(budget.available, 90);
  assert.equal(budget.steady, 80);
  assert.equal(budget.restartOverlap, 10);
  assert.equal(budget.peak, 90);
  assert.equal(budget.fits, true, budget.message);
  assert.match(budget.message, /^connection budget fits/);
});

test('refuses one connection over, with the numbers that explain it', () => {
  const budget = planConnectionBudget({ ...capacity, otherClients: 8 }, { instances: 8, poolSize: 5, processesPerInstance: 2, batchSize: 1 }, 'primary db:5432/app');
  assert.equal(budget.fits, false);
  assert.equal(budget.available, 89);
  assert.match(budget.message, /exceeded by 1/);
  assert.match(budget.message, /hold 90 connections/);
  assert.match(budget.message, /8 instances × 2 processes × pool 5 = 80/);
  assert.match(budget.message, /\+ 10 while a batch of 1/);
  assert.match(budget.message, /primary db:5432\/app accepts 89/);
  assert.match(budget.message, /max_connections 100 − 3 reserved − 8 open now by roles other than app/);
  assert.match(budget.message, /poolSize|batchSize|max_connections/);
});

test('a bigger batch needs more overlap; the batch never exceeds the fleet', () => {
  const batchOfThree = planConnectionBudget(capacity, { instances: 4, poolSize: 10, batchSize: 3 }, 'p');
  assert.equal(batchOfThree.steady, 40);
  assert.equal(batchOfThree.restartOverlap, 30);
  const batchOfTen = planConnectionBudget(capacity, { instances: 4, poolSize: 10, batchSize: 10 }, 'p');
  assert.equal(batchOfTen.restartOverlap, 40);
  assert.equal(batchOfTen.fits, true);
});

test('says that the fleet is counted twice when the app role is unknown', () => {
  const budget = planConnectionBudget({ ...capacity, appRole: null }, { instances: 1, poolSize: 1, batchSize: 1 }, 'p');
  assert.match(budget.message, /all counted: set the app's role/);
});

test('rejects a pool size that is not a whole number', () => {
  assert.throws(() => planConnectionBudget(capacity, { instances: 2, poolSize: 2.5, batchSize: 1 }, 'p'), /poolSize must be a whole number/);
});
