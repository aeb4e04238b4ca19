import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { test, type TestContext } from 'node:test';
import { AwsError } from '../../src/aws/errors.js';
import { discoverEc2Hosts, InventoryError, mergeInventory, type Ec2InventoryOptions } from '../../src/inventory/ec2.js';
import { FAKE_CREDENTIALS, fakeCredentialsEnv, startFakeAws, type FakeAws, type FakeInstanceSpec } from '../fake-aws/index.js';

// The real EC2 client finds these through the SDK's default provider chain.
Object.assign(process.env, fakeCredentialsEnv());

const REGION = 'eu-west-1';

/** Addresses are never dialled here; they only have to be distinct. */
const INSTANCES: FakeInstanceSpec[] = [
  { id: 'i-0000000000000000a', privateIp: '10.0.1.10', publicIp: '203.0.113.10', tags: { Name: 'web-a', Role: 'web', Env: 'prod' } },
  { id: 'i-0000000000000000b', privateIp: '10.0.1.11', publicIp: '203.0.113.11', tags: { Name: 'web-b', Role: 'web', Env: 'prod' } },
  { id: 'i-0000000000000000c', privateIp: '10.0.1.12', tags: { Role: 'web', Env: 'prod' } },
  { id: 'i-0000000000000000d', privateIp: '10.0.1.13', tags: { Name: 'web-d', Role: 'web', Env: 'staging' } },
  { id: 'i-0000000000000000e', privateIp: '10.0.1.14', state: 'stopped', tags: { Name: 'web-e', Role: 'web', Env: 'prod' } },
  { id: 'i-0000000000000000f', privateIp: '10.0.1.15', tags: { Name: 'db-1', Role: 'db', Env: 'prod' } },
  { id: 'i-00000000000000010', privateIp: '10.0.1.16', tags: { Name: 'worker-1', Role: 'worker', 'aws:autoscaling:groupName': 'workers-asg' } },
  { id: 'i-00000000000000011', privateIp: '10.0.1.17', tags: { Name: 'worker-2', Role: 'worker', 'aws:autoscaling:groupName': 'workers-asg' } },
  { id: 'i-00000000000000012', privateIp: '10.0.1.18', tags: { Name: 'other-1', 'aws:autoscaling:groupName': 'other-asg' } },
];

async function fake(t: TestContext): Promise<FakeAws> {
  const started = await startFakeAws({ region: REGION, instances: INSTANCES, ec2PageSize: 2 });
  t.after(() => started.stop());
  return started;
}

function options(aws: FakeAws, overrides: Partial<Ec2InventoryOptions>): Ec2InventoryOptions {
  return { region: REGION, endpoint: aws.endpoint, filters: {}, addressType: 'private', maxAttempts: 3, ...overrides };
}

test('running instances matching the tags, across every page, named by their Name tag or instance id', async (t) => {
  const aws = await fake(t);
  const hosts = await discoverEc2Hosts(options(aws, { filters: { tags: { Role: 'web' } } }));
  assert.deepEqual(hosts, [
    { name: 'i-0000000000000000c', address: '10.0.1.12', lbName: 'i-0000000000000000c', instanceId: 'i-0000000000000000c', source: 'ec2' },
    { name: 'web-a', address: '10.0.1.10', lbName: 'i-0000000000000000a', instanceId: 'i-0000000000000000a', source: 'ec2' },
    { name: 'web-b', address: '10.0.1.11', lbName: 'i-0000000000000000b', instanceId: 'i-0000000000000000b', source: 'ec2' },
    { name: 'web-d', address: '10.0.1.13', lbName: 'i-0000000000000000d', instanceId: 'i-0000000000000000d', source: 'ec2' },
  ]);
  const calls = aws.state.calls.filter((call) => call.action === 'DescribeInstances');
  assert.equal(calls.length, 2, 'four matches at two per page: two pages');
  assert.equal(calls[0]!.params.NextToken, undefined);
  assert.ok(calls[1]!.params.NextToken, 'the second page was asked for with the token of the first');
  const filters = Object.entries(calls[0]!.params).filter(([key]) => key.startsWith('Filter.'));
  assert.deepEqual(Object.fromEntries(filters), {
    'Filter.1.Name': 'instance-state-name',
    'Filter.1.Value.1': 'running',
    'Filter.2.Name': 'tag:Role',
    'Filter.2.Value.1': 'web',
  });
});

test('several tags must all match, several values of one tag are alternatives, wildcards work', async (t) => {
  const aws = await fake(t);
  const prodWeb = await discoverEc2Hosts(options(aws, { filters: { tags: { Role: 'web', Env: 'prod' } } }));
  assert.deepEqual(prodWeb.map((host) => host.instanceId).sort(), ['i-0000000000000000a', 'i-0000000000000000b', 'i-0000000000000000c']);
  const webOrDb = await discoverEc2Hosts(options(aws, { filters: { tags: { Role: ['web', 'db'], Env: 'prod' } } }));
  assert.equal(webOrDb.length, 4);
  assert.ok(webOrDb.some((host) => host.name === 'db-1'));
  const wildcard = await discoverEc2Hosts(options(aws, { filters: { tags: { Name: 'web-?' } } }));
  assert.deepEqual(
    wildcard.map((host) => host.name),
    ['web-a', 'web-b', 'web-d'],
  );
});

test('an Auto Scaling group name selects its instances through the aws:autoscaling:groupName tag', async (t) => {
  const aws = await fake(t);
  const hosts = await discoverEc2Hosts(options(aws, { filters: { autoScalingGroup: 'workers-asg' } }));
  assert.deepEqual(
    hosts.map((host) => host.name),
    ['worker-1', 'worker-2'],
  );
  const narrowed = await discoverEc2Hosts(options(aws, { filters: { autoScalingGroup: 'other-asg', tags: { Name: 'other-*' } } }));
  assert.deepEqual(
    narrowed.map((host) => host.name),
    ['other-1'],
  );
});

test('a filter that matches nothing is an error naming the filters, not an empty rollout', async (t) => {
  const aws = await fake(t);
  await assert.rejects(discoverEc2Hosts(options(aws, { filters: { tags: { Role: 'wbe' }, autoScalingGroup: 'web-asg' } })), (error: unknown) => {
    assert.ok(error instanceof InventoryError);
    assert.match(error.message, /no running EC2 instance in eu-west-1 matches tag Role=wbe, Auto Scaling group web-asg/);
    return true;
  });
  await assert.rejects(discoverEc2Hosts(options(aws, { filters: { tags: { Name: 'web-e' } } })), /no running EC2 instance/, 'stopped instances do not count');
  await assert.rejects(discoverEc2Hosts(options(aws, { filters: {} })), /filters is empty/);
});

test('public addresses when asked for, and an instance without one is named', async (t) => {
  const aws = await fake(t);
  const hosts = await discoverEc2Hosts(options(aws, { addressType: 'public', filters: { tags: { Name: ['web-a', 'web-b'] } } }));
  assert.deepEqual(
    hosts.map((host) => host.address),
    ['203.0.113.10', '203.0.113.11'],
  );
  await assert.rejects(
    discoverEc2Hosts(options(aws, { addressType: 'public', filters: { tags: { Role: 'web', Env: 'prod' } } })),
    /EC2 instance i-0000000000000000c \(i-0000000000000000c\) has no public IP address/,
  );
});

test('throttling on a later page is retried and the listing is still complete', async (t) => {
  const aws = await fake(t);
  aws.inject({ action: 'DescribeInstances', after: 1, times: 1, error: 'RequestLimitExceeded' });
  aws.inject({ action: 'DescribeInstances', times: 1, error: 'InternalFailure' });
  const hosts = await discoverEc2Hosts(options(aws, { filters: { tags: { Role: 'web' } } }));
  assert.equal(hosts.length, 4);
  const calls = aws.state.calls.filter((call) => call.action === 'DescribeInstances');
  assert.deepEqual(
    calls.map((call) => [call.status, call.params.NextToken === undefined ? 'first page' : 'next page']),
    [
      [200, 'first page'],
      [503, 'next page'],
      [500, 'next page'],
      [200, 'next page'],
    ],
  );
});

test('retries that run out, and expired credentials, are clear errors with no secret in them', async (t) => {
  const aws = await fake(t);
  aws.inject({ action: 'DescribeInstances', times: 2, error: 'RequestLimitExceeded' });
  await assert.rejects(discoverEc2Hosts(options(aws, { maxAttempts: 2, filters: { tags: { Role: 'web' } } })), (error: unknown) => {
    assert.ok(error instanceof AwsError);
    assert.equal(error.kind, 'throttled');
    assert.match(error.message, /EC2 DescribeInstances: AWS kept throttling the request after 2 attempts \(RequestLimitExceeded/);
    return true;
  });

  const callsBefore = aws.state.callCount('DescribeInstances');
  aws.inject({ action: 'DescribeInstances', times: 5, error: 'ExpiredToken' });
  const error = await discoverEc2Hosts(options(aws, { filters: { tags: { Role: 'web' } } })).then(
    () => assert.fail('discovery should fail'),
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof AwsError);
  assert.equal(error.kind, 'credentials');
  assert.match(error.message, /EC2 DescribeInstances: the AWS credentials have expired \(ExpiredToken\)/);
  const everything = `${error.message}\n${inspect(error, { depth: 10 })}\n${JSON.stringify(error)}`;
  assert.ok(!everything.includes(FAKE_CREDENTIALS.secretAccessKey));
  assert.ok(!everything.includes(FAKE_CREDENTIALS.accessKeyId));
  assert.equal(aws.state.callCount('DescribeInstances') - callsBefore, 1, 'an expired token is not retried');
});

test('mergeInventory keeps where each host came from and refuses a host listed twice', async (t) => {
  const aws = await fake(t);
  const discovered = await discoverEc2Hosts(options(aws, { filters: { autoScalingGroup: 'workers-asg' } }));
  const merged = mergeInventory([{ name: 'bastion-app', address: '10.9.0.1', port: 2222 }], discovered);
  assert.deepEqual(
    merged.map((host) => [host.name, host.source]),
    [
      ['bastion-app', 'config'],
      ['worker-1', 'ec2'],
      ['worker-2', 'ec2'],
    ],
  );
  assert.equal((merged[0] as { port?: number }).port, 2222, 'config fields pass through');

  assert.throws(
    () =>
      mergeInventory(
        [
          { name: 'worker-1', address: '10.9.0.2' },
          { name: 'spare', address: '10.0.1.17' },
        ],
        discovered,
      ),
    (error: unknown) => {
      assert.ok(error instanceof InventoryError);
      assert.match(error.message, /name 'worker-1' is used by both config hosts\[0\] \(worker-1\) and EC2 instance i-00000000000000010/);
      assert.match(error.message, /SSH address 10\.0\.1\.17:22 is used by both config hosts\[1\] \(spare\) and EC2 instance i-00000000000000011/);
      return true;
    },
  );
  assert.throws(
    () => mergeInventory([{ name: 'w1', address: '10.9.0.3', lbName: 'i-00000000000000010' }], discovered),
    /load-balancer name 'i-00000000000000010' is used by both config hosts\[0\] \(w1\) and EC2 instance i-00000000000000010/,
  );
  // The effective name counts: a config host without lbName is its load balancer's member by its name.
  assert.throws(
    () => mergeInventory([{ name: 'i-00000000000000011', address: '10.9.0.4' }], discovered),
    /load-balancer name 'i-00000000000000011' is used by both config hosts\[0\] \(i-00000000000000011\) and EC2 instance i-00000000000000011/,
  );
  // One address on another SSH port is another machine (NAT, containers); on the same port it is the same one.
  assert.equal(mergeInventory([{ name: 'nat-1', address: '10.0.1.17', port: 2201 }], discovered).length, 3);
  assert.throws(() => mergeInventory([{ name: 'nat-1', address: '10.0.1.17', port: 2201 }], discovered, 2201), /SSH address 10\.0\.1\.17:2201 is used by both/);
});
