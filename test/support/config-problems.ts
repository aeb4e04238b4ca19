/** The smallest valid config, and the problems validation reports for a variant of it. */
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/config/errors.js';
import { validateConfig } from '../../src/config/load.js';

export const minimalConfig = {
  app: 'shop',
  hosts: [{ name: 'web1', address: '127.0.0.1' }],
  loadBalancer: { type: 'none' },
  health: { http: { port: 8080 } },
};

/** Validates `value` as the file ship.config.ts, which must be refused; returns what was wrong with it. */
export function configProblems(value: unknown): string[] {
  try {
    validateConfig(value, 'ship.config.ts');
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    assert.match(error.message, /^ship\.config\.ts: invalid config/);
    return error.problems;
  }
  assert.fail('expected the config to be rejected');
}
