import assert from 'node:assert/strict';
import net from 'node:net';
import { inspect } from 'node:util';
import { test, type TestContext } from 'node:test';
import { Elbv2LoadBalancer, type Elbv2Options } from '../../src/lb/elbv2.js';
import { LoadBalancerError, type MemberState } from '../../src/lb/load-balancer.js';
import { DeadlineError } from '../../src/util/deadline.js';
import { startHealthApps, type HealthApps } from '../fake-aws/health-apps.js';
import { FAKE_CREDENTIALS, fakeCredentialsEnv, startFakeAws, type FakeAws, type FakeAwsOptions, type FakeTargetGroupSpec } from '../fake-aws/index.js';

// The real SDK clients find these through their default provider chain, as they would find a user's.
Object.assign(process.env, fakeCredentialsEnv());

const REGION = 'us-east-1';
const CHECK_MS = 50;

interface Fleet {
  apps: HealthApps;
  fake: FakeAws;
  arn(name: string): string;
  provider(arns: string[], options?: Partial<Elbv2Options>): Elbv2LoadBalancer;
}

const instanceId = (index: number) => `i-0000000000000000${index + 1}`;
const hostName = (index: number) => `web${index + 1}`;

/** Apps on loopback for `count` instances, and the fake with target groups in front of them. */
async function fleet(t: TestContext, count: number, groups: Array<Omit<FakeTargetGroupSpec, 'port'> & { registered?: number[] }>, options: FakeAwsOptions = {}): Promise<Fleet> {
  const apps = await startHealthApps(count);
  t.after(() => apps.stop());
  const fake = await startFakeAws({
    region: REGION,
    healthyThreshold: 2,
    unhealthyThreshold: 2,
    checkIntervalMs: CHECK_MS,
    checkTimeoutMs: 300,
    ...options,
    instances: apps.apps.map((app, index) => ({ id: instanceId(index), privateIp: app.address, tags: { Name: hostName(index) } })),
    targetGroups: groups.map(({ registered, ...group }) => ({
      healthCheckPath: '/healthz',
      ...group,
      port: apps.port,
      targets: (registered ?? apps.apps.map((_, index) => index)).map((index) => ({
        id: group.targetType === 'ip' ? apps.apps[index]!.address : instanceId(index),
      })),
    })),
  });
  t.after(() => fake.stop());
  return {
    apps,
    fake,
    arn: (name) => fake.state.group(name).arn,
    provider(arns, overrides = {}) {
      const lb = new Elbv2LoadBalancer({
        region: REGION,
        endpoint: fake.endpoint,
        targetGroupArns: arns,
        maxAttempts: 4,
        pollIntervalMs: 50,
        deregistrationMarginMs: 2_000,
        resolveTarget: (name) => {
          const index = Number(name.replace(/^web/, '')) - 1;
          if (!Number.isInteger(index) || index < 0 || index >= count) throw new Error(`no host named ${name}`);
          return { id: instanceId(index) };
        },
        ...overrides,
      });
      t.after(() => lb.close());
      return lb;
    },
  };
}

async function eventually(what: string, condition: () => boolean, timeoutMs = 3_000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const WAIT = { deadlineMs: 10_000 };

test('members() counts capacity from DescribeTargetHealth, with the reason for every unhealthy target', async (t) => {
  const { apps, fake, arn, provider } = await fleet(t, 3, [{ name: 'web', deregistrationDelaySeconds: 30 }]);
  apps.apps[1]!.statusByPath.set('/healthz', 503);
  fake.state.deregister('web', [{ id: instanceId(2) }]);
  await eventually('web2 to fail its health checks', () => fake.state.targetHealth('web', instanceId(1), apps.port).state === 'unhealthy');

  const lb = provider([arn('web')]);
  await lb.verify(['web1', 'web2', 'web3']);
  const members = await lb.members(['web1', 'web2', 'web3']);
  assert.deepEqual(
    members.map((member) => [member.name, member.healthy, member.inService]),
    [
      ['web1', true, true],
      ['web2', false, false],
      ['web3', false, false],
    ],
  );
  assert.match(members[1]!.detail, /web: unhealthy \(Target\.ResponseCodeMismatch: Health checks failed with these codes: \[503\]\)/);
  assert.match(members[2]!.detail, /web: draining \(Target\.DeregistrationInProgress/);
  assert.ok((apps.apps[1]!.hits.get('/healthz') ?? 0) >= 2, 'the fake really probed the app');
});

test('drain finishes early when connections end, then back in only after the health checks pass', async (t) => {
  const { apps, fake, arn, provider } = await fleet(t, 2, [{ name: 'web', deregistrationDelaySeconds: 20, drainConnectionsMs: 300 }], {
    healthyThreshold: 3,
  });
  const lb = provider([arn('web')]);
  await lb.verify(['web1', 'web2']);

  const drainStarted = Date.now();
  await lb.startDrain('web1');
  assert.equal(fake.state.targetHealth('web', instanceId(0), apps.port).state, 'draining');
  await lb.takeOut('web1');
  const seen: MemberState[] = [];
  await lb.waitDrained('web1', { deadlineMs: 30_000, onProgress: (state) => seen.push(state) });
  const drainedAfter = Date.now() - drainStarted;
  assert.ok(drainedAfter >= 250 && drainedAfter < 3_000, `drained after ${drainedAfter}ms: when connections ended, not after the 20s delay`);
  assert.ok(
    seen.some((state) => /draining/.test(state.detail)),
    'progress showed the draining state',
  );
  assert.equal(fake.state.targetHealth('web', instanceId(0)).state, 'unused');
  assert.equal((await lb.members(['web2']))[0]!.healthy, true, 'the other instance stayed in service');

  const hitsBefore = apps.apps[0]!.hits.get('/healthz') ?? 0;
  const registered = Date.now();
  await lb.putBack('web1');
  assert.equal(fake.state.targetHealth('web', instanceId(0), apps.port).state, 'initial');
  await lb.waitHealthy('web1', WAIT);
  const healthyAfter = Date.now() - registered;
  assert.ok(healthyAfter >= 2 * CHECK_MS, `healthy after ${healthyAfter}ms, not before three checks could pass`);
  assert.ok((apps.apps[0]!.hits.get('/healthz') ?? 0) - hitsBefore >= 3, 'three passing checks reached the app');
  const registerCall = fake.state.calls.find((call) => call.action === 'RegisterTargets');
  assert.equal(registerCall?.params['Targets.member.1.Port'], String(apps.port), 'registered again with the port it had');
});

test('without early connection end, draining lasts the deregistration delay read from the target group attributes', async (t) => {
  const { fake, arn, provider } = await fleet(t, 1, [
    { name: 'web', deregistrationDelaySeconds: 1 },
    { name: 'other', deregistrationDelaySeconds: 0 },
  ]);
  const lb = provider([arn('web'), arn('other')]);
  await lb.verify(['web1']);
  assert.equal(await lb.longestDeregistrationDelayMs(), 1_000);
  const started = Date.now();
  await lb.startDrain('web1');
  await lb.waitDrained('web1', { deadlineMs: 30_000 });
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 1_000 && elapsed < 2_500, `drained after ${elapsed}ms for a 1s delay`);
  assert.ok(fake.state.callCount('DescribeTargetGroupAttributes') >= 1);
});

test('a drain that outlasts the deregistration delay plus the margin is a DeadlineError, however long the caller would wait', async (t) => {
  const { fake, arn, provider } = await fleet(t, 1, [{ name: 'web', deregistrationDelaySeconds: 1 }]);
  const lb = provider([arn('web')], { deregistrationMarginMs: 300 });
  await lb.verify(['web1']);
  // AWS misbehaving: the target keeps draining well past the delay the group's attributes announced.
  fake.state.group('web').deregistrationDelaySeconds = 60;
  await lb.startDrain('web1');
  const started = Date.now();
  await assert.rejects(lb.waitDrained('web1', { deadlineMs: 60_000 }), (error: unknown) => {
    assert.ok(error instanceof DeadlineError);
    assert.equal(error.instance, `web1 (${instanceId(0)})`);
    assert.match(error.message, /deregistration delay 1\.00s/);
    assert.match(error.lastSeen, /web: draining/);
    return true;
  });
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 1_000 && elapsed < 2_500, `gave up after ${elapsed}ms: delay 1s + margin 0.3s`);
});

test('throttling during the drain is retried by the SDK and the drain still completes', async (t) => {
  const { fake, arn, provider } = await fleet(t, 2, [{ name: 'web', deregistrationDelaySeconds: 10, drainConnectionsMs: 200 }]);
  const lb = provider([arn('web')], { maxAttempts: 4 });
  await lb.verify(['web1', 'web2']);
  fake.inject({ action: 'DeregisterTargets', times: 1, error: 'Throttling' });
  fake.inject({ action: 'DescribeTargetHealth', times: 1, error: 'ServiceUnavailable' });
  await lb.startDrain('web1');
  fake.inject({ action: 'DescribeTargetHealth', times: 1, error: 'Throttling' });
  await lb.waitDrained('web1', { deadlineMs: 30_000 });
  const deregisters = fake.state.calls.filter((call) => call.action === 'DeregisterTargets').map((call) => call.status);
  assert.deepEqual(deregisters, [400, 200], 'a throttled attempt, then the retry that worked');
  const healthStatuses = fake.state.calls.filter((call) => call.action === 'DescribeTargetHealth').map((call) => call.status);
  assert.ok(healthStatuses.includes(503) && healthStatuses.includes(400), `health reads failed and were retried: ${healthStatuses.join(' ')}`);
  assert.equal(fake.state.targetHealth('web', instanceId(0)).state, 'unused');
});

test('when the retries run out the error says which call, how often it was tried and what AWS answered', async (t) => {
  const { apps, fake, arn, provider } = await fleet(t, 1, [{ name: 'web' }]);
  const lb = provider([arn('web')], { maxAttempts: 3 });
  await lb.verify(['web1']);
  fake.inject({ action: 'DeregisterTargets', times: 10, error: 'ServiceUnavailable' });
  await assert.rejects(lb.startDrain('web1'), (error: unknown) => {
    assert.ok(error instanceof LoadBalancerError);
    assert.match(error.message, /drain web1 \(i-0+1\)/);
    assert.match(error.message, /ELBv2 DeregisterTargets/);
    assert.match(error.message, /after 3 attempts/);
    assert.match(error.message, /503 ServiceUnavailable/);
    assert.match(error.message, /raise maxAttempts/);
    return true;
  });
  assert.equal(fake.state.callCount('DeregisterTargets'), 3, 'maxAttempts is honoured');
  assert.equal(fake.state.targetHealth('web', instanceId(0), apps.port).state, 'healthy', 'nothing changed');
});

test('a target that never becomes healthy is a DeadlineError naming the target and its last state', async (t) => {
  const { apps, fake, arn, provider } = await fleet(t, 1, [{ name: 'web', deregistrationDelaySeconds: 5, drainConnectionsMs: 50 }]);
  const lb = provider([arn('web')]);
  await lb.verify(['web1']);
  await lb.startDrain('web1');
  await lb.waitDrained('web1', WAIT);
  apps.apps[0]!.statusByPath.set('/healthz', 500);
  await lb.putBack('web1');
  await assert.rejects(lb.waitHealthy('web1', { deadlineMs: 1_000 }), (error: unknown) => {
    assert.ok(error instanceof DeadlineError, String(error));
    assert.equal(error.instance, `web1 (${instanceId(0)})`);
    assert.equal(error.step, 'become healthy in every target group');
    assert.match(error.lastSeen, /web: unhealthy \(Target\.ResponseCodeMismatch: Health checks failed with these codes: \[500\]\)/);
    return true;
  });
  assert.equal(fake.state.targetHealth('web', instanceId(0), apps.port).state, 'unhealthy');
});

test('pre-flight names a target group that does not exist, and only that one', async (t) => {
  const { arn, provider } = await fleet(t, 1, [{ name: 'web' }]);
  const missing = `arn:aws:elasticloadbalancing:${REGION}:123456789012:targetgroup/gone/0123456789abcdef`;
  const lb = provider([arn('web'), missing]);
  await assert.rejects(lb.verify(['web1']), (error: unknown) => {
    assert.ok(error instanceof LoadBalancerError);
    assert.match(error.message, /target group not found in us-east-1/);
    assert.ok(error.message.includes(missing));
    assert.ok(!error.message.includes(arn('web')), 'the existing group is not blamed');
    return true;
  });
});

test('pre-flight names every instance that is not registered in a target group, or registered but unused', async (t) => {
  const { fake, arn, provider } = await fleet(t, 4, [{ name: 'web' }, { name: 'api', registered: [0, 1, 3] }]);
  fake.state.instances.get(instanceId(3))!.state = 'stopped';
  const lb = provider([arn('web'), arn('api')]);
  await assert.rejects(lb.verify(['web1', 'web2', 'web3', 'web4']), (error: unknown) => {
    assert.ok(error instanceof LoadBalancerError);
    assert.match(error.message, /web3 \(i-0+3\) is not registered in target group api/);
    assert.match(error.message, /web4 \(i-0+4\) is registered in target group web but unused: unused \(Target\.InvalidState: Target is in the stopped state\)/);
    assert.ok(!/web[12] /.test(error.message), error.message);
    return true;
  });
  await lb.verify(['web1', 'web2']);
});

test('a target group ARN from another region is refused before any call', () => {
  const west = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123456789abcdef';
  assert.throws(
    () => new Elbv2LoadBalancer({ region: REGION, endpoint: 'http://127.0.0.1:9', targetGroupArns: [west], resolveTarget: (id) => ({ id }) }),
    (error: unknown) => error instanceof LoadBalancerError && error.message.includes(west) && /region eu-west-1, but the configured region is us-east-1/.test(error.message),
  );
  assert.throws(
    () => new Elbv2LoadBalancer({ region: REGION, targetGroupArns: ['arn:aws:elasticloadbalancing:us-east-1:1:nope'], resolveTarget: (id) => ({ id }) }),
    /not a target group ARN/,
  );
});

test('an instance in two target groups is drained from both and healthy only when healthy in both', async (t) => {
  const { apps, fake, arn, provider } = await fleet(t, 2, [
    { name: 'web', deregistrationDelaySeconds: 10, drainConnectionsMs: 100 },
    { name: 'api', deregistrationDelaySeconds: 1, healthCheckPath: '/api/healthz' },
  ]);
  const lb = provider([arn('web'), arn('api')]);
  await lb.verify(['web1', 'web2']);

  const started = Date.now();
  await lb.startDrain('web1');
  assert.equal(fake.state.targetHealth('web', instanceId(0), apps.port).state, 'draining');
  assert.equal(fake.state.targetHealth('api', instanceId(0), apps.port).state, 'draining');
  await eventually('web to finish draining', () => fake.state.targetHealth('web', instanceId(0)).state === 'unused');
  assert.equal((await lb.members(['web1']))[0]!.healthy, false);
  await lb.waitDrained('web1', WAIT);
  assert.ok(Date.now() - started >= 1_000, 'waited for the slower group (1s delay) as well');
  assert.equal(fake.state.targetHealth('api', instanceId(0)).state, 'unused');

  apps.apps[0]!.statusByPath.set('/api/healthz', 503);
  await lb.putBack('web1');
  let healthy = false;
  const waiting = lb.waitHealthy('web1', WAIT).then(() => (healthy = true));
  await eventually('web1 healthy in web', () => fake.state.targetHealth('web', instanceId(0), apps.port).state === 'healthy');
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(healthy, false, 'healthy in one group is not healthy');
  const [member] = await lb.members(['web1']);
  assert.equal(member!.healthy, false);
  assert.match(member!.detail, /web: healthy; api: (initial|unhealthy)/);
  apps.apps[0]!.statusByPath.delete('/api/healthz');
  await waiting;
  assert.equal((await lb.members(['web1']))[0]!.healthy, true);
});

test("a batch's instances are drained, watched and registered with one call per target group, not one per instance", async (t) => {
  const { fake, arn, provider } = await fleet(t, 3, [
    { name: 'web', deregistrationDelaySeconds: 5, drainConnectionsMs: 100 },
    { name: 'api', deregistrationDelaySeconds: 5, drainConnectionsMs: 100 },
  ]);
  // Draining ends after 100 ms and health after two checks 50 ms apart, long before the waits first look (one interval on).
  const lb = provider([arn('web'), arn('api')], { pollIntervalMs: 1_000 });
  const batch = ['web1', 'web2', 'web3'];
  await lb.verify(batch);
  const callsSince = (from: number) => {
    const calls = fake.state.calls.slice(from);
    const targets = (action: string) =>
      calls
        .filter((call) => call.action === action)
        .map((call) => [call.params.TargetGroupArn, Object.keys(call.params).filter((key) => /^Targets\.member\.\d+\.Id$/.test(key)).length]);
    return { health: calls.filter((call) => call.action === 'DescribeTargetHealth').length, deregister: targets('DeregisterTargets'), register: targets('RegisterTargets') };
  };
  const both = (count: number) => [
    [arn('web'), count],
    [arn('api'), count],
  ];

  // The capacity check before the batch reads each group once for the three.
  let from = fake.state.calls.length;
  assert.equal((await lb.members(batch)).filter((member) => member.healthy).length, 3);
  assert.deepEqual(callsSince(from), { health: 2, deregister: [], register: [] });
  // Drained side by side: that read, a moment old, tells the ports each target is registered with; one deregistration per group for the three.
  from = fake.state.calls.length;
  await Promise.all(batch.map((name) => lb.startDrain(name)));
  assert.deepEqual(callsSince(from), { health: 0, deregister: both(3), register: [] });
  // The three waits look once, together: one read per group answers all three.
  from = fake.state.calls.length;
  await Promise.all(batch.map((name) => lb.waitDrained(name, { deadlineMs: 10_000 })));
  assert.deepEqual(callsSince(from), { health: 2, deregister: [], register: [] });

  // Back side by side: one registration per group for the three, and one read per group for their health waits.
  from = fake.state.calls.length;
  await Promise.all(batch.map((name) => lb.putBack(name)));
  await Promise.all(batch.map((name) => lb.waitHealthy(name, { deadlineMs: 10_000 })));
  assert.deepEqual(callsSince(from), { health: 2, deregister: [], register: both(3) });
});

test('ip target groups: the member resolves to its address and is drained and registered by IP', async (t) => {
  const { apps, fake, arn, provider } = await fleet(t, 1, [{ name: 'web-ip', targetType: 'ip', deregistrationDelaySeconds: 5, drainConnectionsMs: 50 }]);
  const address = apps.apps[0]!.address;
  const lb = provider([arn('web-ip')], { resolveTarget: () => ({ id: address, port: apps.port }) });
  await lb.verify(['web1']);
  await lb.startDrain('web1');
  assert.equal(fake.state.targetHealth('web-ip', address, apps.port).state, 'draining');
  await lb.waitDrained('web1', WAIT);
  await lb.putBack('web1');
  await lb.waitHealthy('web1', WAIT);
  assert.equal(fake.state.targetHealth('web-ip', address, apps.port).state, 'healthy');
  assert.equal(fake.state.calls.find((call) => call.action === 'RegisterTargets')?.params['Targets.member.1.Id'], address);

  const byInstanceId = provider([arn('web-ip')]);
  await assert.rejects(byInstanceId.verify(['web1']), /not an IP address as target group web-ip \(ip type\) needs/);
});

test('expired credentials: a clear error that says what to do and carries no secret', async (t) => {
  const { fake, arn, provider } = await fleet(t, 1, [{ name: 'web' }]);
  const lb = provider([arn('web')]);
  fake.inject({ action: 'DescribeTargetGroups', times: 1, error: 'ExpiredToken' });
  const error = await lb.verify(['web1']).then(
    () => assert.fail('verify should fail'),
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof LoadBalancerError);
  assert.match(error.message, /AWS credentials have expired \(ExpiredToken\)/);
  assert.match(error.message, /aws sso login/);
  const everything = `${error.message}\n${inspect(error, { depth: 10 })}\n${JSON.stringify(error)}`;
  assert.ok(!everything.includes(FAKE_CREDENTIALS.secretAccessKey), 'no secret key');
  assert.ok(!everything.includes(FAKE_CREDENTIALS.accessKeyId), 'no access key id');
  assert.equal(fake.state.callCount('DescribeTargetGroups'), 1, 'an expired token is not retried');
});

test('no credentials anywhere in the default chain: a clear error before any request', async (t) => {
  const { fake, arn, provider } = await fleet(t, 1, [{ name: 'web' }]);
  const saved = { ...process.env };
  t.after(() => {
    process.env = saved;
  });
  delete process.env.AWS_ACCESS_KEY_ID;
  delete process.env.AWS_SECRET_ACCESS_KEY;
  delete process.env.AWS_PROFILE;
  const lb = provider([arn('web')], { maxAttempts: 1 });
  await assert.rejects(lb.verify(['web1']), (error: unknown) => {
    assert.ok(error instanceof LoadBalancerError);
    assert.match(error.message, /no usable AWS credentials/);
    assert.match(error.message, /AWS_PROFILE/);
    return true;
  });
  assert.equal(fake.state.calls.length, 0, 'nothing unsigned was sent');
});

test('an endpoint nobody answers on: a clear error naming the endpoint, after the configured attempts', async () => {
  const closed = net.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', () => resolve()));
  const { port } = closed.address() as net.AddressInfo;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const arn = `arn:aws:elasticloadbalancing:${REGION}:123456789012:targetgroup/web/0123456789abcdef`;
  const lb = new Elbv2LoadBalancer({ region: REGION, endpoint: `http://127.0.0.1:${port}`, targetGroupArns: [arn], maxAttempts: 2, resolveTarget: (id) => ({ id }) });
  try {
    await assert.rejects(lb.verify(['i-00000000000000001']), (error: unknown) => {
      assert.ok(error instanceof LoadBalancerError);
      assert.match(error.message, new RegExp(`cannot reach the API at http://127\\.0\\.0\\.1:${port} after 2 attempts \\(ECONNREFUSED\\)`));
      return true;
    });
  } finally {
    await lb.close();
  }
});

test('waitSettings names the target group whose health checks make a registered target wait longest, with HealthCheckIntervalSeconds and HealthyThresholdCount', async (t) => {
  const { arn, provider } = await fleet(t, 1, [{ name: 'web' }], { healthyThreshold: 4 });
  const lb = provider([arn('web')]);
  const settings = await lb.waitSettings(['web1']);
  // The fake reports its 50 ms interval as AWS's smallest, 5 s.
  assert.deepEqual(settings, {
    cause: 'target group web checks a registered target every 5 s (HealthCheckIntervalSeconds) and calls it healthy after 4 passing checks (HealthyThresholdCount): up to 20 s',
    change: 'lower HealthCheckIntervalSeconds (5 at the least) or HealthyThresholdCount (2 at the least) of target group web',
  });
});
