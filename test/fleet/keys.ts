import { execFile } from 'node:child_process';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface KeyPair {
  privateKeyPath: string;
  /** The OpenSSH public key line (`ssh-ed25519 AAAA... comment`), as authorized_keys wants it. */
  publicKey: string;
}

/**
 * An ed25519 key pair made by ssh-keygen under `dir`, so the tests use keys in the exact format
 * operators have. An existing pair of the same name (left by an interrupted run) is replaced,
 * because ssh-keygen would otherwise stop and ask.
 */
export async function generateKeyPair(dir: string, name: string, passphrase = ''): Promise<KeyPair> {
  await mkdir(dir, { recursive: true });
  const privateKeyPath = join(dir, name);
  await rm(privateKeyPath, { force: true });
  await rm(`${privateKeyPath}.pub`, { force: true });
  // Few KDF rounds (-a): decrypting a test key with the default 16 bcrypt rounds costs ~0.3 s each time.
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-a', '2', '-N', passphrase, '-C', `ship-test-${name}`, '-f', privateKeyPath]);
  const publicKey = (await readFile(`${privateKeyPath}.pub`, 'utf8')).trim();
  return { privateKeyPath, publicKey };
}
