/**
 * What `ship` refuses before it touches anything, through the real CLI (a subprocess) next to a
 * real fleet (two hosts of sshd + app behind HAProxy): invalid configs and bad flags exit 2 with
 * a message naming the file and field or the flag; a fleet of one is refused with the numbers
 * (exit 3); `ship plan` and `--dry-run` print the batches and steps and exit 0. None of them may
 * open an SSH connection, which every host's sshd log would show.
 *
 * Nothing here changes the fleet, so the runs of each group go side by side.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HaproxyLoadBalancer } from '../../src/lb/haproxy.js';
import { parseRuntimeApi } from '../../src/lb/haproxy-runtime.js';
import { fleetConfig, startFleet, type Fleet } from '../fleet/fleet.js';
import { runShip, type ShipRun } from '../support/cli.js';

let fleet: Fleet;
let config: string;
let artifact: string;
let connectionsBefore: number;

before(async () => {
  fleet = await startFleet({ hosts: 2 });
  config = await fleet.writeConfig({ rollout: { healthyTimeout: '3s', drainTimeout: '2s' } });
  artifact = await fleet.artifact('v2');
  connectionsBefore = await sshConnections();
});
after(async () => {
  await fleet?.stop();
});

/** Authenticated SSH connections so far, over every host. */
async function sshConnections(): Promise<number> {
  const counts = await Promise.all(fleet.hosts.map((h) => h.sshd.acceptedConnections()));
  return counts.reduce((a, b) => a + b, 0);
}

async function assertNoSshConnection(run: ShipRun): Promise<void> {
  assert.equal(await sshConnections(), connectionsBefore, `ship opened an SSH connection:\n${describeRun(run)}`);
}

function describeRun(run: ShipRun): string {
  return `exit ${run.code}\nstderr:\n${run.stderr}\nstdout:\n${run.stdout.slice(-3000)}`;
}

/** Writes a config for the fleet after `edit` changed the plain object; returns its path. */
async function writeEdited(name: string, edit: (config: Record<string, any>) => void): Promise<string> {
  const object = fleetConfig(fleet, { rollout: { healthyTimeout: '3s', drainTimeout: '2s' } }) as Record<string, any>;
  edit(object);
  const path = join(fleet.dir, name);
  await writeFile(path, `export default ${JSON.stringify(object, null, 2)};\n`);
  return path;
}

const deployArgs = (configPath: string) => ['deploy', '--config', configPath, '--version', 'v2', '--artifact', artifact];

describe('an invalid config exits 2 naming the file and the field path, and touches nothing', { concurrency: true }, () => {
  const cases: Array<{ what: string; file: string; edit: (c: Record<string, any>) => void; expect: string }> = [
    { what: 'an unknown key', file: 'unknown-key.config.ts', edit: (c) => (c.rollout.drainTimout = '5s'), expect: 'rollout.drainTimout: unknown field' },
    {
      what: 'a bad duration',
      file: 'bad-duration.config.ts',
      edit: (c) => (c.health.http.interval = 'fast'),
      expect: `health.http.interval: expected a duration like '500ms', '30s' or '2m', got "fast"`,
    },
    { what: 'a missing field', file: 'missing-field.config.ts', edit: (c) => delete c.hosts[1].address, expect: 'hosts[1].address: required' },
    {
      what: "a host whose lbName is another host's name",
      file: 'same-lb-name.config.ts',
      edit: (c) => (c.hosts[1].lbName = 'web1'),
      expect: "hosts[1].lbName: load-balancer name 'web1' is also hosts[0]'s (web1, by its name)",
    },
    {
      what: 'two hosts at one address and port',
      file: 'same-endpoint.config.ts',
      edit: (c) => (c.hosts[1].address = c.hosts[0].address),
      expect: 'hosts[1].address: SSH address ',
    },
  ];
  for (const { what, file, edit, expect } of cases) {
    test(what, async () => {
      const path = await writeEdited(file, edit);
      const run = await runShip(deployArgs(path));
      assert.equal(run.code, 2, describeRun(run));
      assert.ok(run.stderr.includes(`${path}: invalid config`), `the message must name the file:\n${run.stderr}`);
      assert.ok(run.stderr.includes(expect), `the message must name the field and the cause (${expect}):\n${run.stderr}`);
      await assertNoSshConnection(run);
    });
  }
});

describe('a config file that gives no config exits 2 naming the file and what is wrong', { concurrency: true }, () => {
  const cases: Array<{ what: string; file: string; text: string; expect: string }> = [
    { what: 'export default null', file: 'null.config.ts', text: 'export default null;\n', expect: 'the default export is null' },
    { what: 'throw 42', file: 'throws.config.ts', text: 'throw 42;\n', expect: 'could not be evaluated: it threw 42, not an Error' },
    {
      what: 'a getter that throws',
      file: 'getter.config.ts',
      text: "export default { app: 'demo', get hosts() { throw new Error('inventory service down'); } };\n",
      expect: 'reading the exported config threw: inventory service down',
    },
    {
      // Without a deadline Node ends the process with a silent exit 13 (or it hangs).
      what: 'a top-level await that never settles',
      file: 'never-settles.config.ts',
      text: "await new Promise(() => {});\nexport default { app: 'demo' };\n",
      expect: 'never finished loading: a top-level await waits for something that can never happen',
    },
  ];
  for (const { what, file, text, expect } of cases) {
    test(what, async () => {
      const path = join(fleet.dir, file);
      await writeFile(path, text);
      const run = await runShip(['plan', '--config', path, '--version', 'v2', '--artifact', artifact]);
      assert.equal(run.code, 2, describeRun(run));
      assert.ok(run.stderr.includes(`${path}: invalid config\n  - ${expect}`), `the message must name the file and the cause (${expect}):\n${run.stderr}`);
      assert.doesNotMatch(run.stderr, /Cannot read properties|Require stack|\bat .*\.js:\d+/);
      await assertNoSshConnection(run);
    });
  }
  test("a directory or '' as --config", async () => {
    const directory = await runShip(['plan', '--config', fleet.dir, '--version', 'v2', '--artifact', artifact]);
    assert.equal(directory.code, 2, describeRun(directory));
    assert.ok(directory.stderr.includes(`${fleet.dir}: invalid config\n  - is a directory; pass the config file in it`), directory.stderr);
    const empty = await runShip(['plan', '--config', '', '--version', 'v2', '--artifact', artifact]);
    assert.equal(empty.code, 2, describeRun(empty));
    assert.ok(empty.stderr.includes(`--config "": invalid config\n  - no file named`), empty.stderr);
    await assertNoSshConnection(empty);
  });
});

describe('ship plan and ship check refuse what would only fail mid-rollout, exit 2 naming the file and field', { concurrency: true }, () => {
  const cases: Array<{ what: string; file: string; edit: (c: Record<string, any>) => void; expect: RegExp }> = [
    {
      what: 'a bodyMatch that is not a regular expression',
      file: 'bad-body-match.config.ts',
      edit: (c) => (c.health.http.bodyMatch = '(ok'),
      expect: /invalid config\n {2}- health\.http\.bodyMatch: "\(ok" is not a valid regular expression/,
    },
    {
      what: 'an HAProxy backend name HAProxy would refuse',
      file: 'bad-backend.config.ts',
      edit: (c) => (c.loadBalancer.backend = 'app;help'),
      expect: /loadBalancer\.backend: haproxy backend name 'app;help' is not valid/,
    },
    {
      what: 'an HAProxy runtime API address that is none of the forms',
      file: 'bad-runtime-api.config.ts',
      edit: (c) => (c.loadBalancer.runtimeApi = 'lb1'),
      expect: /loadBalancer\.runtimeApi: haproxy runtimeApi 'lb1': not a host:port/,
    },
    { what: 'a batch size of 0%', file: 'zero-batch.config.ts', edit: (c) => (c.rollout.batchSize = '0%'), expect: /rollout\.batchSize: expected a positive count/ },
    {
      what: 'a timeout past what Node can time',
      file: 'long-timeout.config.ts',
      edit: (c) => (c.ssh.commandTimeout = '25d'),
      expect: /ssh\.commandTimeout: "25d" is too long: at most 2147483647ms/,
    },
    {
      what: 'a keepReleases that is not a whole number',
      file: 'bad-keep-releases.config.ts',
      edit: (c) => (c.hosts[1].vars.keepReleases = 2.5),
      expect: /playbook deploy-release \(\S+deploy-release\.ts\) cannot use these variables: web2: keepReleases is 2\.5: expected a whole number of releases to keep, at least 2/,
    },
  ];
  for (const { what, file, edit, expect } of cases) {
    test(what, async () => {
      const path = await writeEdited(file, edit);
      for (const command of ['plan', 'check']) {
        const run = await runShip([command, '--config', path, '--version', 'v2', '--artifact', artifact]);
        assert.equal(run.code, 2, `${command}: ${describeRun(run)}`);
        assert.ok(run.stderr.includes(path), `${command}: the message must name the file:\n${run.stderr}`);
        assert.match(run.stderr, expect, command);
        await assertNoSshConnection(run);
      }
    });
  }
});

describe('bad flags and arguments exit 2 with a message naming the flag, and touch nothing', { concurrency: true }, () => {
  const cases: Array<{ what: string; args: () => string[]; expect: RegExp }> = [
    { what: 'an unknown flag', args: () => [...deployArgs(config), '--batch-szie', '2'], expect: /Unknown arguments?: batch-szie\b/ },
    { what: '--batch-size abc', args: () => [...deployArgs(config), '--batch-size', 'abc'], expect: /--batch-size "abc": expected a positive count or a percentage like '25%'/ },
    { what: 'a missing --version', args: () => ['deploy', '--config', config, '--artifact', artifact], expect: /needs --version/ },
    {
      what: 'an --artifact that does not exist',
      args: () => ['deploy', '--config', config, '--version', 'v2', '--artifact', join(fleet.dir, 'no-such.tgz')],
      expect: /--artifact \S*no-such\.tgz: no such file/,
    },
    {
      what: '--hosts naming an unknown host',
      args: () => [...deployArgs(config), '--hosts', 'web1,web9'],
      expect: /--hosts: unknown host\(s\) web9; the config \(\S+\) has web1, web2/,
    },
    {
      what: 'a --version with /',
      args: () => ['deploy', '--config', config, '--version', '../../etc', '--artifact', artifact],
      expect: /--version "\.\.\/\.\.\/etc": use letters, digits/,
    },
    // Given but naming nobody (a typical `--hosts "$UNSET"`): read as no filter it would roll the whole fleet.
    { what: "--hosts ''", args: () => [...deployArgs(config), '--hosts', ''], expect: /--hosts "" names no host/ },
    { what: '--hosts ,', args: () => [...deployArgs(config), '--hosts', ','], expect: /--hosts "," names no host/ },
    // Node's timers fire at once past 2^31-1 ms: a longer wait would not wait at all.
    { what: '--lock-wait 25d', args: () => [...deployArgs(config), '--lock-wait', '25d'], expect: /--lock-wait: "25d" is too long: at most 2147483647ms \(about 24\.8 days/ },
    { what: 'patch --window 30d', args: () => ['patch', '--config', config, '--window', '30d'], expect: /--window: "30d" is too long: at most 2147483647ms/ },
    {
      what: 'a --version with ;',
      args: () => ['deploy', '--config', config, '--version', 'v2;reboot', '--artifact', artifact],
      expect: /--version "v2;reboot": use letters, digits/,
    },
  ];
  for (const { what, args, expect } of cases) {
    test(what, async () => {
      const run = await runShip(args());
      assert.equal(run.code, 2, describeRun(run));
      assert.match(run.stderr, expect);
      await assertNoSshConnection(run);
    });
  }
});

describe('a fleet of one and plans', { concurrency: true }, () => {
  test('a fleet of one is refused with the numbers (exit 3) and never drained', async () => {
    const one = await writeEdited('one-host.config.ts', (c) => (c.hosts = c.hosts.slice(0, 1)));
    const run = await runShip([...deployArgs(one), '--json']);
    assert.equal(run.code, 3, describeRun(run));
    const end = run.events.find((e) => e.type === 'run.finished');
    assert.ok(end && end.type === 'run.finished', describeRun(run));
    assert.equal(end.status, 'refused');
    assert.match(end.summary.error ?? '', /capacity plan: taking out 1 of 1 instance\(s\) \(web1\) would leave 0 in service, below the floor of 1/);
    assert.match(end.summary.error ?? '', /A fleet of one is never drained/);
    assert.equal(
      run.events.some((e) => e.type === 'instance.state'),
      false,
    );
    await assertNoSshConnection(run);
    const lb = new HaproxyLoadBalancer({ backend: 'app', nodes: [parseRuntimeApi(fleet.runtimeApi)] });
    try {
      assert.deepEqual(
        (await lb.members(['web1'])).map((m) => m.inService),
        [true],
      );
    } finally {
      await lb.close();
    }
  });

  test('ship plan prints the batches and the steps, changes nothing, exit 0', async () => {
    const run = await runShip(['plan', '--config', config, '--version', 'v2', '--artifact', artifact]);
    assert.equal(run.code, 0, describeRun(run));
    assert.match(run.stdout, /batch 1 \(canary\): web1\n.*batch 2: web2\n/);
    assert.match(run.stdout, /stage: remember current release → upload artifact → unpack release → write secrets → link secrets → prune old releases/);
    assert.match(run.stdout, /activate: switch current → restart/);
    assert.match(run.stdout, /rollback: switch back → restart/);
    assert.match(run.stdout, /plan only, nothing changed/);
    await assertNoSshConnection(run);
  });

  test('hosts sharing an address on different SSH ports are different machines: ship plan takes them', async () => {
    const natted = await writeEdited('one-address-two-ports.config.ts', (c) => {
      c.hosts[0].port = 2201;
      c.hosts[1].address = c.hosts[0].address;
      c.hosts[1].port = 2202;
    });
    const run = await runShip(['plan', '--config', natted, '--version', 'v2', '--artifact', artifact]);
    assert.equal(run.code, 0, describeRun(run));
    assert.match(run.stdout, /batch 1 \(canary\): web1\n.*batch 2: web2\n/);
    await assertNoSshConnection(run);
  });

  test('--app picks one app of a config with several; an unknown one is named with the apps the file has', async () => {
    const twoApps = await writeEdited('two-apps.config.ts', (c) => {
      c.apps = { admin: { hosts: [...c.hosts].reverse() } };
    });
    const plan = await runShip(['plan', '--config', twoApps, '--app', 'admin', '--version', 'v2', '--artifact', artifact]);
    assert.equal(plan.code, 0, describeRun(plan));
    assert.match(plan.stdout, /batch 1 \(canary\): web2\n.*batch 2: web1\n/);
    const topLevel = await runShip(['plan', '--config', twoApps, '--version', 'v2', '--artifact', artifact]);
    assert.match(topLevel.stdout, /batch 1 \(canary\): web1\n.*batch 2: web2\n/, describeRun(topLevel));
    const unlock = await runShip(['unlock', '--config', twoApps, '--app', 'admin', '--force', '--reason', 'checking --app']);
    assert.equal(unlock.code, 0, describeRun(unlock));
    assert.match(unlock.stdout, /app admin was not locked/);
    for (const command of ['status', 'restore --hosts web1', 'resume', 'deploy --version v2']) {
      const run = await runShip([...command.split(' '), '--config', twoApps, '--app', 'billing']);
      assert.equal(run.code, 2, `${command}: ${describeRun(run)}`);
      assert.match(run.stderr, /--app billing: no such app; this file defines demo, admin/, command);
    }
    await assertNoSshConnection(plan);
  });

  test('deploy --dry-run is the same plan, as events with --json', async () => {
    const run = await runShip([...deployArgs(config), '--dry-run', '--json', '--batch-size', '50%']);
    assert.equal(run.code, 0, describeRun(run));
    const plan = run.events.find((e) => e.type === 'plan');
    assert.ok(plan && plan.type === 'plan', describeRun(run));
    assert.deepEqual(plan.batches, [
      { hosts: ['web1'], canary: true },
      { hosts: ['web2'], canary: false },
    ]);
    assert.deepEqual(plan.phases.activate, ['switch current', 'restart']);
    const end = run.events.find((e) => e.type === 'run.finished');
    assert.ok(end && end.type === 'run.finished' && end.status === 'planned');
    assert.equal(
      run.events.some((e) => e.type === 'preflight.check' || e.type === 'instance.state' || e.type === 'stage.started'),
      false,
    );
    await assertNoSshConnection(run);
  });
});
