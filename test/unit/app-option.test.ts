import { test } from 'node:test';
import assert from 'node:assert/strict';
import { restoreCommandFor } from '../../src/cli/app-option.js';

test('the restore line names the app only when the run was not the top-level app, quoting what needs it', () => {
  assert.equal(restoreCommandFor('ship.config.ts', undefined, ['web1', 'web2']), 'ship restore --config ship.config.ts --hosts web1,web2');
  assert.equal(restoreCommandFor('my configs/ship.ts', 'admin', ['web1']), "ship restore --config 'my configs/ship.ts' --app admin --hosts web1");
});
