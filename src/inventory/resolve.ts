import type { LoadedConfig } from '../config/load.js';
import type { HostConfig } from '../config/schema.js';
import { discoverEc2Hosts, mergeInventory } from './ec2.js';

/** A host to roll, with where it came from so `ship plan` can show it. */
export type ResolvedHost = HostConfig & { source: 'config' | 'ec2'; instanceId?: string };

/** The config's hosts, then the EC2 instances its inventory filters match (an empty match is an error). */
export async function resolveHosts(loaded: LoadedConfig): Promise<ResolvedHost[]> {
  const { hosts, inventory } = loaded.config;
  const ec2 = inventory?.ec2;
  const discovered = ec2
    ? await discoverEc2Hosts({
        region: ec2.region,
        ...(ec2.endpoint ? { endpoint: ec2.endpoint } : {}),
        filters: { ...(ec2.tags ? { tags: ec2.tags } : {}), ...(ec2.autoScalingGroup ? { autoScalingGroup: ec2.autoScalingGroup } : {}) },
        addressType: ec2.addressType,
        maxAttempts: ec2.maxAttempts,
      })
    : [];
  return mergeInventory(hosts, discovered).map((host) =>
    host.source === 'ec2'
      ? { name: host.name, address: host.address, lbName: host.lbName, source: 'ec2' as const, instanceId: host.instanceId }
      : host,
  );
}
