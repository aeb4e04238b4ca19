/**
 * Secrets known to the process (passphrases, database URLs and their passwords, webhook URLs,
 * tokens) are registered here when the config is loaded, so every renderer and error path can
 * scrub them without knowing where they came from.
 *
 * Structured values (events, notices, journal records, --json output) are scrubbed as a tree,
 * string by string, before they are serialised: scrubbing serialised JSON text misses a secret
 * holding `"` or `\` (they are escaped there) and breaks the document when a secret looks like
 * JSON (`true`, `12345678`, `"ok":true`).
 */
import { passwordOf } from './redact-url.js';

/**
 * Shorter secrets are refused at config load (src/config/fields.ts): scrubbing works on text,
 * and a short value such as `true`, `1` or `admin` would both mask ordinary words and numbers
 * everywhere and be too easy to guess to be worth hiding.
 */
export const MIN_SECRET_LENGTH = 8;

const MASK = '***';

/** Every form each registered secret is scrubbed in, longest first (a secret inside another must not leave the rest behind). */
let forms: string[] = [];
const secrets = new Set<string>();

/**
 * The forms a secret takes in text it reaches: as is; JSON-escaped (a step printing a JSON
 * document, an error quoting a value with JSON.stringify); URL-encoded (inside a URL); and
 * single-quoted for a shell (a command line shown in an error).
 */
function formsOf(secret: string): string[] {
  return [secret, JSON.stringify(secret).slice(1, -1), encodeURIComponent(secret), secret.replace(/'/g, `'\\''`)];
}

function add(secret: string | undefined): void {
  if (!secret || secret.length < MIN_SECRET_LENGTH || secrets.has(secret)) return;
  secrets.add(secret);
  forms = [...new Set([...forms, ...formsOf(secret)])].sort((a, b) => b.length - a.length);
}

/**
 * Why `value` cannot be kept out of logs, or undefined when it can: said at config load, where
 * the field can be named. Covers the password inside a connection string too.
 */
export function secretTooShort(value: string): string | undefined {
  if (value.length < MIN_SECRET_LENGTH) return `has ${value.length} character(s)`;
  const password = passwordOf(value);
  if (password !== undefined && password.length > 0 && password.length < MIN_SECRET_LENGTH) return `holds a password of ${password.length} character(s)`;
  return undefined;
}

/**
 * Registers a secret and, for a connection string, its password (driver errors quote it on its
 * own). Values shorter than MIN_SECRET_LENGTH are not registered: the config refuses them first.
 */
export function registerSecret(value: string | undefined): void {
  if (!value) return;
  add(value);
  add(passwordOf(value));
}

/** Scrubs every registered secret, in every form it may take, from plain text. */
export function redact(text: string): string {
  let out = text;
  for (const form of forms) if (out.includes(form)) out = out.split(form).join(MASK);
  return out;
}

/**
 * The same value with every string in it scrubbed (object keys too), at any depth, shaped as
 * JSON.stringify would see it (toJSON applied); numbers, booleans and null are left alone, so
 * the result serialises to the same structure whatever the secrets are.
 */
export function redactDeep<T>(value: T): T {
  if (forms.length === 0) return value;
  return scrubTree(value) as T;
}

function scrubTree(value: unknown): unknown {
  if (typeof value === 'string') return redact(value);
  if (typeof value !== 'object' || value === null) return value;
  const json = (value as { toJSON?: unknown }).toJSON;
  if (typeof json === 'function') return scrubTree(json.call(value));
  if (Array.isArray(value)) return value.map(scrubTree);
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) out[redact(key)] = scrubTree(field);
  return out;
}
