import { AwsFault } from './faults.js';
import { ec2Filters, scalarList } from './query-params.js';
import type { FakeAwsState, FakeInstance } from './state.js';
import { element, optionalElement } from './xml.js';

/** EC2 DescribeInstances (ec2Query protocol) with filters and NextToken pagination. */

const STATE_CODES: Record<FakeInstance['state'], number> = {
  pending: 0,
  running: 16,
  'shutting-down': 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

/** EC2 filter values accept `*` and `?` wildcards. */
function wildcardMatch(pattern: string, value: string): boolean {
  const regex = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${regex}$`).test(value);
}

function filterValue(instance: FakeInstance, name: string): string[] {
  if (name === 'instance-state-name') return [instance.state];
  if (name === 'instance-id') return [instance.id];
  if (name === 'private-ip-address') return [instance.privateIp];
  if (name === 'tag-key') return Object.keys(instance.tags);
  if (name.startsWith('tag:')) {
    const value = instance.tags[name.slice(4)];
    return value === undefined ? [] : [value];
  }
  throw new AwsFault('InvalidParameterValue', `The filter '${name}' is invalid`);
}

function renderInstance(instance: FakeInstance, ownerId: string): string {
  return element('item', [
    element('reservationId', `r-${instance.id.replace(/^i-/, '')}`),
    element('ownerId', ownerId),
    element('groupSet', []),
    element('instancesSet', [
      element('item', [
        element('instanceId', instance.id),
        element('imageId', 'ami-0fake000000000000'),
        element('instanceState', [element('code', STATE_CODES[instance.state]), element('name', instance.state)]),
        element('instanceType', 't3.micro'),
        element('privateIpAddress', instance.privateIp),
        optionalElement('ipAddress', instance.publicIp),
        element(
          'tagSet',
          Object.entries(instance.tags).map(([key, value]) => element('item', [element('key', key), element('value', value)])),
        ),
      ]),
    ]),
  ]);
}

function decodeToken(token: string): number {
  const offset = Number(
    Buffer.from(token, 'base64url')
      .toString('utf8')
      .replace(/^offset:/, ''),
  );
  if (!Number.isInteger(offset) || offset < 0) throw new AwsFault('InvalidParameterValue', `Invalid value '${token}' for nextToken`);
  return offset;
}

function describeInstances(params: URLSearchParams, state: FakeAwsState, pageSize: number): string {
  const filters = ec2Filters(params);
  const ids = scalarList(params, 'InstanceId');
  const maxResults = params.has('MaxResults') ? Number(params.get('MaxResults')) : undefined;
  if (maxResults !== undefined && (maxResults < 5 || maxResults > 1000)) {
    throw new AwsFault('InvalidParameterValue', `Value ( ${maxResults} ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.`);
  }
  const matching = [...state.instances.values()].filter(
    (instance) =>
      (ids.length === 0 || ids.includes(instance.id)) &&
      filters.every((filter) => filterValue(instance, filter.name).some((value) => filter.values.some((pattern) => wildcardMatch(pattern, value)))),
  );
  const offset = params.has('NextToken') ? decodeToken(params.get('NextToken')!) : 0;
  const limit = Math.min(pageSize, maxResults ?? Infinity);
  const page = matching.slice(offset, offset + limit);
  const next = offset + limit < matching.length ? Buffer.from(`offset:${offset + limit}`).toString('base64url') : undefined;
  return (
    element(
      'reservationSet',
      page.map((instance) => renderInstance(instance, state.accountId)),
    ) + optionalElement('nextToken', next)
  );
}

export function handleEc2(action: string, params: URLSearchParams, state: FakeAwsState, pageSize: number): string {
  if (action === 'DescribeInstances') return describeInstances(params, state, pageSize);
  throw new AwsFault('InvalidAction', `The action ${action} is not valid for this web service.`);
}
