/**
 * Turns SshTransportOptions plus ~/.ssh/config into the concrete hops to dial: jump hosts first,
 * the target last, each with its address, port, user and credentials.
 *
 * Precedence: a value set in ship's own config wins over ~/.ssh/config, and ~/.ssh/config fills in
 * what ship's config leaves unset. Ship's config is the reviewed description of the fleet, so it
 * plays the role command-line flags play for ssh(1), which also win over ssh_config.
 */
import { readFile } from 'node:fs/promises';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import { defaultIdentityFiles, resolveSshConfig, type SshConfigResult } from './ssh-config.js';
import { TransportError } from './transport.js';

export interface SshTransportOptions {
  /** The ship host name, used in every message. */
  host: string;
  /** What to connect to: an address, a DNS name or an alias from ~/.ssh/config. */
  address: string;
  port?: number;
  user?: string;
  privateKeyPath?: string;
  passphrase?: string;
  /** ssh-agent socket; defaults to SSH_AUTH_SOCK; false disables the agent. */
  agent?: string | false;
  knownHostsPath: string;
  /** Record keys of hosts not yet in known_hosts instead of refusing them. Never accepts a changed key. */
  acceptNewHostKeys?: boolean;
  /** Defaults to ~/.ssh/config; false ignores ssh config entirely. */
  sshConfigPath?: string | false;
  /** `[user@]host[:port]` or an alias, or a comma list of them (like ProxyJump). */
  jumpHost?: string;
  connectTimeoutMs?: number;
  /** Default per-command timeout when ExecOptions.timeoutMs is not given. */
  commandTimeoutMs?: number;
  keepaliveIntervalMs?: number;
  /** The user `exec(..., { sudo: true })` runs as; root when unset. */
  sudoUser?: string;
}

export interface Credentials {
  privateKey?: Buffer;
  passphrase?: string;
  /** Only for messages; never the key itself. */
  privateKeyPath?: string;
  agent?: string;
}

export interface Hop {
  /** How this hop is named in messages: the ship host, or `jump host <spec>`. */
  label: string;
  address: string;
  port: number;
  user: string;
  credentials: Credentials;
}

export interface ConnectPlan {
  /** Jump hosts in dialing order; empty for a direct connection. */
  jumps: Hop[];
  target: Hop;
  notes: string[];
}

export async function planConnection(options: SshTransportOptions): Promise<ConnectPlan> {
  const configPath = options.sshConfigPath === false ? undefined : (options.sshConfigPath ?? join(homedir(), '.ssh', 'config'));
  const lookup = async (alias: string): Promise<SshConfigResult> => {
    if (!configPath) return { identityFiles: [], notes: [] };
    try {
      return await resolveSshConfig(alias, configPath);
    } catch (error) {
      throw new TransportError(options.host, `ssh config: ${(error as Error).message}`, 'connect', { cause: error });
    }
  };
  const agent = options.agent === false ? undefined : (options.agent ?? process.env.SSH_AUTH_SOCK ?? undefined);
  const localUser = userInfo().username;

  const targetConfig = await lookup(options.address);
  const target: Hop = {
    label: options.host,
    address: targetConfig.hostName ?? options.address,
    port: options.port ?? targetConfig.port ?? 22,
    user: options.user ?? targetConfig.user ?? localUser,
    credentials: await loadCredentials(options.host, {
      explicitKey: options.privateKeyPath,
      configKeys: targetConfig.identityFiles,
      passphrase: options.passphrase,
      agent,
    }),
  };

  const jumpList = options.jumpHost ?? targetConfig.proxyJump;
  const jumps: Hop[] = [];
  const notes = [...targetConfig.notes];
  for (const spec of jumpList
    ? jumpList
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : []) {
    const parsed = parseJumpSpec(spec, options.host);
    const hopConfig = await lookup(parsed.host);
    notes.push(...hopConfig.notes);
    // A jump host is its own machine: its user and key come from its spec or its ssh config, as
    // with `ssh -J`; ship's key is offered when ssh config names none, since a bastion usually
    // trusts the same deploy key.
    jumps.push({
      label: `${options.host} (jump host ${spec})`,
      address: hopConfig.hostName ?? parsed.host,
      port: parsed.port ?? hopConfig.port ?? 22,
      user: parsed.user ?? hopConfig.user ?? localUser,
      credentials: await loadCredentials(`${options.host} (jump host ${spec})`, {
        explicitKey: hopConfig.identityFiles.length > 0 ? undefined : options.privateKeyPath,
        configKeys: hopConfig.identityFiles,
        passphrase: options.passphrase,
        agent,
      }),
    });
  }
  return { jumps, target, notes };
}

/** `[ssh://][user@]host[:port]`, with `[v6addr]:port` brackets, as ProxyJump takes. */
export function parseJumpSpec(spec: string, host: string): { user?: string; host: string; port?: number } {
  let rest = spec.startsWith('ssh://') ? spec.slice('ssh://'.length) : spec;
  let user: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    user = rest.slice(0, at);
    rest = rest.slice(at + 1);
  }
  let hostPart = rest;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(rest);
  if (bracketed) {
    hostPart = bracketed[1] ?? '';
    portText = bracketed[2];
  } else if (rest.split(':').length === 2) {
    [hostPart, portText] = rest.split(':') as [string, string];
  }
  const port = portText === undefined ? undefined : Number(portText);
  if (!hostPart || user === '' || (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535))) {
    throw new TransportError(host, `jump host "${spec}" is not [user@]host[:port]`, 'connect');
  }
  return { ...(user ? { user } : {}), host: hostPart, ...(port !== undefined ? { port } : {}) };
}

/**
 * Reads and decrypts the private key up front, so a missing file, a wrong passphrase or an
 * encrypted key without one is reported by name before any network traffic.
 */
async function loadCredentials(
  host: string,
  source: { explicitKey: string | undefined; configKeys: string[]; passphrase: string | undefined; agent: string | undefined },
): Promise<Credentials> {
  const agentPart = source.agent ? { agent: source.agent } : {};
  let keyPath: string | undefined;
  let key: Buffer | undefined;
  if (source.explicitKey) {
    keyPath = expandHome(source.explicitKey);
    key = await readFile(keyPath).catch((error: NodeJS.ErrnoException) => {
      throw new TransportError(host, `cannot read private key ${keyPath}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`, 'auth');
    });
  } else {
    // Like ssh, skip identity files that do not exist and use the first that does.
    const candidates = source.configKeys.length > 0 ? source.configKeys : defaultIdentityFiles();
    for (const candidate of candidates) {
      key = await readFile(candidate).catch(() => undefined);
      if (key) {
        keyPath = candidate;
        break;
      }
    }
    if (!key && !source.agent) {
      throw new TransportError(
        host,
        `no private key found (tried ${candidates.join(', ')}) and no ssh-agent (SSH_AUTH_SOCK is unset); set ssh.privateKey in the ship config`,
        'auth',
      );
    }
  }
  if (!key || !keyPath) return agentPart;

  // Loaded here, with the first connection's key, not with the command.
  const { default: ssh2 } = await import('ssh2');
  const parsed = ssh2.utils.parseKey(key, source.passphrase);
  if (parsed instanceof Error) {
    const encrypted = /passphrase/i.test(parsed.message);
    if (encrypted && source.passphrase === undefined) {
      // The agent may well hold this key already; only fail when there is nothing else to try.
      if (source.agent) return agentPart;
      throw new TransportError(host, `private key ${keyPath} is encrypted; give its passphrase (ssh.passphrase) or load it into ssh-agent`, 'auth');
    }
    const reason = encrypted ? 'wrong passphrase' : parsed.message;
    throw new TransportError(host, `cannot use private key ${keyPath}: ${reason}`, 'auth');
  }
  return { privateKey: key, privateKeyPath: keyPath, ...(source.passphrase !== undefined ? { passphrase: source.passphrase } : {}), ...agentPart };
}

function expandHome(path: string): string {
  return path === '~' ? homedir() : path.startsWith('~/') ? join(homedir(), path.slice(2)) : path;
}
