/**
 * Issue 3 end to end: the real `ship deploy` finds its hosts with EC2 tag filters and rolls them
 * through ELBv2 target groups. The AWS side is the local fake (real SDK clients, query protocol,
 * a target state machine whose health checks probe the fleet's real apps); the hosts are the SSH
 * test fleet, each with its own sshd and app. Per-host playbook variables (each host's app
 * directory and restart command) come from instance tags through `inventory.ec2.varsFromTags`.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import type { ResultPromise } from 'execa';
import type { ShipEvent } from '../../src/events.js';
import { sleep } from '../../src/util/deadline.js';
import { FAKE_CREDENTIALS, fakeCredentialsEnv, startFakeAws, type FakeAws, type FakeTargetGroupSpec } from '../fake-aws/index.js';
import { fleetConfig, startFleet, type Fleet } from '../fleet/fleet.js';
import { finished, runShip, startShip, type ShipRun } from '../support/cli.js';
import { watchEvents } from '../support/fleet-assertions.js';

const REGION = 'eu-central-1';
/** Planted in the environment so a leak anywhere in ship's output would show up. */
const SESSION_TOKEN = 'FakeSessionToken/planted+by+aws-deploy-test/NEVER-IN-OUTPUT';
const ENV = { ...fakeCredentialsEnv(), AWS_SESSION_TOKEN: SESSION_TOKEN };

let fleet: Fleet;
let appPort: number;
let configCount = 0;
let versionCount = 1;

before(async () => {
  fleet = await startFleet({ hosts: 3 });
  appPort = Number(new URL(fleet.hosts[0]!.appUrl).port);
});
after(async () => {
  await fleet?.stop();
});

const instanceId = (index: number) => `i-${(0xa0000 + index + 1).toString(16).padStart(17, '0')}`;

interface AwsSetup {
  groups?: Array<Partial<FakeTargetGroupSpec> & { name: string; registered?: number[] }>;
  /** Tags left off an instance, by host index. */
  withoutTags?: Record<number, string[]>;
}

/** The fake with the fleet's hosts as instances (tagged, private IPs = the hosts' addresses) and target groups in front of their apps. */
async function startAws(t: TestContext, setup: AwsSetup = {}): Promise<FakeAws> {
  const groups = setup.groups ?? [{ name: 'web' }];
  const fake = await startFakeAws({
    region: REGION,
    healthyThreshold: 2,
    unhealthyThreshold: 2,
    checkIntervalMs: 100,
    checkTimeoutMs: 300,
    instances: fleet.hosts.map((host, index) => {
      const tags: Record<string, string> = { Name: host.name, Role: 'web', AppDir: host.appDir, RestartCommand: `sh ${host.appDir}/restart.sh ${host.appDir}` };
      for (const key of setup.withoutTags?.[index] ?? []) delete tags[key];
      return { id: instanceId(index), privateIp: host.address, tags };
    }),
    targetGroups: groups.map(({ registered, ...group }) => ({
      healthCheckPath: '/healthz',
      deregistrationDelaySeconds: 2,
      // The simulated clients of a draining target are gone after this: draining ends before the delay.
      drainConnectionsMs: 300,
      ...group,
      port: appPort,
      targets: (registered ?? fleet.hosts.map((_, index) => index)).map((index) => ({ id: instanceId(index) })),
    })),
  });
  t.after(() => fake.stop());
  return fake;
}

interface ConfigOptions {
  arns?: string[];
  tags?: Record<string, string>;
  rollout?: Record<string, unknown>;
}

/** A ship config with no static hosts: everything comes from the fake's EC2 and ELBv2. */
async function writeAwsConfig(fake: FakeAws, options: ConfigOptions = {}): Promise<string> {
  const base = fleetConfig(fleet, { rollout: { drainTimeout: '10s', healthyTimeout: '10s', ...options.rollout } });
  const config = {
    ...base,
    hosts: [],
    vars: { keepReleases: 3 },
    inventory: {
      ec2: {
        region: REGION,
        endpoint: fake.endpoint,
        tags: options.tags ?? { Role: 'web' },
        varsFromTags: { appDir: 'AppDir', restart: 'RestartCommand' },
      },
    },
    loadBalancer: {
      type: 'elbv2',
      region: REGION,
      endpoint: fake.endpoint,
      targetGroupArns: options.arns ?? [...fake.state.targetGroups.keys()],
      pollInterval: '50ms',
      deregistrationMargin: '2s',
    },
  };
  const path = join(fleet.dir, `aws-${++configCount}.config.ts`);
  await writeFile(path, `export default ${JSON.stringify(config, null, 2)};\n`);
  return path;
}

async function deployArgs(config: string): Promise<string[]> {
  const version = `v${++versionCount}`;
  return ['deploy', '--config', config, '--version', version, '--artifact', await fleet.artifact(version), '--json'];
}

const versionOf = (args: string[]) => args[args.indexOf('--version') + 1]!;

async function servedVersion(url: string): Promise<string> {
  const response = await fetch(url);
  return ((await response.json()) as { version: string }).version;
}

const output = (run: ShipRun) => `${run.stdout}\n${run.stderr}`;
const explain = (run: ShipRun) => `exit ${run.code}\nstderr:\n${run.stderr}\nstdout (end):\n${run.stdout.slice(-4000)}`;

/** The most instances ever out of rotation at once, from ship's own `instance.state` events. */
function maxOutFromEvents(events: ShipEvent[]): number {
  let out = 0;
  let maxOut = 0;
  for (const event of events) {
    if (event.type !== 'instance.state') continue;
    if (event.from === 'in-service') out++;
    if (event.to === 'in-service') out--;
    maxOut = Math.max(maxOut, out);
  }
  return maxOut;
}

/** The most instances ever not healthy in some target group at once, from the fake's own record of target states. */
function maxOutFromFake(fake: FakeAws): number {
  const state = new Map<string, string>();
  let maxOut = 0;
  for (const transition of fake.state.transitions) {
    state.set(`${transition.group} ${transition.id}`, transition.to);
    const out = new Set([...state].filter(([, to]) => to !== 'healthy').map(([key]) => key.split(' ')[1]));
    maxOut = Math.max(maxOut, out.size);
  }
  return maxOut;
}

function assertEveryTargetHealthy(fake: FakeAws): void {
  for (const group of fake.state.targetGroups.values()) {
    for (const [index] of fleet.hosts.entries()) {
      assert.equal(fake.state.targetHealth(group.name, instanceId(index)).state, 'healthy', `${instanceId(index)} in ${group.name}`);
    }
  }
}

function assertNothingChanged(fake: FakeAws, run: ShipRun): void {
  assert.deepEqual(
    fake.state.calls.filter((call) => call.action === 'DeregisterTargets' || call.action === 'RegisterTargets'),
    [],
    'no target was deregistered or registered',
  );
  assert.equal(run.events.filter((event) => event.type === 'instance.state').length, 0, 'no instance changed state');
  assert.deepEqual(fake.state.transitions, [], 'no target changed state in the fake');
}

const deregistered = (fake: FakeAws) =>
  fake.state.calls.filter((call) => call.action === 'DeregisterTargets' && call.status === 200).map((call) => call.params['Targets.member.1.Id']!);

/** Waits (in this process, where the fake runs) until the rollout has deregistered its first target. */
async function firstDeregistration(fake: FakeAws, child: ResultPromise): Promise<string> {
  let exited = false;
  void child.finally(() => (exited = true));
  const started = Date.now();
  while (deregistered(fake).length === 0) {
    if (exited) assert.fail('ship exited before deregistering any target');
    if (Date.now() - started > 30_000) assert.fail('no DeregisterTargets within 30 s');
    await sleep(5);
  }
  return deregistered(fake)[0]!;
}

test('a clean rollout: hosts from EC2 tags, plan shows their source, every host on the new version, every target healthy again', async (t) => {
  const fake = await startAws(t);
  const config = await writeAwsConfig(fake);
  const args = await deployArgs(config);

  const plan = await runShip(['plan', ...args.slice(1, -1)], { env: ENV });
  assert.equal(plan.code, 0, explain(plan));
  assert.match(plan.stdout, /hosts: web1 \(ec2\), web2 \(ec2\), web3 \(ec2\)/);

  const run = await runShip(args, { env: ENV });
  assert.equal(run.code, 0, explain(run));
  for (const host of fleet.hosts) assert.equal(await servedVersion(host.appUrl), versionOf(args), `${host.name} serves the new version`);
  const finishedEvent = run.events.find((event) => event.type === 'run.finished');
  assert.ok(finishedEvent?.type === 'run.finished' && finishedEvent.status === 'succeeded');
  assert.deepEqual(
    finishedEvent.summary.hosts.map((host) => [host.host, host.outcome]),
    [
      ['web1', 'deployed'],
      ['web2', 'deployed'],
      ['web3', 'deployed'],
    ],
  );
  const lbCheck = run.events.find((event) => event.type === 'preflight.check' && event.name === 'load balancer');
  assert.ok(lbCheck?.type === 'preflight.check');
  assert.match(lbCheck.detail, /elbv2: 3\/3 healthy and in service; deregistration delay 2s \(web\) within drainTimeout 10s/);

  assert.equal(maxOutFromEvents(run.events), 1);
  assert.equal(maxOutFromFake(fake), 1);
  assert.deepEqual(deregistered(fake), [instanceId(0), instanceId(1), instanceId(2)], 'one instance at a time, in order');
  assertEveryTargetHealthy(fake);
  // The fake's own health checks really reached the apps: every target went initial → healthy on its own.
  for (const [index] of fleet.hosts.entries()) {
    const states = fake.state.transitions.filter((tr) => tr.id === instanceId(index)).map((tr) => tr.to);
    assert.deepEqual(states, ['draining', 'unused', 'initial', 'healthy'], instanceId(index));
  }
});

test('a batch of two: deregistered in one call per target group (the waits share their reads too), every host on the new version', async (t) => {
  const fake = await startAws(t, { groups: [{ name: 'web' }, { name: 'api', healthCheckPath: '/' }] });
  const args = await deployArgs(await writeAwsConfig(fake, { rollout: { batchSize: 2 } }));
  const run = await runShip(args, { env: ENV });
  assert.equal(run.code, 0, explain(run));
  for (const host of fleet.hosts) assert.equal(await servedVersion(host.appUrl), versionOf(args), `${host.name} serves the new version`);
  // Batches: the canary web1, then web2 and web3 together.
  const deregistrations = fake.state.calls
    .filter((call) => call.action === 'DeregisterTargets' && call.status === 200)
    .map((call) => [
      call.params.TargetGroupArn,
      Object.entries(call.params)
        .filter(([key]) => /^Targets\.member\.\d+\.Id$/.test(key))
        .map(([, id]) => id)
        .sort(),
    ]);
  const web = fake.state.group('web').arn;
  const api = fake.state.group('api').arn;
  assert.deepEqual(
    deregistrations.sort((a, b) => String(a).localeCompare(String(b))),
    [
      [api, [instanceId(0)]],
      [api, [instanceId(1), instanceId(2)]],
      [web, [instanceId(0)]],
      [web, [instanceId(1), instanceId(2)]],
    ],
  );
  // Every read of target health is a whole target group's: the waits of a batch share them instead of asking per target.
  assert.ok(fake.state.calls.filter((call) => call.action === 'DescribeTargetHealth').every((call) => !Object.keys(call.params).some((key) => key.startsWith('Targets.'))));
  assert.equal(maxOutFromFake(fake), 2);
  assertEveryTargetHealthy(fake);
});

test('throttling while draining (DeregisterTargets, DescribeTargetHealth) is retried and the rollout still succeeds', async (t) => {
  const fake = await startAws(t);
  const args = await deployArgs(await writeAwsConfig(fake));
  fake.inject({ action: 'DeregisterTargets', times: 1, error: 'Throttling' });
  const child = startShip(args, { env: ENV });
  t.after(() => void child.kill());
  await firstDeregistration(fake, child);
  // The drain wait polls DescribeTargetHealth: throttle it now, then a 5xx, all within the SDK's attempts.
  fake.inject({ action: 'DescribeTargetHealth', times: 1, error: 'Throttling' });
  fake.inject({ action: 'DescribeTargetHealth', times: 1, error: 'ServiceUnavailable' });
  const run = await finished(child);

  assert.equal(run.code, 0, explain(run));
  for (const host of fleet.hosts) assert.equal(await servedVersion(host.appUrl), versionOf(args));
  const calls = fake.state.calls;
  const firstRegister = calls.findIndex((call) => call.action === 'RegisterTargets');
  const firstGoodDeregister = calls.findIndex((call) => call.action === 'DeregisterTargets' && call.status === 200);
  assert.deepEqual(
    calls
      .filter((call) => call.action === 'DeregisterTargets')
      .slice(0, 2)
      .map((call) => call.status),
    [400, 200],
    'DeregisterTargets was throttled, then retried',
  );
  const failedDuringDrain = calls
    .slice(firstGoodDeregister, firstRegister)
    .filter((call) => call.action === 'DescribeTargetHealth' && call.status !== 200)
    .map((call) => call.status);
  assert.deepEqual(failedDuringDrain, [400, 503], 'DescribeTargetHealth failed while the first instance drained');
  assert.equal(maxOutFromEvents(run.events), 1);
  assert.equal(maxOutFromFake(fake), 1);
  assertEveryTargetHealthy(fake);
});

test('a target the load balancer never sees healthy after registering: exit 1, named with its state, left out, nothing else rolled', async (t) => {
  const fake = await startAws(t);
  const versionsBefore = await Promise.all(fleet.hosts.map((host) => servedVersion(host.appUrl)));
  const args = await deployArgs(await writeAwsConfig(fake, { rollout: { healthyTimeout: '2s' } }));
  const child = startShip(args, { env: ENV });
  t.after(() => void child.kill());
  // ship's own checks still pass (the app is fine); only the load balancer's checks cannot reach it, as after a security group change.
  const canary = await firstDeregistration(fake, child);
  fake.state.blockHealthChecks(canary);
  const run = await finished(child);

  assert.equal(run.code, 1, explain(run));
  const host = fleet.hosts[fleet.hosts.findIndex((_, index) => instanceId(index) === canary)]!;
  const finishedEvent = run.events.find((event) => event.type === 'run.finished');
  assert.ok(finishedEvent?.type === 'run.finished' && finishedEvent.status === 'failed');
  const summary = finishedEvent.summary.hosts.find((entry) => entry.host === host.name);
  assert.equal(summary?.outcome, 'failed-out');
  assert.match(summary.error ?? '', new RegExp(`${host.name}: not confirmed healthy by the load balancer`));
  assert.match(summary.error ?? '', new RegExp(`${canary}: become healthy in every target group did not finish within 2000ms`));
  assert.match(summary.error ?? '', /last seen: web: unhealthy \(Target\.Timeout: Request timed out\)/);
  assert.deepEqual(finishedEvent.summary.outOfRotation, [host.name]);

  assert.equal(maxOutFromEvents(run.events), 1);
  assert.deepEqual(deregistered(fake), [canary], 'the rollout stopped after the failed instance');
  assert.equal(fake.state.targetHealth('web', canary).state, 'unhealthy');
  for (const [index, other] of fleet.hosts.entries()) {
    if (other === host) continue;
    assert.equal(fake.state.targetHealth('web', instanceId(index)).state, 'healthy', `${other.name} untouched and healthy`);
    assert.equal(await servedVersion(other.appUrl), versionsBefore[index], `${other.name} still on its version`);
  }
});

test('a target group ARN that does not exist: pre-flight refuses (exit 3) naming it, nothing changed', async (t) => {
  const fake = await startAws(t);
  const missing = `arn:aws:elasticloadbalancing:${REGION}:123456789012:targetgroup/web-old/0123456789abcdef`;
  const run = await runShip(await deployArgs(await writeAwsConfig(fake, { arns: [...fake.state.targetGroups.keys(), missing] })), { env: ENV });
  assert.equal(run.code, 3, explain(run));
  assert.match(output(run), new RegExp(`target group not found in ${REGION}: ${missing.replace(/[/.]/g, '\\$&')}\\.`));
  assert.ok(!output(run).includes(`not found in ${REGION}: ${[...fake.state.targetGroups.keys()][0]}`), 'the existing group is not blamed');
  assertNothingChanged(fake, run);
});

test('an instance in two target groups is drained from both and healthy in both before the next one leaves', async (t) => {
  // Different health check paths and drain lengths, so "done in one group" and "done in both" differ.
  const fake = await startAws(t, {
    groups: [
      { name: 'web', drainConnectionsMs: 200 },
      { name: 'api', healthCheckPath: '/', drainConnectionsMs: 700 },
    ],
  });
  const run = await runShip(await deployArgs(await writeAwsConfig(fake)), { env: ENV });
  assert.equal(run.code, 0, explain(run));

  const arnOf = (name: string) => fake.state.group(name).arn;
  for (const [index] of fleet.hosts.entries()) {
    const groups = fake.state.calls
      .filter((call) => call.action === 'DeregisterTargets' && call.status === 200 && call.params['Targets.member.1.Id'] === instanceId(index))
      .map((call) => call.params.TargetGroupArn)
      .sort();
    assert.deepEqual(groups, [arnOf('api'), arnOf('web')].sort(), `${instanceId(index)} deregistered from both groups`);
  }
  const transitions = fake.state.transitions;
  for (let index = 0; index + 1 < fleet.hosts.length; index++) {
    const next = transitions.find((tr) => tr.id === instanceId(index + 1) && tr.to === 'draining')!;
    for (const group of ['web', 'api']) {
      const back = transitions.find((tr) => tr.id === instanceId(index) && tr.group === group && tr.to === 'healthy');
      assert.ok(back && back.seq < next.seq, `${instanceId(index)} healthy in ${group} before ${instanceId(index + 1)} was drained`);
      const gone = transitions.find((tr) => tr.id === instanceId(index) && tr.group === group && tr.to === 'unused')!;
      const registered = transitions.find((tr) => tr.id === instanceId(index) && tr.to === 'initial')!;
      assert.ok(gone.seq < registered.seq, `${instanceId(index)} finished draining from ${group} before it was registered again`);
    }
  }
  assert.equal(maxOutFromEvents(run.events), 1);
  assert.equal(maxOutFromFake(fake), 1);
  assertEveryTargetHealthy(fake);
});

test('a tag filter that matches nothing: a config error (exit 2) naming the filters, and no call to the load balancer', async (t) => {
  const fake = await startAws(t);
  const config = await writeAwsConfig(fake, { tags: { Role: 'wbe', Env: 'prod' } });
  const run = await runShip(await deployArgs(config), { env: ENV });
  assert.equal(run.code, 2, explain(run));
  assert.match(run.stderr, new RegExp(`${config.replace(/[/.]/g, '\\$&')}: invalid config`));
  assert.match(run.stderr, new RegExp(`inventory\\.ec2: no running EC2 instance in ${REGION} matches tag Role=wbe, tag Env=prod`));
  assert.deepEqual([...new Set(fake.state.calls.map((call) => call.action))], ['DescribeInstances']);
  assertNothingChanged(fake, run);
});

test('expired credentials: a clear error that says what to do, no secret in any output, nothing changed', async (t) => {
  const secrets = [FAKE_CREDENTIALS.secretAccessKey, SESSION_TOKEN];

  // Expiring after discovery: the load balancer pre-flight refuses.
  const late = await startAws(t);
  late.inject({ after: 1, times: 100, error: 'ExpiredToken' });
  const refused = await runShip(await deployArgs(await writeAwsConfig(late)), { env: ENV });
  assert.equal(refused.code, 3, explain(refused));
  assert.match(output(refused), /ELBv2 DescribeTargetGroups: the AWS credentials have expired \(ExpiredToken\)\. Refresh them/);
  for (const secret of secrets) assert.ok(!output(refused).includes(secret), 'a credential appeared in the output');
  assertNothingChanged(late, refused);

  // Expired from the start: discovery is the first call and stops the run.
  const early = await startAws(t);
  early.inject({ times: 100, error: 'ExpiredToken' });
  const stopped = await runShip(await deployArgs(await writeAwsConfig(early)), { env: ENV });
  // Nothing was changed, so an AWS failure during discovery is a refusal like any pre-flight one.
  assert.equal(stopped.code, 3, explain(stopped));
  assert.match(stopped.stderr, /EC2 DescribeInstances: the AWS credentials have expired \(ExpiredToken\)\. Refresh them/);
  for (const secret of secrets) assert.ok(!output(stopped).includes(secret), 'a credential appeared in the output');
  assert.deepEqual(
    early.state.calls.map((call) => [call.action, call.status]),
    [['DescribeInstances', 403]],
    'an expired token is not retried',
  );
  assertNothingChanged(early, stopped);
});

test('an instance not registered in the target group: pre-flight refuses (exit 3) naming it and the group', async (t) => {
  const fake = await startAws(t, { groups: [{ name: 'web', registered: [0, 1] }] });
  const run = await runShip(await deployArgs(await writeAwsConfig(fake)), { env: ENV });
  assert.equal(run.code, 3, explain(run));
  assert.match(output(run), new RegExp(`${instanceId(2)} is not registered in target group web \\(arn:`));
  assert.ok(!new RegExp(`${instanceId(0)} is not registered`).test(output(run)));
  assertNothingChanged(fake, run);
});

test('a target group in another region than the configured one: refused with both regions before any load balancer call', async (t) => {
  const fake = await startAws(t);
  const elsewhere = 'arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/web/0123456789abcdef';
  const run = await runShip(await deployArgs(await writeAwsConfig(fake, { arns: [elsewhere] })), { env: ENV });
  // The config names a target group the configured region cannot reach: the config's to fix.
  assert.equal(run.code, 2, explain(run));
  assert.match(run.stderr, new RegExp(`target group ${elsewhere.replace(/[/.]/g, '\\$&')} is in region us-west-2, but the configured region is ${REGION}`));
  assert.deepEqual(
    fake.state.calls.filter((call) => call.service === 'elbv2'),
    [],
    'no ELBv2 call was made',
  );
  assertNothingChanged(fake, run);
});

test('a deregistration delay longer than rollout.drainTimeout: pre-flight refuses (exit 3) with both numbers and what to change', async (t) => {
  const fake = await startAws(t, { groups: [{ name: 'web' }, { name: 'api', healthCheckPath: '/', deregistrationDelaySeconds: 30 }] });
  const run = await runShip(await deployArgs(await writeAwsConfig(fake)), { env: ENV });
  assert.equal(run.code, 3, explain(run));
  assert.match(output(run), /the deregistration delay of target group api \(30s\) is longer than rollout\.drainTimeout \(10s\)/);
  assert.match(output(run), /Lower the group's deregistration_delay\.timeout_seconds attribute to at most 10, or raise rollout\.drainTimeout to at least '30s'/);
  assert.ok(!/target group web \(/.test(output(run)), 'the group within the timeout is not blamed');
  assertNothingChanged(fake, run);
});

test('varsFromTags: an instance without the tag has no value for that variable, and pre-flight names the host and variable', async (t) => {
  const fake = await startAws(t, { withoutTags: { 1: ['AppDir'] } });
  const run = await runShip(await deployArgs(await writeAwsConfig(fake)), { env: ENV });
  assert.equal(run.code, 3, explain(run));
  assert.match(output(run), /playbook deploy-release needs variables that are not set: web2: appDir \(set them in vars, per host, or with --var\)/);
  assertNothingChanged(fake, run);
});

test('canary analysis on ELBv2: an alarm going to ALARM during the canary bake stops the rollout (SHIP-E055), the canary is rolled back, nothing else is rolled', async (t) => {
  const fake = await startAws(t);
  fake.state.setAlarm('web-5xx-high', 'OK');
  const config = await writeAwsConfig(fake, { rollout: { bake: '3s', analysis: { alarms: ['web-5xx-high'] } } });
  const args = await deployArgs(config);
  const before = await Promise.all(fleet.hosts.map((host) => servedVersion(host.appUrl)));
  const child = startShip(args, { env: ENV });
  t.after(() => void child.kill());
  // CloudWatch's own evaluation, as it would turn on the canary's 5xx: the moment its bake starts.
  watchEvents(child, (event) => {
    if (event.type === 'analysis.started') fake.state.setAlarm('web-5xx-high', 'ALARM', 'Threshold Crossed: 1 datapoint [12.0] was greater than the threshold (5.0)');
  });
  const run = await finished(child);
  assert.equal(run.code, 1, explain(run));
  const verdict = run.events.find((event) => event.type === 'analysis.verdict');
  assert.ok(verdict?.type === 'analysis.verdict', explain(run));
  assert.equal(verdict.verdict, 'fail');
  assert.equal(verdict.code, 'SHIP-E055');
  assert.match(verdict.line, /^canary web1: FAIL: alarm web-5xx-high is ALARM \(Threshold Crossed: 1 datapoint \[12\.0\] was greater than the threshold \(5\.0\)\)/);
  const done = run.events.find((event) => event.type === 'run.finished');
  assert.ok(done?.type === 'run.finished');
  assert.equal(done.summary.code, 'SHIP-E055');
  assert.deepEqual(
    done.summary.hosts.map((host) => [host.host, host.outcome, host.release]),
    [
      ['web1', 'rolled-back', before[0]],
      ['web2', 'not-started', before[1]],
      ['web3', 'not-started', before[2]],
    ],
  );
  assert.deepEqual(await Promise.all(fleet.hosts.map((host) => servedVersion(host.appUrl))), before, 'every host serves what it served before the run');
  assert.deepEqual(deregistered(fake), [instanceId(0), instanceId(0)], 'only the canary left, once to be deployed and once to be rolled back');
  assertEveryTargetHealthy(fake);
  const describes = fake.state.calls.filter((call) => call.service === 'cloudwatch');
  assert.ok(describes.length >= 2 && describes.every((call) => call.action === 'DescribeAlarms' && call.status === 200), 'the alarm was read through the SDK');
});

test('canary analysis on ELBv2: an alarm that does not exist is refused at pre-flight (exit 3, SHIP-E057), before anything changes', async (t) => {
  const fake = await startAws(t);
  const run = await runShip(await deployArgs(await writeAwsConfig(fake, { rollout: { bake: '3s', analysis: { alarms: ['no-such-alarm'] } } })), { env: ENV });
  assert.equal(run.code, 3, explain(run));
  assert.match(output(run), /CloudWatch has no alarm no-such-alarm/);
  const done = run.events.find((event) => event.type === 'run.finished');
  assert.ok(done?.type === 'run.finished' && done.summary.code === 'SHIP-E057', explain(run));
  assertNothingChanged(fake, run);
});
