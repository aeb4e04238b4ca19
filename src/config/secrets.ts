/**
 * Where a secret comes from: `env('NAME')`, `command('op read op://prod/stripe/key')` (run once per
 * run on the machine ship runs on, its output kept in memory only) or `file('~/.secrets/key')`.
 * Unlike other secret fields, the config's `secrets` and `container.registry.password` are not
 * read when the config loads: the pre-flight resolves them (src/preflight/secrets.ts), so a
 * missing one stops the run naming it, and `ship plan` shows their names without needing them.
 */
import { z } from 'zod';
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

function sourceOf(value: unknown): SecretSource | undefined {
  if (isEnvRef(value)) return { kind: 'env', name: value.name };
  if (typeof value === 'object' && value !== null && SECRET_REF in value) return (value as SecretRef)[SECRET_REF];
  if (typeof value === 'string' && value !== '') return { kind: 'value', value };
  return undefined;
}

/** A secret that the pre-flight resolves: env(), command(), file(), or a string. */
export const secretSource = z.custom<unknown>().transform((value, ctx): SecretSource => {
  const source = sourceOf(value);
  if (!source) {
    ctx.addIssue({ code: 'custom', message: "expected env('NAME'), command('...'), file('...') or a string" });
    return z.NEVER;
  }
  if (source.kind === 'command' && (typeof source.run !== 'string' || source.run.trim() === '')) {
    ctx.addIssue({ code: 'custom', message: 'command(): give the command to run' });
    return z.NEVER;
  }
  if (source.kind === 'file' && (typeof source.path !== 'string' || source.path.trim() === '')) {
    ctx.addIssue({ code: 'custom', message: 'file(): give the file to read' });
    return z.NEVER;
  }
  return source;
});

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

/** An env-file variable name: what `docker run --env-file` and a shell accept. */
export const secretName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'secret names are letters, digits and _ (they become environment variables)' });

export const secretsSchema = z.record(secretName, secretSource);
