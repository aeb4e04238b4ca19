/**
 * Hex digests of migration text (the checksums Prisma, Drizzle and sqlx record), with node:crypto
 * loaded on first use: `ship lint-migrations` never needs it (discovery computes a checksum only
 * when something reads it), and loading it costs ~3 ms of a run that squawk finishes in ~45.
 */
import { createRequire } from 'node:module';

type Crypto = typeof import('node:crypto');

let crypto: Crypto | undefined;

export function nodeCrypto(): Crypto {
  crypto ??= createRequire(import.meta.url)('node:crypto') as Crypto;
  return crypto;
}

export function hexDigest(algorithm: 'sha256' | 'sha384', text: string): string {
  return nodeCrypto().createHash(algorithm).update(text).digest('hex');
}
