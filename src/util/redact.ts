/**
 * Secrets known to the process (passphrases, database URLs and their passwords, webhook URLs,
 * tokens) are registered here when the config is loaded, so every renderer and error path can
 * scrub them without knowing where they came from.
 */
const secrets = new Set<string>();
const MIN_SECRET_LENGTH = 4;

export function registerSecret(value: string | undefined): void {
  if (!value || value.length < MIN_SECRET_LENGTH) return;
  secrets.add(value);
  // A URL's password can also surface on its own (driver errors quote it), so register it too.
  try {
    const url = new URL(value);
    if (url.password) secrets.add(decodeURIComponent(url.password));
    if (url.password) secrets.add(url.password);
  } catch {
    // not a URL: the whole value is the secret
  }
}

export function redact(text: string): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= MIN_SECRET_LENGTH && out.includes(secret)) out = out.split(secret).join('***');
  }
  return out;
}

/** Redacts every string inside a JSON-serialisable value (events, summaries). */
export function redactDeep<T>(value: T): T {
  if (secrets.size === 0) return value;
  return JSON.parse(redact(JSON.stringify(value))) as T;
}
