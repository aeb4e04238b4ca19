/**
 * OpenSSH known_hosts: parsing, host-key checking and appending, with OpenSSH's semantics
 * (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"): comma-separated host patterns with `*`, `?` and `!`,
 * `[host]:port` names for non-default ports, hashed `|1|salt|hmac` names, and the `@revoked` /
 * `@cert-authority` markers. Written here rather than taken from a package because none of the
 * maintained ones does hashed names, markers and "changed key" detection together.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface KnownHostEntry {
  /** 1-based line number, for messages that tell the operator which line to edit. */
  line: number;
  marker?: 'revoked' | 'cert-authority';
  /** The host field as written: a comma-separated pattern list, or one hashed `|1|salt|hash` name. */
  hosts: string;
  keyType: string;
  key: Buffer;
}

export type HostKeyCheck =
  | { status: 'trusted'; line: number }
  | { status: 'unknown' }
  /** A key of the same type is recorded for this host and it is a different key. */
  | { status: 'changed'; lines: number[] }
  /** Only keys of other types are recorded for this host: treated like a change, never auto-accepted. */
  | { status: 'other-type'; knownTypes: string[]; lines: number[] }
  | { status: 'revoked'; line: number };

/** The name a host is recorded under: `host` on port 22, `[host]:port` otherwise (as OpenSSH writes it). */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host.toLowerCase() : `[${host.toLowerCase()}]:${port}`;
}

/** `SHA256:<base64 without padding>`, the fingerprint `ssh-keygen -lf` and ssh's prompts show. */
export function fingerprintSha256(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** The key type named inside an SSH wire-format public key blob (its first length-prefixed string). */
export function keyTypeOf(key: Buffer): string {
  if (key.length < 4) throw new Error('host key blob is too short');
  const length = key.readUInt32BE(0);
  if (length > key.length - 4) throw new Error('host key blob is malformed');
  return key.subarray(4, 4 + length).toString('latin1');
}

/** OpenSSH glob: `*` any run of characters, `?` exactly one; case-insensitive like host names. */
export function matchesPattern(name: string, pattern: string): boolean {
  const regex = pattern
    .toLowerCase()
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${regex}$`, 's').test(name.toLowerCase());
}

/**
 * A pattern list matches when some positive pattern matches and no negated (`!pattern`) one does,
 * which is how both known_hosts host fields and ssh_config `Host` lines are read.
 */
export function matchesPatternList(name: string, patterns: readonly string[]): boolean {
  let matched = false;
  for (const pattern of patterns) {
    if (pattern.startsWith('!')) {
      if (matchesPattern(name, pattern.slice(1))) return false;
    } else if (matchesPattern(name, pattern)) {
      matched = true;
    }
  }
  return matched;
}

function matchesHashedName(name: string, hashed: string): boolean {
  const [, magic, salt, hash] = hashed.split('|');
  if (magic !== '1' || !salt || !hash) return false;
  const expected = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
  return expected === hash;
}

export function entryMatchesName(entry: KnownHostEntry, name: string): boolean {
  if (entry.hosts.startsWith('|')) return matchesHashedName(name, entry.hosts);
  return matchesPatternList(name, entry.hosts.split(','));
}

/** Lines that are not well formed are skipped, as ssh does; they can never grant trust. */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split('\n').forEach((raw, index) => {
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const fields = trimmed.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (fields[0]?.startsWith('@')) {
      const word = fields.shift();
      if (word === '@revoked') marker = 'revoked';
      else if (word === '@cert-authority') marker = 'cert-authority';
      else return; // an unknown marker: ssh ignores the line, so must we
    }
    const [hosts, keyType, keyBase64] = fields;
    if (!hosts || !keyType || !keyBase64) return;
    const key = Buffer.from(keyBase64, 'base64');
    try {
      if (keyTypeOf(key) !== keyType) return;
    } catch {
      return;
    }
    entries.push({ line: index + 1, hosts, keyType, key, ...(marker ? { marker } : {}) });
  });
  return entries;
}

/**
 * Decides whether `key` may be trusted for `name` (from knownHostsName). A revoked key is refused
 * wherever it appears; certificate authorities are not used (ship does not do host certificates),
 * so a CA line never makes a plain key trusted.
 */
export function checkHostKey(entries: readonly KnownHostEntry[], name: string, key: Buffer): HostKeyCheck {
  const presentedType = keyTypeOf(key);
  const revoked = entries.find((e) => e.marker === 'revoked' && e.key.equals(key) && entryMatchesName(e, name));
  if (revoked) return { status: 'revoked', line: revoked.line };
  const forHost = entries.filter((e) => e.marker === undefined && entryMatchesName(e, name));
  const exact = forHost.find((e) => e.key.equals(key));
  if (exact) return { status: 'trusted', line: exact.line };
  const sameType = forHost.filter((e) => e.keyType === presentedType);
  if (sameType.length > 0) return { status: 'changed', lines: sameType.map((e) => e.line) };
  if (forHost.length > 0) {
    return { status: 'other-type', knownTypes: [...new Set(forHost.map((e) => e.keyType))], lines: forHost.map((e) => e.line) };
  }
  return { status: 'unknown' };
}

/** Key types recorded for `name`, so the SSH handshake can ask the host for a key we can check. */
export function knownKeyTypes(entries: readonly KnownHostEntry[], name: string): string[] {
  return [...new Set(entries.filter((e) => e.marker === undefined && entryMatchesName(e, name)).map((e) => e.keyType))];
}

/** A hashed line (like `ssh-keygen -H` writes), so the file does not list the fleet's names in clear. */
export function hashedKnownHostsLine(name: string, key: Buffer): string {
  const salt = randomBytes(20);
  const hash = createHmac('sha1', salt).update(name).digest('base64');
  return `|1|${salt.toString('base64')}|${hash} ${keyTypeOf(key)} ${key.toString('base64')}`;
}

export async function readKnownHosts(path: string): Promise<KnownHostEntry[]> {
  try {
    return parseKnownHosts(await readFile(path, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/**
 * Appends one line in a single O_APPEND write, so hosts accepted in parallel cannot interleave.
 * A file that does not end in a newline gets one first, or the new entry would join the last line.
 */
export async function appendKnownHost(path: string, name: string, key: Buffer): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  let existing = '';
  try {
    existing = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const separator = existing === '' || existing.endsWith('\n') ? '' : '\n';
  await appendFile(path, `${separator}${hashedKnownHostsLine(name, key)}\n`, { mode: 0o600 });
}
