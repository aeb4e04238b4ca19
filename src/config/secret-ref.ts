/**
 * `command('...')` and `file('...')` in a config file, and what the config's secrets resolve from.
 * No zod here: a config file imports these from the package, and loading zod's ~95 modules (its
 * schema lives in secrets.ts) cost every run ~40 ms before its first event.
 */
import { isEnvRef } from './env.js';

const SECRET_REF = Symbol.for('ship.SecretRef');

export type SecretSource = { kind: 'env'; name: string } | { kind: 'command'; run: string } | { kind: 'file'; path: string } | { kind: 'value'; value: string };

interface SecretRef {
  readonly [SECRET_REF]: SecretSource;
}

/** A secret printed by a command run on the controller (e.g. `op read ...`, `aws secretsmanager get-secret-value ...`); one trailing newline is dropped. */
export function command(run: string): SecretRef & string {
  return { [SECRET_REF]: { kind: 'command', run } } as unknown as SecretRef & string;
}

/** A secret read from a file on the controller (`~` expands; relative to the config's folder); one trailing newline is dropped. */
export function file(path: string): SecretRef & string {
  return { [SECRET_REF]: { kind: 'file', path } } as unknown as SecretRef & string;
}

export function sourceOf(value: unknown): SecretSource | undefined {
  if (isEnvRef(value)) return { kind: 'env', name: value.name };
  if (typeof value === 'object' && value !== null && SECRET_REF in value) return (value as SecretRef)[SECRET_REF];
  if (typeof value === 'string' && value !== '') return { kind: 'value', value };
  return undefined;
}

/** Where a secret comes from, for `ship plan` and errors: never its value. */
export function describeSource(source: SecretSource): string {
  switch (source.kind) {
    case 'env':
      return `env ${source.name}`;
    case 'command':
      return 'command';
    case 'file':
      return `file ${source.path}`;
    case 'value':
      return 'in the config';
  }
}
