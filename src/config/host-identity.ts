/**
 * When two inventory entries are one thing twice: the same host name, the same load-balancer
 * member, or the same SSH endpoint. Each would make one batch act twice on one machine or drain
 * one member for two hosts, so the config check and the inventory merge (config hosts plus EC2)
 * both use these rules, and report every clash with both entries.
 */

export interface HostIdentityFields {
  name: string;
  address: string;
  /** The member's name in the load balancer; the host's name when unset. */
  lbName?: string | undefined;
  port?: number | undefined;
}

/** The name the load balancer knows the host by: `lbName`, else `name` (as every adapter reads it). */
export function effectiveLbName(host: HostIdentityFields): string {
  return host.lbName ?? host.name;
}

/**
 * Where ship connects to the host: its address and port (the host's own, else `ssh.port`, else
 * 22). Hosts behind one address on different ports (NAT, containers) are different machines.
 * ~/.ssh/config may still change the port of a host that sets none; set `port` to be explicit.
 */
export function sshEndpoint(host: HostIdentityFields, defaultPort: number | undefined): string {
  const port = host.port ?? defaultPort ?? 22;
  return host.address.includes(':') ? `[${host.address}]:${port}` : `${host.address}:${port}`;
}

export type IdentityField = 'name' | 'lbName' | 'address';

export interface HostClash {
  field: IdentityField;
  /** What the two entries share, as the user would recognise it. */
  what: string;
  firstIndex: number;
  secondIndex: number;
}

/** Every pair of entries that share a name, an effective lbName, or an address and port; the later one is named second. */
export function hostClashes(hosts: readonly HostIdentityFields[], defaultPort: number | undefined): HostClash[] {
  const keys: Record<IdentityField, (host: HostIdentityFields) => string> = {
    name: (host) => host.name,
    lbName: effectiveLbName,
    address: (host) => sshEndpoint(host, defaultPort),
  };
  const describe: Record<IdentityField, (value: string) => string> = {
    name: (value) => `host name '${value}'`,
    lbName: (value) => `load-balancer name '${value}'`,
    address: (value) => `SSH address ${value}`,
  };
  const clashes: HostClash[] = [];
  for (const field of ['name', 'lbName', 'address'] as const) {
    const firstSeen = new Map<string, number>();
    hosts.forEach((host, index) => {
      const value = keys[field](host);
      const earlier = firstSeen.get(value);
      if (earlier === undefined) firstSeen.set(value, index);
      // A duplicate name is also a duplicate default lbName: report the name only.
      else if (!(field === 'lbName' && hosts[earlier]!.name === host.name)) clashes.push({ field, what: describe[field](value), firstIndex: earlier, secondIndex: index });
    });
  }
  return clashes;
}
