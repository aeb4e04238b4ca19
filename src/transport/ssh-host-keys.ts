/**
 * Whether to trust the key an SSH server presents, judged against known_hosts the way OpenSSH
 * does: a recorded key is trusted, a revoked or changed one is refused with what to check, and an
 * unknown one is recorded only when the user asked for it (--accept-new-host-keys). Also which key
 * algorithms to ask for, so a host with several keys presents one that is on record.
 */
import { appendKnownHost, checkHostKey, fingerprintSha256, keyTypeOf, knownKeyTypes, type KnownHostEntry } from './known-hosts.js';
import { TransportError } from './transport.js';

/** ssh-rsa keys are negotiated under the rsa-sha2 signature algorithms. */
const HOST_KEY_ALGORITHMS: Record<string, string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

export interface HostKeyPolicy {
  knownHostsPath: string;
  acceptNewHostKeys?: boolean;
}

/** Every algorithm ssh2 supports, those of the key types on record for `name` first. */
export function preferredHostKeyAlgorithms(entries: KnownHostEntry[], name: string): string[] {
  const all = Object.values(HOST_KEY_ALGORITHMS).flat();
  const preferred = knownKeyTypes(entries, name).flatMap((type) => HOST_KEY_ALGORITHMS[type] ?? []);
  return [...new Set([...preferred, ...all])];
}

/** Resolves when `key` may be trusted for `name` (recording it if new and allowed); otherwise a TransportError for `label`. */
export async function verifyHostKey(label: string, name: string, key: Buffer, entries: KnownHostEntry[], policy: HostKeyPolicy): Promise<void> {
  const path = policy.knownHostsPath;
  const type = keyTypeOf(key);
  const fingerprint = fingerprintSha256(key);
  const check = checkHostKey(entries, name, key);
  const remedy = `If the host was really re-keyed, confirm the new fingerprint with its administrator, then remove the old entry (ssh-keygen -R '${name}' -f ${path}). --accept-new-host-keys never accepts a changed key.`;
  switch (check.status) {
    case 'trusted':
      return;
    case 'revoked':
      throw new TransportError(label, `host key ${type} ${fingerprint} of ${name} is marked @revoked in ${path} (line ${check.line}); refusing to connect`, 'host-key');
    case 'changed':
      throw new TransportError(
        label,
        `HOST KEY CHANGED for ${name}: it presented ${type} ${fingerprint}, but ${path} (line ${check.lines.join(', ')}) records a different ${type} key. Someone may be intercepting the connection (man in the middle). ${remedy}`,
        'host-key',
      );
    case 'other-type':
      throw new TransportError(
        label,
        `HOST KEY CHANGED for ${name}: it presented ${type} ${fingerprint}, but ${path} (line ${check.lines.join(', ')}) only records ${check.knownTypes.join(', ')} keys for it. Someone may be intercepting the connection (man in the middle). ${remedy}`,
        'host-key',
      );
    case 'unknown':
      if (!policy.acceptNewHostKeys) {
        throw new TransportError(
          label,
          `unknown host key for ${name}: ${type} ${fingerprint}. Check this fingerprint with the host's administrator, then run again with --accept-new-host-keys to record it in ${path}.`,
          'host-key',
        );
      }
      await appendKnownHost(path, name, key);
      return;
  }
}
