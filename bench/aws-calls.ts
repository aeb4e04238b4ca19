/**
 * AWS API calls per instance rolled through ELBv2 (issue 17, item 6): `ship deploy` on the AWS
 * test path (test/integration/aws-deploy.test.ts): hosts found by EC2 tags, rolled through a
 * target group of the local fake AWS (real SDK clients; its health checks probe the real apps),
 * the fleet real sshd hosts. The fake records every request; this counts them by action, over the
 * instances rolled: deregistering, registering and polling target health (drain and healthy
 * waits, the capacity check before each batch), plus the run's fixed calls (pre-flight,
 * inventory), shown apart.
 *
 * Counts, not timings: they depend on how long the waits last against the poll interval, which
 * the settings fix (target group: healthy after 2 checks 100 ms apart, drained when its clients
 * are gone after 300 ms; ship polls every 50 ms, as the tests do, and every 2 s, its default).
 * Prints one JSON object.
 *
 *   node --import tsx bench/aws-calls.ts [--hosts 8] [--runs 3] [--ship <bin/ship.js of another checkout, to compare>]
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startFakeAws, fakeCredentialsEnv, type FakeAws } from '../test/fake-aws/index.js';
import { fleetConfig, startFleet, type Fleet } from '../test/fleet/fleet.js';
import { argument, median, ROOT, runCommand } from './lib/common.js';

const REGION = 'eu-central-1';
const SHIP_BIN = process.argv.includes('--ship') ? process.argv[process.argv.indexOf('--ship') + 1]! : join(ROOT, 'bin', 'ship.js');
const TARGET_PER_INSTANCE = 6;
/** Calls made once per run whatever its size: pre-flight reads and the EC2 inventory. */
const PER_RUN_ACTIONS = new Set(['DescribeInstances', 'DescribeTargetGroups', 'DescribeTargetGroupAttributes']);

const instanceId = (index: number) => `i-${(0xb0000 + index + 1).toString(16).padStart(17, '0')}`;

async function startAws(fleet: Fleet, groups: number): Promise<FakeAws> {
  const port = Number(new URL(fleet.hosts[0]!.appUrl).port);
  return startFakeAws({
    region: REGION,
    healthyThreshold: 2,
    unhealthyThreshold: 2,
    checkIntervalMs: 100,
    checkTimeoutMs: 300,
    instances: fleet.hosts.map((host, index) => ({
      id: instanceId(index),
      privateIp: host.address,
      tags: { Name: host.name, Role: 'web', AppDir: host.appDir, RestartCommand: `sh ${host.appDir}/restart.sh ${host.appDir}` },
    })),
    targetGroups: Array.from({ length: groups }, (_, g) => ({
      name: `web-${g + 1}`,
      healthCheckPath: '/healthz',
      deregistrationDelaySeconds: 2,
      drainConnectionsMs: 300,
      port,
      targets: fleet.hosts.map((_, index) => ({ id: instanceId(index) })),
    })),
  });
}

async function writeConfig(fleet: Fleet, fake: FakeAws, batchSize: number | string, pollInterval: string, name: string): Promise<string> {
  const base = fleetConfig(fleet, { rollout: { drainTimeout: '10s', healthyTimeout: '10s', batchSize } });
  const config = {
    ...base,
    hosts: [],
    inventory: { ec2: { region: REGION, endpoint: fake.endpoint, tags: { Role: 'web' }, varsFromTags: { appDir: 'AppDir', restart: 'RestartCommand' } } },
    loadBalancer: { type: 'elbv2', region: REGION, endpoint: fake.endpoint, targetGroupArns: [...fake.state.targetGroups.keys()], pollInterval, deregistrationMargin: '2s' },
  };
  const path = join(fleet.dir, `${name}.config.ts`);
  await writeFile(path, `export default ${JSON.stringify(config, null, 2)};\n`);
  return path;
}

interface Count {
  byAction: Record<string, number>;
  perInstance: number;
  rolling: number;
  perRun: number;
}

function count(fake: FakeAws, instances: number): Count {
  const byAction: Record<string, number> = {};
  for (const call of fake.state.calls) if (call.service === 'elbv2' || call.service === 'ec2') byAction[call.action] = (byAction[call.action] ?? 0) + 1;
  const perRun = Object.entries(byAction)
    .filter(([action]) => PER_RUN_ACTIONS.has(action))
    .reduce((sum, [, n]) => sum + n, 0);
  const rolling = Object.values(byAction).reduce((sum, n) => sum + n, 0) - perRun;
  return { byAction, perInstance: Math.round((rolling / instances) * 100) / 100, rolling, perRun };
}

async function main(): Promise<void> {
  const hosts = argument('hosts', 8);
  const runs = argument('runs', 3);
  const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
  if (build.status !== 0 || !existsSync(SHIP_BIN)) throw new Error(`npm run build exited ${build.status}`);
  const fleet = await startFleet({ hosts });
  const configurations = [
    { label: 'batch size 1, polled every 50 ms (as the tests)', batchSize: 1, groups: 1, pollInterval: '50ms' },
    { label: 'batch size 25%, polled every 50 ms', batchSize: '25%', groups: 1, pollInterval: '50ms' },
    { label: 'batch size 25%, two target groups, polled every 50 ms', batchSize: '25%', groups: 2, pollInterval: '50ms' },
    { label: 'batch size 1, polled every 2 s (the default)', batchSize: 1, groups: 1, pollInterval: '2s' },
    { label: 'batch size 25%, polled every 2 s (the default)', batchSize: '25%', groups: 1, pollInterval: '2s' },
  ];
  let version = 1;
  try {
    const results = [];
    for (const configuration of configurations) {
      const samples: Count[] = [];
      for (let run = 0; run < runs; run++) {
        const fake = await startAws(fleet, configuration.groups);
        try {
          const config = await writeConfig(fleet, fake, configuration.batchSize, configuration.pollInterval, `aws-calls-${version}`);
          version++;
          const artifact = await fleet.artifact(`v${version}`);
          const deploy = await runCommand(process.execPath, [SHIP_BIN, 'deploy', '--config', config, '--version', `v${version}`, '--artifact', artifact, '--json'], {
            CI: 'true',
            ...fakeCredentialsEnv(),
          });
          if (deploy.code !== 0) throw new Error(`ship deploy exited ${deploy.code}:\n${deploy.stderr.slice(-2000)}\n${deploy.stdout.slice(-2000)}`);
          samples.push(count(fake, hosts));
          process.stderr.write(`aws-calls: ${configuration.label}, run ${run + 1}: ${samples.at(-1)!.perInstance} calls per instance\n`);
        } finally {
          await fake.stop();
        }
      }
      const middle = [...samples].sort((a, b) => a.perInstance - b.perInstance)[samples.length >> 1]!;
      results.push({
        ...configuration,
        perInstanceMedian: median(samples.map((s) => s.perInstance)),
        perInstanceRuns: samples.map((s) => s.perInstance),
        met: median(samples.map((s) => s.perInstance)) <= TARGET_PER_INSTANCE,
        medianRun: middle,
      });
    }
    console.log(
      JSON.stringify(
        {
          benchmark: 'aws-calls',
          hosts,
          runs,
          target: `<= ${TARGET_PER_INSTANCE} ELBv2 calls per instance rolled, polling included`,
          settings: {
            ship: 'node bin/ship.js deploy --json (npm run build, as published), hosts from EC2 tags',
            targetGroup: 'healthy after 2 checks 100 ms apart, deregistration delay 2 s, draining clients gone after 300 ms',
            counted:
              'DeregisterTargets, RegisterTargets and DescribeTargetHealth (the drain and healthy waits, the ports read before deregistering, the capacity check before each batch), over the instances rolled; the pre-flight and inventory calls made once a run are shown apart',
          },
          configurations: results,
        },
        null,
        2,
      ),
    );
  } finally {
    await fleet.stop();
  }
}

await main();
