import { ConfigError } from '../config/errors.js';
import type { LoadedConfig } from '../config/load.js';
import type { HostConfig } from '../config/schema.js';
import { discoverEc2Hosts, InventoryError, mergeInventory } from './ec2.js';

/** A host to roll, with where it came from so `ship plan` can show it. */
export type ResolvedHost = HostConfig & { source: 'config' | 'ec2'; instanceId?: string };

/**
 * The config's hosts, then the EC2 instances its inventory filters match. An inventory problem
 * (no match, a host listed twice, a missing address) is the config's to fix, so it is reported
 * as a config error naming the file and field (exit 2), before anything is changed.
 */
export async function resolveHosts(loaded: LoadedConfig): Promise<ResolvedHost[]> {
  const { hosts, inventory } = loaded.config;
  const ec2 = inventory?.ec2;
  try {
    const discovered = ec2
      ? await discoverEc2Hosts({
          region: ec2.region,
          ...(ec2.endpoint ? { endpoint: ec2.endpoint } : {}),
          filters: { ...(ec2.tags ? { tags: ec2.tags } : {}), ...(ec2.autoScalingGroup ? { autoScalingGroup: ec2.autoScalingGroup } : {}) },
          addressType: ec2.addressType,
          maxAttempts: ec2.maxAttempts,
          ...(ec2.varsFromTags ? { varsFromTags: ec2.varsFromTags } : {}),
        })
      : [];
    return mergeInventory(hosts, discovered, loaded.config.ssh.port).map((host) =>
      host.source === 'ec2'
        ? {
            name: host.name,
            address: host.address,
            lbName: host.lbName,
            source: 'ec2' as const,
            instanceId: host.instanceId,
            ...(host.vars ? { vars: host.vars } : {}),
          }
        : host,
    );
  } catch (error) {
    if (error instanceof InventoryError) throw new ConfigError(loaded.file, [`${error.field}: ${error.message}`]);
    throw error;
  }
}
