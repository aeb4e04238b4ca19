import type { HostConfig } from '../config/schema.js';
import { resolvePath, type LoadedConfig } from '../config/load.js';
import { LocalTransport } from './local.js';
import { SshTransport } from './ssh.js';
import type { Transport } from './transport.js';

export interface TransportOverrides {
  /** --accept-new-host-keys: trust and record keys of hosts not yet in known_hosts (never a changed key). */
  acceptNewHostKeys?: boolean;
}

export function transportFor(host: HostConfig, loaded: LoadedConfig, overrides: TransportOverrides = {}): Transport {
  const { config, dir } = loaded;
  const kind = host.transport ?? config.transport;
  if (kind === 'local') return new LocalTransport({ host: host.name });
  const ssh = config.ssh;
  const agent = ssh.agent === true ? process.env.SSH_AUTH_SOCK : ssh.agent || undefined;
  return new SshTransport({
    host: host.name,
    address: host.address,
    ...((host.port ?? ssh.port) ? { port: host.port ?? ssh.port } : {}),
    ...((host.user ?? ssh.user) ? { user: host.user ?? ssh.user } : {}),
    ...(ssh.privateKey ? { privateKeyPath: resolvePath(dir, ssh.privateKey) } : {}),
    ...(ssh.passphrase ? { passphrase: ssh.passphrase } : {}),
    agent: agent ?? false,
    knownHostsPath: resolvePath(dir, ssh.knownHosts),
    acceptNewHostKeys: overrides.acceptNewHostKeys ?? ssh.acceptNewHostKeys,
    sshConfigPath: ssh.configFile === false ? false : resolvePath(dir, ssh.configFile),
    ...(ssh.jumpHost ? { jumpHost: ssh.jumpHost } : {}),
    connectTimeoutMs: ssh.connectTimeout,
    commandTimeoutMs: ssh.commandTimeout,
    keepaliveIntervalMs: ssh.keepaliveInterval,
  });
}
