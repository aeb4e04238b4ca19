/**
 * Issue 16 on the test fleet (four real hosts behind a real HAProxy, under load): a release whose
 * `/` fails while `/healthz` passes is caught by HAProxy's own counters during the canary's bake
 * and rolled back; with onFailure 'rollback' a failure on the third host takes every host back,
 * without one failed request; too little traffic is not a pass; the team's command decides too.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, test } from 'node:test';
import { execa } from 'execa';
import type { ShipEvent } from '../../src/events.js';
import { quote } from '../../src/shell/sh.js';
import { sleep } from '../../src/util/deadline.js';
import { APP_SERVER_SOURCE } from '../fleet/app/app.js';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { startLoad } from '../fleet/loadgen.js';
import { finished, runShip, startShip, type ShipRun } from '../support/cli.js';
import { assertAllOn, assertInvariants, describeRun, finishedEvent, lastJournalRun, resetFleet, watchEvents } from '../support/fleet-assertions.js';

const RPS = 200;
const HOSTS = 4;
let fleet: Fleet;
let releases = 1;

before(async () => {
  fleet = await startFleet({ hosts: HOSTS });
});
after(async () => {
  await fleet?.stop();
});
beforeEach(async () => {
  await resetFleet(fleet, 'v1');
});

/** A release of the demo app whose `/` answers every `failEvery`th request with a 500; /healthz passes. */
async function failingRelease(version: string, failEvery: number): Promise<string> {
  const staging = await mkdtemp(join(tmpdir(), 'ship-canary-release-'));
  try {
    await copyFile(APP_SERVER_SOURCE, join(staging, 'server.mjs'));
    await writeFile(join(staging, 'VERSION'), `${version}\n`);
    await writeFile(join(staging, 'FAIL_EVERY'), `${failEvery}\n`);
    const artifact = join(fleet.dir, 'artifacts', `app-${version}.tgz`);
    await execa('tar', ['-czf', artifact, '-C', staging, 'server.mjs', 'VERSION', 'FAIL_EVERY']);
    return artifact;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

const nextVersion = () => `v${++releases}`;
const deploy = (config: string, version: string, artifact: string) => runShip(['deploy', '--config', config, '--version', version, '--artifact', artifact, '--json']);
const eventsOf = <T extends ShipEvent['type']>(run: ShipRun, type: T) => run.events.filter((e): e is Extract<ShipEvent, { type: T }> => e.type === type);

test('under load, a release whose / fails a fifth of requests while /healthz passes is stopped in the canary bake and rolled back: no host ends on it, failures bounded by the bake window', async (t) => {
  const version = nextVersion();
  const artifact = await failingRelease(version, 5);
  const config = await fleet.writeConfig({ rollout: { bake: '3s', analysis: { maxErrorRate: '1%', minRequests: 20 } } });
  const load = await startLoad({ url: fleet.frontendUrl, rps: RPS, durationMs: 120_000 });
  await sleep(300);
  const run = await deploy(config, version, artifact);
  await sleep(300);
  const tally = await load.stop();
  t.diagnostic(`requests: ${tally.sent} sent, ${tally.ok} ok, ${tally.failed} failed ${JSON.stringify({ byStatus: tally.byStatus, errors: tally.errors })}`);

  await assertInvariants(fleet, run, { code: 1, configPath: config });
  const [verdict] = eventsOf(run, 'analysis.verdict');
  assert.ok(verdict, describeRun(run));
  assert.equal(verdict.verdict, 'fail');
  assert.equal(verdict.code, 'SHIP-E055');
  assert.match(verdict.line, /^canary web1: FAIL: \d+ errors in \d+ requests \(\d+\.\d+%\) above maxErrorRate 1\.00%; untouched servers 0 errors in \d+ requests/);
  assert.ok(verdict.requests! >= 20 && verdict.errors! > 0 && verdict.rate! > 0.1 && verdict.rate! < 0.3, `about a fifth of the canary's requests failed: ${verdict.line}`);
  assert.equal(verdict.fleetErrors, 0);

  const { summary } = finishedEvent(run);
  assert.equal(summary.code, 'SHIP-E055');
  assert.deepEqual(
    summary.hosts.map((h) => [h.host, h.outcome, h.release]),
    [
      ['web1', 'rolled-back', 'v1'],
      ['web2', 'not-started', 'v1'],
      ['web3', 'not-started', 'v1'],
      ['web4', 'not-started', 'v1'],
    ],
  );
  assert.equal(summary.analysis?.line, verdict.line);
  await assertAllOn(fleet, 'v1');

  // The failures are the canary's 500s while it served the release, nothing else: no connection
  // error, no 503, and no more than its share of the load over the time it served it.
  assert.ok(tally.failed > 0, 'the load must have met the bad release');
  assert.deepEqual(
    Object.keys(tally.byStatus).filter((status) => status !== '200'),
    ['500'],
    JSON.stringify(tally.byStatus),
  );
  assert.deepEqual(tally.errors, {});
  const served = run.events.find((e) => e.type === 'lb.healthy' && e.host === 'web1')!;
  const drained = eventsOf(run, 'instance.drained').filter((e) => e.host === 'web1')[1]!;
  const windowSeconds = (Date.parse(drained.time) - Date.parse(served.time)) / 1000;
  const bound = Math.ceil(((RPS * windowSeconds) / HOSTS / 5) * 1.5) + 5;
  assert.ok(tally.failed <= bound, `${tally.failed} failed requests, more than the canary's share over its ${windowSeconds}s in service (${bound})`);

  const journal = await lastJournalRun(config);
  assert.deepEqual(
    journal?.stages.filter((s) => s.stage === 'analysis').map((s) => [s.name, s.status]),
    [
      ['batch 1 (canary)', 'started'],
      ['batch 1 (canary)', 'failed'],
    ],
  );
  const status = await runShip(['status', '--config', config]);
  assert.match(status.stdout, /canary analysis and rollback of this run:\n {2}batch 1 \(canary\): canary web1: FAIL: \d+ errors in \d+ requests/);
  assert.match(status.stdout, /rollback of web1 to v1: done/);
});

/** A config whose release `version` is unhealthy (/healthz 500) on the third host only, bake 1s, onFailure 'rollback'. */
async function unhealthyOnThirdHost(version: string, name: string): Promise<string> {
  const broken = fleet.hosts[2]!;
  const current = `${broken.appDir}/current`;
  const restartOf = (appDir: string) => `sh ${quote(`${appDir}/restart.sh`)} ${quote(appDir)}`;
  // On web3 only, the new release gets a server whose /healthz fails; going back restarts the good one.
  const brokenServer = join(broken.appDir, 'unhealthy-server.mjs');
  await writeFile(
    brokenServer,
    `import { createServer } from 'node:http';
import { renameSync, writeFileSync } from 'node:fs';
const server = createServer((request, response) => { response.writeHead(request.url === '/healthz' ? 500 : 200); response.end('{}'); });
server.listen(Number(process.env.APP_PORT), process.env.APP_ADDRESS, () => {
  writeFileSync(process.env.APP_PID_FILE + '.tmp', process.pid + '\\n');
  renameSync(process.env.APP_PID_FILE + '.tmp', process.env.APP_PID_FILE);
});
process.on('SIGTERM', () => { server.close(() => process.exit(0)); server.closeIdleConnections(); });
`,
  );
  return fleet.writeConfig(
    {
      rollout: { healthyTimeout: '3s', bake: '1s', analysis: { minRequests: 5 }, onFailure: 'rollback' },
      hosts: fleet.hosts.map((h) => ({
        name: h.name,
        address: h.address,
        vars: {
          appDir: h.appDir,
          restart:
            h === broken
              ? `case "$(readlink ${quote(current)})" in */${version}) cp ${quote(brokenServer)} ${quote(`${current}/server.mjs`)};; esac; ${restartOf(h.appDir)}`
              : restartOf(h.appDir),
        },
      })),
    },
    name,
  );
}

test("with onFailure 'rollback', a release unhealthy only on the third host ends with every host back on the previous release, zero failed requests", async (t) => {
  const version = nextVersion();
  const config = await unhealthyOnThirdHost(version, 'rollback.config.ts');
  const load = await startLoad({ url: fleet.frontendUrl, rps: RPS, durationMs: 120_000 });
  await sleep(300);
  const run = await deploy(config, version, await fleet.artifact(version));
  await sleep(300);
  const tally = await load.stop();
  t.diagnostic(`requests: ${tally.sent} sent, ${tally.ok} ok, ${tally.failed} failed; versions ${JSON.stringify(tally.versions)}`);

  await assertInvariants(fleet, run, { code: 1, configPath: config });
  assert.equal(tally.failed, 0, `failed requests: ${JSON.stringify({ byStatus: tally.byStatus, errors: tally.errors, first: tally.firstFailures })}`);
  assert.ok((tally.versions[version] ?? 0) > 0, 'the load must have seen the new release');
  assert.deepEqual(
    eventsOf(run, 'analysis.verdict').map((v) => [v.hosts.join(), v.verdict]),
    [
      ['web1', 'pass'],
      ['web2', 'pass'],
    ],
  );
  const rollback = eventsOf(run, 'rollback.started');
  assert.deepEqual(
    rollback.map((r) => r.batches),
    [[['web2'], ['web1']]],
    'the hosts moved go back last batch first',
  );
  const { summary } = finishedEvent(run);
  assert.equal(summary.code, 'SHIP-E015', describeRun(run));
  assert.match(summary.error ?? '', /every instance this run moved is back on the release it ran before: web2, web1/);
  assert.deepEqual(
    summary.hosts.map((h) => [h.host, h.outcome, h.release]),
    [
      ['web1', 'rolled-back', 'v1'],
      ['web2', 'rolled-back', 'v1'],
      ['web3', 'rolled-back', 'v1'],
      ['web4', 'not-started', 'v1'],
    ],
  );
  await assertAllOn(fleet, 'v1');
  const journal = await lastJournalRun(config);
  assert.deepEqual(
    journal?.stages.filter((s) => s.stage === 'rollback').map((s) => [s.name, s.status, s.version]),
    [
      ['web2', 'started', 'v1'],
      ['web1', 'started', 'v1'],
      ['web2', 'done', 'v1'],
      ['web1', 'done', 'v1'],
    ],
  );
});

test('a rollback killed half-way (SIGKILL) is in ship status as unfinished, and ship resume finishes it: every host back on the previous release, zero failed requests', async (t) => {
  const version = nextVersion();
  const config = await unhealthyOnThirdHost(version, 'rollback-killed.config.ts');
  const load = await startLoad({ url: fleet.frontendUrl, rps: RPS, durationMs: 120_000 });
  await sleep(300);
  const child = startShip(['deploy', '--config', config, '--version', version, '--artifact', await fleet.artifact(version), '--json']);
  t.after(() => void child.kill('SIGKILL'));
  let goingBack = false;
  watchEvents(child, (event) => {
    if (event.type === 'rollback.started' && event.batches.length === 2) goingBack = true;
    // web2 is back and web1 starts to leave (its drain is in the journal first): ship dies there.
    if (goingBack && event.type === 'instance.state' && event.host === 'web1' && event.to === 'draining') child.kill('SIGKILL');
  });
  const killed = await finished(child);
  assert.equal(killed.code, -1, describeRun(killed));
  const status = await runShip(['status', '--config', config]);
  assert.equal(status.code, 1);
  assert.match(status.stdout, /rollback of web2 to v1: done/);
  assert.match(status.stdout, /rollback of web1 to v1: STARTED, not finished: `ship resume` finishes it/);

  const resumed = await runShip(['resume', '--config', config, '--json']);
  await sleep(300);
  const tally = await load.stop();
  await assertInvariants(fleet, resumed, { code: 1, configPath: config });
  assert.equal(tally.failed, 0, `failed requests: ${JSON.stringify({ byStatus: tally.byStatus, errors: tally.errors, first: tally.firstFailures })}`);
  const { summary } = finishedEvent(resumed);
  assert.deepEqual(
    summary.hosts.map((h) => [h.host, h.outcome, h.release]),
    [['web1', 'rolled-back', 'v1']],
  );
  assert.match(summary.error ?? '', /^the rollback of run \S+ is finished: web1 back on the release they ran before/);
  assert.equal(eventsOf(resumed, 'batch.started').length, 0, 'nothing is rolled forward');
  await assertAllOn(fleet, 'v1');
  const journal = await lastJournalRun(config);
  assert.deepEqual(
    journal?.stages.filter((s) => s.stage === 'rollback').map((s) => [s.name, s.status]),
    [
      ['web1', 'started'],
      ['web1', 'done'],
    ],
  );
});

test('too little traffic extends the bake up to three times, then the canary is not passed: not enough requests to judge (SHIP-E056), rolled back', async () => {
  const version = nextVersion();
  const config = await fleet.writeConfig({ rollout: { bake: '1s', analysis: { minRequests: 50 } } });
  const run = await deploy(config, version, await fleet.artifact(version));
  await assertInvariants(fleet, run, { code: 1, configPath: config });
  const [extended] = eventsOf(run, 'analysis.extended');
  assert.ok(extended, describeRun(run));
  assert.equal(extended.untilMs, 3000);
  assert.match(extended.detail, /^not enough requests yet: 0 of minRequests 50 requests, 0 errors$/);
  const [verdict] = eventsOf(run, 'analysis.verdict');
  assert.equal(verdict?.verdict, 'inconclusive');
  assert.match(verdict!.line, /^canary web1: NOT ENOUGH REQUESTS TO JUDGE: 0 of minRequests 50 requests, 0 errors in \S+ \(bake 1\.00s extended to \S+\)/i);
  assert.ok(verdict!.durationMs >= 3000, 'judged only once the bake had run three times its length');
  const { summary } = finishedEvent(run);
  assert.equal(summary.code, 'SHIP-E056');
  assert.deepEqual(
    summary.hosts.map((h) => [h.host, h.outcome]),
    [
      ['web1', 'rolled-back'],
      ['web2', 'not-started'],
      ['web3', 'not-started'],
      ['web4', 'not-started'],
    ],
  );
  await assertAllOn(fleet, 'v1');
});

test('the analysis command decides too: exit 1 fails the canary (SHIP-E055) with its output, one outliving commandTimeout could not judge (SHIP-E057); both stop the run and roll the canary back', async () => {
  const cases = [
    {
      command: 'echo "p99 $SHIP_HOSTS 2.3s > 1s"; exit 1',
      timeout: '10s',
      verdict: 'fail',
      code: 'SHIP-E055',
      line: /^canary web1: FAIL: command echo .* exited 1: p99 web1 2\.3s > 1s/,
    },
    {
      command: 'sleep 30',
      timeout: '1s',
      verdict: 'unreadable',
      code: 'SHIP-E057',
      line: /^canary web1: COULD NOT BE JUDGED: command sleep 30: this machine: command timed out after 1000ms/,
    },
  ];
  for (const c of cases) {
    await resetFleet(fleet, 'v1');
    const version = nextVersion();
    const config = await fleet.writeConfig({ rollout: { bake: '1s', analysis: { minRequests: 1, command: c.command, commandTimeout: c.timeout } } });
    const run = await deploy(config, version, await fleet.artifact(version));
    await assertInvariants(fleet, run, { code: 1, configPath: config });
    const [verdict] = eventsOf(run, 'analysis.verdict');
    assert.equal(verdict?.verdict, c.verdict, describeRun(run));
    assert.match(verdict!.line, c.line);
    assert.equal(finishedEvent(run).summary.code, c.code);
    assert.equal(finishedEvent(run).summary.hosts[0]!.outcome, 'rolled-back');
    await assertAllOn(fleet, 'v1');
  }
});

test('ship plan shows the bake and what judges each batch', async () => {
  const config = await fleet.writeConfig({ rollout: { bake: '5s', analysis: { maxErrorRate: '2%', command: './check.sh' }, onFailure: 'rollback' } });
  const plan = await runShip(['plan', '--config', config, '--version', 'v9', '--artifact', await fleet.artifact('v9')]);
  assert.equal(plan.code, 0, describeRun(plan));
  assert.match(plan.stdout, /batch 1 \(canary\): web1, then bake 5\.00s/);
  assert.match(plan.stdout, /batch 4: web4, then bake 5\.00s/);
  assert.match(
    plan.stdout,
    /each bake keeps its batch only if: healthy in the load balancer throughout; error rate at most 2\.00% over at least 50 requests \(the bake extended up to 15\.00s to get them\); error rate at most 0\.50% above the servers not yet rolled; command exits 0 within 1m0s: \.\/check\.sh/,
  );
  assert.match(plan.stdout, /on failure: every instance moved goes back to the release it ran before, last batch first/);
});
