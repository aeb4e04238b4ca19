/**
 * src/cli/main.ts loads only the command the arguments name, and only when that is certain; for
 * anything else it loads every command and lets yargs decide, as before. These are the cases.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { COMMAND_LINES, invokedCommand } from '../../src/cli/commands.js';

test('the command word after the global flags that yargs reads the same way', () => {
  assert.deepEqual(invokedCommand(['deploy', '--version', 'v2']), { kind: 'command', name: 'deploy' });
  assert.deepEqual(invokedCommand(['--json', 'plan']), { kind: 'command', name: 'plan' });
  assert.deepEqual(invokedCommand(['--no-json', '--config', 'x.ts', 'status']), { kind: 'command', name: 'status' });
  assert.deepEqual(invokedCommand(['-c', 'x.ts', 'run', 'p.ts']), { kind: 'command', name: 'run' });
  assert.deepEqual(invokedCommand(['--config=x.ts', 'lint-migrations']), { kind: 'command', name: 'lint-migrations' });
  assert.deepEqual(invokedCommand(['--help', 'iam-policy']), { kind: 'command', name: 'iam-policy' });
});

test('no command word at all: the help and the missing-command error need only the usage lines', () => {
  assert.deepEqual(invokedCommand([]), { kind: 'none' });
  assert.deepEqual(invokedCommand(['--help']), { kind: 'none' });
  assert.deepEqual(invokedCommand(['--json', '-c', 'x.ts']), { kind: 'none' });
});

test('anything yargs might read otherwise loads every command', () => {
  // A command's own flag before the command: yargs may take the next word as its value.
  assert.deepEqual(invokedCommand(['--app', 'deploy', 'plan']), { kind: 'unsure' });
  assert.deepEqual(invokedCommand(['--dry-run', 'deploy']), { kind: 'unsure' });
  assert.deepEqual(invokedCommand(['-h', 'deploy']), { kind: 'unsure' });
  // --config without a value, or followed by a flag, which yargs does not take as its value.
  assert.deepEqual(invokedCommand(['--config']), { kind: 'unsure' });
  assert.deepEqual(invokedCommand(['--config', '--json', 'deploy']), { kind: 'unsure' });
  // A word that is no command, and the end of options.
  assert.deepEqual(invokedCommand(['deploi']), { kind: 'unsure' });
  assert.deepEqual(invokedCommand(['--', 'deploy']), { kind: 'unsure' });
  assert.deepEqual(invokedCommand(['constructor']), { kind: 'unsure' });
});

test('every usage line names its command first', () => {
  for (const [name, line] of Object.entries(COMMAND_LINES)) assert.equal(line.command.split(' ')[0], name);
});
