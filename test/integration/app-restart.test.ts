/**
 * The negative control for every zero-failure claim: with the load generator, the demo app and
 * HAProxy as the test fleet runs them, restarting apps WITHOUT draining must show failed requests,
 * and the same restarts done through the load balancer (drain, wait, out, restart, back, healthy)
 * must show none. If the first test ever passes with zero failures, the fleet can no longer see a
 * missed drain and every "zero failed requests" result means nothing.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { HaproxyLoadBalancer } from '../../src/lb/haproxy.js';
import { parseRuntimeApi } from '../../src/lb/haproxy-runtime.js';
import { sleep } from '../../src/util/deadline.js';
import { installApp, makeReleaseArtifact, unpackRelease, type AppInstance } from '../fleet/app/app.js';
import { startHaproxy, type HaproxyHandle } from '../fleet/haproxy.js';
import { startLoad, type LoadTally } from '../fleet/loadgen.js';

const pick = () => 10 + Math.floor(Math.random() * 241);
const block = `127.${pick()}.${pick()}`;
const NAMES = ['web1', 'web2', 'web3'];
const RPS = 400;
let dir: string;
const apps = new Map<string, AppInstance>();
let haproxy: HaproxyHandle | undefined;
let lb: HaproxyLoadBalancer;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ship-app-restart-'));
  const artifact = await makeReleaseArtifact(join(dir, 'artifacts'), 'v1');
  await Promise.all(
    NAMES.map(async (name, i) => {
      apps.set(name, await installApp({ appDir: join(dir, name), address: `${block}.${11 + i}`, port: 8080, name, artifact, version: 'v1' }));
    }),
  );
  haproxy = await startHaproxy({
    dir: join(dir, 'lb'),
    frontend: { address: `${block}.1`, port: 8080 },
    runtimeApi: { address: `${block}.1`, port: 9999 },
    backend: 'app',
    servers: NAMES.map((name, i) => ({ name, address: `${block}.${11 + i}`, port: 8080 })),
    check: { path: '/healthz', inter: '100ms', fall: 2, rise: 1 },
  });
  lb = new HaproxyLoadBalancer({ backend: 'app', nodes: [parseRuntimeApi(haproxy.runtimeApi)], pollIntervalMs: 20 });
  for (const name of NAMES) await lb.waitHealthy(name, { deadlineMs: 5000 });
});

after(async () => {
  await lb?.close();
  await haproxy?.stop();
  await Promise.allSettled([...apps.values()].map((app) => app.stop()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

function summary(tally: LoadTally): string {
  return JSON.stringify({
    sent: tally.sent,
    ok: tally.ok,
    failed: tally.failed,
    byStatus: tally.byStatus,
    errors: tally.errors,
    versions: tally.versions,
    first: tally.firstFailures.slice(0, 5),
  });
}

test('control: restarting apps under load WITHOUT draining fails requests', async (t) => {
  const load = await startLoad({ url: haproxy!.frontendUrl, rps: RPS, durationMs: 20_000 });
  await sleep(500);
  for (const name of ['web1', 'web2']) {
    await apps.get(name)!.restart();
    await sleep(400);
  }
  const tally = await load.stop();
  t.diagnostic(summary(tally));
  assert.ok(tally.failed > 0, `a restart without draining must fail requests, none did: ${summary(tally)}`);
  assert.ok(tally.ok > RPS, `too little load to mean anything: ${summary(tally)}`);
});

test('the same restarts through the load balancer (drain, out, restart, back, healthy) fail none', async (t) => {
  const artifact = await makeReleaseArtifact(join(dir, 'artifacts'), 'v2');
  const load = await startLoad({ url: haproxy!.frontendUrl, rps: RPS, durationMs: 20_000 });
  await sleep(500);
  for (const name of ['web1', 'web2']) {
    await lb.startDrain(name);
    await lb.waitDrained(name, { deadlineMs: 5000 });
    await lb.takeOut(name);
    await unpackRelease(apps.get(name)!.appDir, artifact, 'v2');
    await apps.get(name)!.restart();
    await lb.putBack(name, { deadlineMs: 5000 });
    await lb.waitHealthy(name, { deadlineMs: 5000 });
    await sleep(400);
  }
  const tally = await load.stop();
  t.diagnostic(summary(tally));
  assert.equal(tally.failed, 0, `requests failed although every restart was drained: ${summary(tally)}`);
  assert.ok(tally.keepAlive.ok > RPS / 4 && tally.fresh.ok > RPS / 4, `too little load to mean anything: ${summary(tally)}`);
  assert.ok((tally.versions.v2 ?? 0) > 0 && (tally.versions.v1 ?? 0) > 0, `the load must have reached both versions: ${summary(tally)}`);
});
