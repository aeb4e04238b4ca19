import type { Filter, Instance } from '@aws-sdk/client-ec2';
import { awsClientConfig, describeEndpoint } from '../aws/clients.js';
import { callAws } from '../aws/errors.js';
import { hostClashes } from '../config/host-identity.js';
import { ERROR_CODES, type CodedError } from '../errors/codes.js';

/**
 * Hosts from EC2: running instances chosen by tags and/or Auto Scaling group. The result is
 * merged with the config's `hosts`, each host keeping where it came from so `ship plan` can
 * say so. An empty result is an error: a filter that matches nothing is almost always a typo,
 * and "rolled 0 instances, success" would hide it.
 */

export interface Ec2Filters {
  /** Tag key → value (or any of several values). Values may use EC2's `*` and `?` wildcards. */
  tags?: Record<string, string | string[]>;
  autoScalingGroup?: string;
}

export interface Ec2InventoryOptions {
  region: string;
  endpoint?: string;
  filters: Ec2Filters;
  addressType: 'private' | 'public';
  maxAttempts?: number;
  /** Variable name → tag key: per-host playbook variables read from each instance's tags. */
  varsFromTags?: Record<string, string>;
}

export interface Ec2Host {
  name: string;
  address: string;
  /** The instance id: what instance-type target groups know the host by. */
  lbName: string;
  instanceId: string;
  source: 'ec2';
  /** From `varsFromTags`; only the variables whose tag the instance has. */
  vars?: Record<string, string>;
}

export interface ConfigHostLike {
  name: string;
  address: string;
  lbName?: string;
  port?: number;
}

export type InventoryHost<H extends ConfigHostLike = ConfigHostLike> = (H & { source: 'config' }) | Ec2Host;

export class InventoryError extends Error implements CodedError {
  /** The config field to fix, for the error shown to the user. */
  constructor(
    message: string,
    readonly field = 'inventory.ec2',
  ) {
    super(message);
    this.name = 'InventoryError';
  }

  get shipCode() {
    return ERROR_CODES.inventoryFailed;
  }
}

/** Auto Scaling tags every instance it launches with this; filtering on it needs no Auto Scaling API. */
const ASG_TAG = 'aws:autoscaling:groupName';
const PAGE_SIZE = 100;

function ec2Filters(filters: Ec2Filters): Filter[] {
  const result: Filter[] = [{ Name: 'instance-state-name', Values: ['running'] }];
  for (const [key, value] of Object.entries(filters.tags ?? {})) {
    result.push({ Name: `tag:${key}`, Values: Array.isArray(value) ? value : [value] });
  }
  if (filters.autoScalingGroup !== undefined) result.push({ Name: `tag:${ASG_TAG}`, Values: [filters.autoScalingGroup] });
  return result;
}

export function describeEc2Filters(filters: Ec2Filters): string {
  const parts = Object.entries(filters.tags ?? {}).map(([key, value]) => `tag ${key}=${Array.isArray(value) ? value.join('|') : value}`);
  if (filters.autoScalingGroup !== undefined) parts.push(`Auto Scaling group ${filters.autoScalingGroup}`);
  return parts.join(', ');
}

function varsOf(instance: Instance, varsFromTags: Record<string, string>): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const [name, tagKey] of Object.entries(varsFromTags)) {
    const value = instance.Tags?.find((tag) => tag.Key === tagKey)?.Value;
    if (value !== undefined) vars[name] = value;
  }
  return vars;
}

function hostOf(instance: Instance, options: Ec2InventoryOptions): Ec2Host {
  const { addressType, varsFromTags } = options;
  const instanceId = instance.InstanceId ?? '';
  const name = instance.Tags?.find((tag) => tag.Key === 'Name')?.Value || instanceId;
  const address = addressType === 'private' ? instance.PrivateIpAddress : instance.PublicIpAddress;
  if (!address) {
    throw new InventoryError(
      `EC2 instance ${instanceId} (${name}) has no ${addressType} IP address; ` +
        `set inventory.ec2.addressType to '${addressType === 'private' ? 'public' : 'private'}' or give the instance one`,
      'inventory.ec2.addressType',
    );
  }
  return { name, address, lbName: instanceId, instanceId, source: 'ec2', ...(varsFromTags ? { vars: varsOf(instance, varsFromTags) } : {}) };
}

export async function discoverEc2Hosts(options: Ec2InventoryOptions): Promise<Ec2Host[]> {
  const described = describeEc2Filters(options.filters);
  if (!described) {
    throw new InventoryError('the set of EC2 filters is empty: give inventory.ec2.tags and/or autoScalingGroup, so ship never rolls every instance in the account');
  }
  const config = awsClientConfig(options);
  // Loaded only when the config discovers hosts: every deploy resolves its hosts through this module.
  const { EC2Client, paginateDescribeInstances } = await import('@aws-sdk/client-ec2');
  const client = new EC2Client(config);
  try {
    const instances = await callAws({ service: 'EC2', action: 'DescribeInstances', where: describeEndpoint(options) }, async () => {
      const found: Instance[] = [];
      for await (const page of paginateDescribeInstances({ client, pageSize: PAGE_SIZE }, { Filters: ec2Filters(options.filters) })) {
        for (const reservation of page.Reservations ?? []) found.push(...(reservation.Instances ?? []));
      }
      return found;
    });
    if (instances.length === 0) {
      throw new InventoryError(
        `no running EC2 instance in ${options.region} matches ${described}; check inventory.ec2.tags / autoScalingGroup and the region ` +
          '(ship refuses an empty inventory rather than rolling nothing)',
      );
    }
    return instances.map((instance) => hostOf(instance, options)).sort((a, b) => a.name.localeCompare(b.name));
  } finally {
    client.destroy();
  }
}

/**
 * Config hosts first, then discovered ones. A name, an effective load-balancer name (lbName, else
 * name) or an SSH address and port used twice is an error naming both sources: the same machine
 * listed twice would be rolled twice in one batch, and one member drained for two hosts.
 * `sshPort` is the config's ssh.port, the port of every host that sets none (else 22).
 */
export function mergeInventory<H extends ConfigHostLike>(configHosts: readonly H[], discovered: readonly Ec2Host[], sshPort?: number): Array<InventoryHost<H>> {
  const merged: Array<InventoryHost<H>> = [...configHosts.map((host) => ({ ...host, source: 'config' as const })), ...discovered];
  const origin = (index: number) => {
    const host = merged[index]!;
    return host.source === 'ec2' ? `EC2 instance ${host.instanceId}` : `config hosts[${index}] (${host.name})`;
  };
  const clashes = hostClashes(merged, sshPort);
  if (clashes.length) {
    const problems = clashes.map((clash) => `${clash.what} is used by both ${origin(clash.firstIndex)} and ${origin(clash.secondIndex)}`);
    // Two config entries are the config's to fix; a discovered one clashing is a config entry to drop or a filter to narrow.
    const withEc2 = clashes.some((clash) => merged[clash.secondIndex]!.source === 'ec2');
    const advice = withEc2
      ? 'Remove the config entry for a discovered instance, or narrow inventory.ec2.tags / autoScalingGroup.'
      : 'Remove one of each pair, or give each host its own lbName, or its own port if they are different machines behind one address.';
    throw new InventoryError(`the inventory lists a host twice:\n  - ${problems.join('\n  - ')}\n${advice}`, 'hosts');
  }
  return merged;
}
