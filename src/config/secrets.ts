/**
 * Where a secret comes from: `env('NAME')`, `command('op read op://prod/stripe/key')` (run once per
 * run on the machine ship runs on, its output kept in memory only) or `file('~/.secrets/key')`.
 * Unlike other secret fields, the config's `secrets` and `container.registry.password` are not
 * read when the config loads: the pre-flight resolves them (src/preflight/secrets.ts), so a
 * missing one stops the run naming it, and `ship plan` shows their names without needing them.
 */
import { z } from 'zod';
import { sourceOf, type SecretSource } from './secret-ref.js';

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

/** An env-file variable name: what `docker run --env-file` and a shell accept. */
export const secretName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'secret names are letters, digits and _ (they become environment variables)' });

export const secretsSchema = z.record(secretName, secretSource);
