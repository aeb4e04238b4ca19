/**
 * The zod building blocks every part of the config is made of. They sit below the adapters
 * (load balancers, notifiers, ...) so an adapter can declare its own config section without
 * importing the composed schema (src/config/schema.ts), which imports the adapters.
 */
import { z } from 'zod';
import { readDuration } from '../util/duration.js';
import { MIN_SECRET_LENGTH, registerSecret, secretTooShort } from '../util/redact.js';
import { isEnvRef } from './env.js';

/** '500ms', '30s', '2m' or a number of milliseconds, at most MAX_DURATION_MS; resolves to milliseconds. */
export const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const reading = readDuration(value);
  if (!reading.ok) {
    ctx.addIssue({ code: 'custom', message: reading.problem });
    return z.NEVER;
  }
  return reading.ms;
});

/** An absolute count or a percentage of the fleet such as '25%'. */
export const countOrPercent = z.union([z.number().int().min(0), z.string().regex(/^\d+(\.\d+)?%$/, { message: "expected a count or a percentage like '25%'" })]);

const POSITIVE = { message: "expected a positive count or a percentage like '25%'" };

/**
 * A count of at least 1 or a percentage above 0 (a batch size): 0 or '0%' would roll nothing.
 * The same rule for the config field and its flag (`--batch-size`), so neither quietly reads 0 as 1.
 */
export const positiveCountOrPercent = z.union([z.number().int(POSITIVE).min(1, POSITIVE), z.string().regex(/^(?=[\d.]*[1-9])\d+(\.\d+)?%$/, POSITIVE)]);

/**
 * A rate as a percentage, '1%' or '0.5%', at most '100%'; resolves to a fraction (0.01). A bare
 * number is refused: 1 could mean 1% or 100%, and an error rate limit must not be guessed.
 */
export const percent = z.string().transform((value, ctx) => {
  const match = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(value);
  if (!match || Number(match[1]) > 100) {
    ctx.addIssue({ code: 'custom', message: `expected a percentage from '0%' to '100%' like '1%' or '0.5%', got ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  return Number(match[1]) / 100;
});

/** A JavaScript regular expression, compiled at load so a typo is a config error, not a failure mid-rollout. */
export const regex = z.string().superRefine((source, ctx) => {
  try {
    new RegExp(source);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(source)} is not a valid regular expression: ${(error as Error).message}` });
  }
});

/**
 * A string that may come from the environment (`env('NAME')` or `process.env.NAME`). Its value
 * is registered as a secret so it is scrubbed from every log, event and error; a value (or a
 * connection string's password) shorter than MIN_SECRET_LENGTH is refused.
 */
export function secret() {
  return z.custom<unknown>().transform((value, ctx): string => {
    let resolved: unknown = value;
    if (isEnvRef(value)) {
      resolved = process.env[value.name];
      if (resolved === undefined || resolved === '') {
        ctx.addIssue({ code: 'custom', message: `environment variable ${value.name} is not set` });
        return z.NEVER;
      }
    }
    if (typeof resolved !== 'string' || resolved === '') {
      ctx.addIssue({ code: 'custom', message: "required (a string, or env('NAME') for a value from the environment)" });
      return z.NEVER;
    }
    // Scrubbing works on text: a short value would mask ordinary words and numbers everywhere
    // (a passphrase `true` turned every "true" into ***), so it is refused rather than half-hidden.
    const short = secretTooShort(resolved);
    if (short) {
      const from = isEnvRef(value) ? `the value of environment variable ${value.name}` : 'this secret';
      ctx.addIssue({
        code: 'custom',
        message: `${from} ${short}; ship needs at least ${MIN_SECRET_LENGTH} to keep a secret out of its output, events, journal and notifications: use a longer one`,
      });
      return z.NEVER;
    }
    registerSecret(resolved);
    return resolved;
  });
}

/** A playbook variable's name, as `vars` and `inventory.ec2.varsFromTags` take it. */
export const varName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'variable names are letters, digits and _' });

/**
 * What each field of an adapter's config section means, for docs/config.md and `ship init`:
 * every field of the section's own object must be described (the compiler says which is
 * missing), except the tag that selects the adapter; a nested field is described by its dotted
 * path below the section (`retry.count`).
 */
export type FieldDescriptions<Shape, Tag extends string = never> = { [K in Exclude<keyof Shape & string, Tag>]: string } & {
  [nested: `${string}.${string}`]: string;
};
