import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { iamPolicy, iamPolicyCommand, iamPolicyOfRoles } from '../../src/cli/iam-policy.js';
import { ConfigError } from '../../src/config/errors.js';
import { validateConfig } from '../../src/config/load.js';

const WEB = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/73e2d6bc24d8a067';
const API = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api/0123456789abcdef';
const HEALTH = { http: { port: 8080 } };

function config(overrides: Record<string, unknown>) {
  return validateConfig({ app: 'storefront', health: HEALTH, hosts: [{ name: 'web1', address: '10.0.0.1' }], ...overrides }, 'test.config.ts').config;
}

function actionsOf(policy: ReturnType<typeof iamPolicy>): string[] {
  return policy.Statement.flatMap((statement) => statement.Action).sort();
}

test('elbv2 with EC2 inventory: write actions only on the configured target groups, reads narrowed to the region', () => {
  const policy = iamPolicy(
    config({
      loadBalancer: { type: 'elbv2', region: 'us-east-1', targetGroupArns: [WEB, API, WEB] },
      inventory: { ec2: { region: 'us-east-1', tags: { Role: 'web' } } },
    }),
  );
  assert.equal(policy.Version, '2012-10-17');
  assert.deepEqual(actionsOf(policy), [
    'ec2:DescribeInstances',
    'elasticloadbalancing:DeregisterTargets',
    'elasticloadbalancing:DescribeTargetGroupAttributes',
    'elasticloadbalancing:DescribeTargetGroups',
    'elasticloadbalancing:DescribeTargetHealth',
    'elasticloadbalancing:RegisterTargets',
  ]);
  for (const statement of policy.Statement) {
    assert.equal(statement.Effect, 'Allow');
    const writes = statement.Action.some((action) => /Register|Deregister/.test(action));
    if (writes) {
      assert.deepEqual(statement.Resource, [API, WEB], 'register/deregister only on the configured groups, once each');
      assert.equal(statement.Condition, undefined);
    } else {
      assert.equal(statement.Resource, '*', `${statement.Sid}: describe calls have no resource-level permissions`);
      assert.deepEqual(statement.Condition, { StringEquals: { 'aws:RequestedRegion': ['us-east-1'] } });
    }
  }
  assert.equal(new Set(policy.Statement.map((statement) => statement.Sid)).size, policy.Statement.length, 'Sids are unique');
});

test('target groups in several regions: the read statement allows exactly those regions', () => {
  const west = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/fedcba9876543210';
  const policy = iamPolicy(config({ loadBalancer: { type: 'elbv2', region: 'us-east-1', targetGroupArns: [WEB, west] } }));
  const read = policy.Statement.find((statement) => statement.Action.includes('elasticloadbalancing:DescribeTargetHealth'));
  assert.deepEqual(read?.Condition, { StringEquals: { 'aws:RequestedRegion': ['eu-west-1', 'us-east-1'] } });
  assert.ok(!actionsOf(policy).includes('ec2:DescribeInstances'), 'no EC2 permission without inventory.ec2');
});

test('HAProxy with EC2 inventory needs only ec2:DescribeInstances', () => {
  const policy = iamPolicy(
    config({
      hosts: [],
      loadBalancer: { type: 'haproxy', runtimeApi: '127.0.0.1:9999', backend: 'app' },
      inventory: { ec2: { region: 'eu-central-1', autoScalingGroup: 'web-asg' } },
    }),
  );
  assert.deepEqual(policy.Statement, [
    {
      Sid: 'ShipDiscoverInstances',
      Effect: 'Allow',
      Action: ['ec2:DescribeInstances'],
      Resource: '*',
      Condition: { StringEquals: { 'aws:RequestedRegion': ['eu-central-1'] } },
    },
  ]);
});

test('a config that never calls AWS is refused instead of printing an empty policy', () => {
  assert.throws(
    () => iamPolicy(config({ loadBalancer: { type: 'haproxy', runtimeApi: '127.0.0.1:9999', backend: 'app' } }), 'ship.config.ts'),
    (error: unknown) => error instanceof ConfigError && /ship\.config\.ts/.test(error.message) && /needs no IAM policy/.test(error.message),
  );
});

test('an ARN that is not a target group is named by its config path', () => {
  const loadBalancerArn = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188';
  assert.throws(
    () => iamPolicy(config({ loadBalancer: { type: 'elbv2', region: 'us-east-1', targetGroupArns: [WEB, loadBalancerArn] } })),
    (error: unknown) => error instanceof ConfigError && error.message.includes('loadBalancer.targetGroupArns[1]') && error.message.includes(loadBalancerArn),
  );
});

test('the iam-policy command loads the config file and prints the policy as JSON', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ship-iam-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'orchestrator.config.ts');
  writeFileSync(
    file,
    `export default { app: 'shop', health: { http: { port: 8080 } }, hosts: [{ name: 'a', address: '10.0.0.1' }],
       loadBalancer: { type: 'elbv2', region: 'us-east-1', targetGroupArns: [${JSON.stringify(WEB)}] } };\n`,
  );
  const printed: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string) => {
    printed.push(chunk);
    return true;
  }) as typeof process.stdout.write;
  try {
    await iamPolicyCommand.handler({ config: file, _: [], $0: 'ship' });
  } finally {
    process.stdout.write = write;
  }
  const policy = JSON.parse(printed.join('')) as ReturnType<typeof iamPolicy>;
  const writes = policy.Statement.find((statement) => statement.Action.includes('elasticloadbalancing:RegisterTargets'));
  assert.deepEqual(writes?.Resource, [WEB]);
});

test('canary analysis alarms: DescribeAlarms on exactly the named alarms, in the region and account of the target groups', () => {
  const policy = iamPolicy(
    config({
      loadBalancer: { type: 'elbv2', region: 'us-east-1', targetGroupArns: [WEB] },
      rollout: { bake: '60s', analysis: { alarms: ['web-5xx-high', 'web-latency', 'web-5xx-high'] } },
    }),
  );
  const statement = policy.Statement.find((s) => s.Sid === 'ShipReadCanaryAlarms');
  assert.deepEqual(statement, {
    Sid: 'ShipReadCanaryAlarms',
    Effect: 'Allow',
    Action: ['cloudwatch:DescribeAlarms'],
    Resource: ['arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-5xx-high', 'arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-latency'],
  });
  const without = iamPolicy(config({ loadBalancer: { type: 'elbv2', region: 'us-east-1', targetGroupArns: [WEB] } }));
  assert.ok(!actionsOf(without).includes('cloudwatch:DescribeAlarms'));
});

test('an app with roles: one policy, each statement once, with every role’s target groups; a role without AWS adds nothing', async () => {
  const loaded = {
    config: validateConfig(
      {
        app: 'storefront',
        health: HEALTH,
        loadBalancer: { type: 'elbv2', region: 'us-east-1', targetGroupArns: [WEB] },
        roles: {
          web: { hosts: [{ name: 'web1', address: '10.0.0.1' }] },
          api: { hosts: [{ name: 'api1', address: '10.0.0.2' }], loadBalancer: { type: 'elbv2', region: 'us-east-1', targetGroupArns: [API] } },
          workers: { hosts: [{ name: 'work1', address: '10.0.0.3' }], loadBalancer: { type: 'none' } },
        },
      },
      'test.config.ts',
    ).config,
    file: '/x/test.config.ts',
    dir: '/x',
  };
  const { selectRoles } = await import('../../src/config/roles.js');
  const policy = iamPolicyOfRoles(selectRoles(loaded).map((role) => role.loaded.config));
  assert.deepEqual(
    policy.Statement.map((s) => s.Sid),
    ['ShipReadTargetGroupHealth', 'ShipDrainAndRestoreTargets'],
  );
  assert.deepEqual(policy.Statement.find((s) => s.Sid === 'ShipDrainAndRestoreTargets')!.Resource, [API, WEB].sort());
  assert.throws(
    () => iamPolicyOfRoles(selectRoles(loaded, ['workers']).map((role) => role.loaded.config)),
    (error: unknown) => error instanceof ConfigError && /ship needs no IAM policy/.test(error.message),
  );
});
