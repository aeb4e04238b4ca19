/**
 * The HAProxy provider against two real HAProxy processes (an HA pair) in front of three real app
 * processes on a random loopback block: lb1 is driven over TCP, lb2 over its unix socket.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { createServer, type Server } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Client } from 'ssh2';
import { HaproxyLoadBalancer } from '../../src/lb/haproxy.js';
import { RuntimeApiClient, parseRuntimeApi, type RuntimeEndpoint } from '../../src/lb/haproxy-runtime.js';
import { LoadBalancerError, type MemberState } from '../../src/lb/load-balancer.js';
import { DeadlineError } from '../../src/util/deadline.js';
import { installApp, makeReleaseArtifact, type AppInstance } from '../fleet/app/app.js';
import { startHaproxy, type HaproxyHandle } from '../fleet/haproxy.js';
import { generateKeyPair } from '../fleet/keys.js';
import { startSshd } from '../fleet/sshd.js';

const pick = () => 10 + Math.floor(Math.random() * 241);
const block = `127.${pick()}.${pick()}`;
const NAMES = ['web1', 'web2', 'web3'];
let dir: string;
const apps = new Map<string, AppInstance>();
const lbs: HaproxyHandle[] = [];
let nodes: RuntimeEndpoint[];
let lb: HaproxyLoadBalancer;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ship-haproxy-provider-'));
  const artifact = await makeReleaseArtifact(join(dir, 'artifacts'), 'v1');
  await Promise.all(
    NAMES.map(async (name, i) => {
      apps.set(name, await installApp({ appDir: join(dir, name), address: `${block}.${11 + i}`, port: 8080, name, artifact, version: 'v1' }));
    }),
  );
  for (const n of [1, 2]) {
    lbs.push(
      await startHaproxy({
        dir: join(dir, `lb${n}`),
        frontend: { address: `${block}.${n}`, port: 8080 },
        runtimeApi: { address: `${block}.${n}`, port: 9999 },
        backend: 'app',
        servers: NAMES.map((name, i) => ({ name, address: `${block}.${11 + i}`, port: 8080 })),
        check: { path: '/healthz', inter: '100ms', fall: 2, rise: 2 },
      }),
    );
  }
  nodes = [parseRuntimeApi(lbs[0]!.runtimeApi), parseRuntimeApi(`unix@${lbs[1]!.socketPath}`)];
  lb = new HaproxyLoadBalancer({ backend: 'app', nodes, pollIntervalMs: 50 });
  await lb.waitHealthy('web1', { deadlineMs: 5000 });
});

after(async () => {
  await lb?.close();
  await Promise.allSettled(lbs.map((handle) => handle.stop()));
  await Promise.allSettled([...apps.values()].map((app) => app.stop()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

function get(url: string): Promise<{ status: number; host: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => {
        let host = '';
        try {
          host = (JSON.parse(body) as { host: string }).host;
        } catch {
          // HAProxy's own error pages are not JSON.
        }
        resolve({ status: response.statusCode ?? 0, host });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** A slow request through lb1 that is being served by `name` (HAProxy's scur counts it). */
async function slowRequestOn(name: string, ms: number): Promise<{ started: number; done: Promise<{ status: number; host: string }> }> {
  for (let attempt = 0; attempt < 6; attempt++) {
    const started = Date.now();
    const done = get(`${lbs[0]!.frontendUrl}slow?ms=${ms}`);
    for (let i = 0; i < 10; i++) {
      const [member] = await lb.members([name]);
      if ((member?.sessions ?? 0) > 0) return { started, done };
      await new Promise((r) => setTimeout(r, 20));
    }
    // Round robin sent it elsewhere; it finishes on its own.
  }
  throw new Error(`no slow request landed on ${name}`);
}

async function nodeStatus(endpoint: RuntimeEndpoint, name: string): Promise<string> {
  const client = new RuntimeApiClient(endpoint);
  const row = (await client.serverStats('app')).find((r) => r.name === name);
  return row?.status ?? 'missing';
}

test('verify finds every server on both nodes, and names a server the backend lacks', async () => {
  await lb.verify(NAMES);
  await assert.rejects(
    lb.verify(['web1', 'web9']),
    (error: unknown) =>
      error instanceof LoadBalancerError &&
      error.message.includes(`haproxy ${lbs[0]!.runtimeApi}: backend 'app' has no server web9`) &&
      error.message.includes(`unix@${lbs[1]!.socketPath}`),
  );
});

test('drain waits for a long in-flight request, on both nodes; maint, then back with a fresh health check', async () => {
  const slow = await slowRequestOn('web1', 1200);
  await lb.startDrain('web1');
  for (const endpoint of nodes) assert.equal(await nodeStatus(endpoint, 'web1'), 'DRAIN');
  const newRequests = await Promise.all(Array.from({ length: 9 }, () => get(lbs[0]!.frontendUrl)));
  assert.ok(
    newRequests.every((r) => r.status === 200 && r.host !== 'web1'),
    `a draining server got new requests: ${JSON.stringify(newRequests)}`,
  );

  const seen: MemberState[] = [];
  await lb.waitDrained('web1', { deadlineMs: 5000, onProgress: (state) => seen.push(state) });
  const waited = Date.now() - slow.started;
  assert.ok(
    seen.some((state) => (state.sessions ?? 0) > 0),
    'waitDrained never saw the open session',
  );
  assert.ok(waited >= 1100, `drained after ${waited}ms, before the 1200ms request could finish`);
  assert.deepEqual(await slow.done, { status: 200, host: 'web1' });
  const [draining] = await lb.members(['web1']);
  assert.deepEqual(draining, { name: 'web1', healthy: true, inService: false, sessions: 0, detail: 'DRAIN' });

  await lb.takeOut('web1');
  const [out] = await lb.members(['web1']);
  assert.deepEqual(out, { name: 'web1', healthy: false, inService: false, sessions: 0, detail: 'MAINT' });

  const details: string[] = [];
  const confirmed = await lb.putBack('web1', { deadlineMs: 5000, onProgress: (state) => details.push(state.detail) });
  // Forced down on leaving maintenance on each node, until a HAProxy check that started after it passed.
  assert.ok(details.length > 0 && details.every((detail) => /^DOWN/.test(detail)), `expected web1 DOWN until its first check, saw ${details.join(' -> ')}`);
  assert.match(String(confirmed), /^HAProxy's first check after the restart passed on .*\(L7OK 200\) \d+ ms after it left maintenance, without waiting for rise 2/);
  await lb.waitHealthy('web1', { deadlineMs: 5000, onProgress: (state) => details.push(state.detail) });
  assert.equal(details.at(-1), 'UP');
  const [back] = await lb.members(['web1']);
  assert.deepEqual(back, { name: 'web1', healthy: true, inService: true, sessions: 0, detail: 'UP' });
  const hosts = new Set((await Promise.all(Array.from({ length: 9 }, () => get(lbs[1]!.frontendUrl)))).map((r) => r.host));
  assert.ok(hosts.has('web1'), 'web1 gets no traffic after putBack');
});

test('HAProxy itself marks a server UP on leaving maintenance without checking it (why putBack forces a check)', async () => {
  const client = new RuntimeApiClient(nodes[0]!);
  await client.runSilent('set server app/web2 state maint');
  await apps.get('web2')!.stop();
  await client.runSilent('set server app/web2 state ready');
  // The app is gone, yet HAProxy calls it UP straight away and would send it traffic.
  assert.match(await nodeStatus(nodes[0]!, 'web2'), /^UP/);
  await apps.get('web2')!.restart();
  await lb.waitHealthy('web2', { deadlineMs: 5000 });
});

test('putBack of a server whose app is dead: HAProxy keeps it DOWN, putBack runs into its deadline and leaves it in maintenance', async () => {
  await lb.startDrain('web2');
  await lb.takeOut('web2');
  await apps.get('web2')!.stop();
  const putBack = lb.putBack('web2', { deadlineMs: 600 });
  const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => get(lbs[i % 2]!.frontendUrl)));
  assert.ok(
    answers.every((r) => r.status === 200),
    `requests were sent to the dead app: ${JSON.stringify(answers)}`,
  );
  await assert.rejects(
    putBack,
    (error: unknown) => error instanceof DeadlineError && error.instance === 'web2' && error.step === 'load balancer health' && /DOWN/.test(error.lastSeen),
  );
  for (const endpoint of nodes) assert.equal(await nodeStatus(endpoint, 'web2'), 'MAINT');
  await apps.get('web2')!.restart();
  await lb.putBack('web2', { deadlineMs: 5000 });
  await lb.waitHealthy('web2', { deadlineMs: 5000 });
});

test("confirm 'rise': back with forced health down, and HAProxy counts its own `rise` passing checks before calling it UP", async () => {
  const rise = new HaproxyLoadBalancer({ backend: 'app', nodes, pollIntervalMs: 20, confirm: 'rise' });
  try {
    await rise.startDrain('web2');
    await rise.takeOut('web2');
    assert.equal(await rise.putBack('web2', { deadlineMs: 5000 }), undefined);
    const details: string[] = [];
    await rise.waitHealthy('web2', { deadlineMs: 5000, onProgress: (state) => details.push(state.detail) });
    assert.match(details[0] ?? '', /^DOWN/, `expected a forced health check after maintenance, saw ${details.join(' -> ')}`);
    assert.equal(details.at(-1), 'UP');
  } finally {
    await rise.close();
  }
});

test('waitSettings: the settings that make a host wait, as read from the runtime API (rise), and the one to change for each confirm mode', async () => {
  const oneCheck = await lb.waitSettings(NAMES);
  assert.match(oneCheck?.cause ?? '', /HAProxy's first health check after the restart.*once every `inter` of the servers of backend 'app' \(not rise 2/);
  assert.match(oneCheck?.change ?? '', /^lower `inter` on the servers of backend 'app'/);
  const rise = new HaproxyLoadBalancer({ backend: 'app', nodes, confirm: 'rise' });
  try {
    const settings = await rise.waitSettings(NAMES);
    assert.match(settings?.cause ?? '', /HAProxy needs rise 2 passing health checks after the restart/);
    assert.match(settings?.change ?? '', /^set `fastinter` .* or lower `rise` on the servers of backend 'app'/);
  } finally {
    await rise.close();
  }
});

test('waitDrained past its deadline is a DeadlineError naming the server and the sessions left', async () => {
  const slow = await slowRequestOn('web3', 1500);
  await lb.startDrain('web3');
  await assert.rejects(lb.waitDrained('web3', { deadlineMs: 300 }), (error: unknown) => {
    assert.ok(error instanceof DeadlineError, String(error));
    assert.equal(error.instance, 'web3');
    assert.equal(error.step, 'drain');
    assert.match(error.message, /^web3: drain did not finish within 300ms \(last seen: 1 session on .*DRAIN/);
    return true;
  });
  assert.equal((await slow.done).status, 200);
  await lb.putBack('web3', { deadlineMs: 5000 });
  await lb.waitHealthy('web3', { deadlineMs: 5000 });
});

test('waitDrained refuses a server that is not draining on a node instead of counting to a lucky zero', async () => {
  await lb.startDrain('web3');
  await new RuntimeApiClient(nodes[1]!).runSilent('set server app/web3 state ready');
  await assert.rejects(lb.waitDrained('web3', { deadlineMs: 2000 }), /unix@.*server app\/web3 is not draining \(status UP\)/);
  const [member] = await lb.members(['web3']);
  assert.equal(member!.inService, false, 'draining on one node is not in service');
  assert.match(member!.detail, /DRAIN on .*9999, UP on unix@/);
  await lb.putBack('web3', { deadlineMs: 5000 });
  await lb.waitHealthy('web3', { deadlineMs: 5000 });
});

test('error answers name the node and the command', async () => {
  await assert.rejects(lb.startDrain('web9'), (error: unknown) => {
    assert.ok(error instanceof LoadBalancerError);
    assert.match(error.message, new RegExp(`haproxy ${lbs[0]!.runtimeApi.replace(/\./g, '\\.')}: 'set server app/web9 state drain' was refused: No such server\\.`));
    return true;
  });
  const wrongBackend = new HaproxyLoadBalancer({ backend: 'nope', nodes: [nodes[0]!] });
  await assert.rejects(wrongBackend.verify(['web1']), /'show servers state nope' was refused: unexpected answer to 'show servers state': Can't find backend\./);
});

test('an unreachable or silent runtime API is a LoadBalancerError, and one bad node fails the whole operation', async () => {
  const refused = new HaproxyLoadBalancer({ backend: 'app', nodes: [parseRuntimeApi(`${block}.3:9999`)] });
  await assert.rejects(refused.members(['web1']), new RegExp(`haproxy ${block.replace(/\./g, '\\.')}\\.3:9999: 'show .*' failed: connect ECONNREFUSED`));

  const missingSocket = new HaproxyLoadBalancer({ backend: 'app', nodes: [parseRuntimeApi(join(dir, 'nothing.sock'))] });
  await assert.rejects(missingSocket.verify(['web1']), /unix@.*nothing\.sock: '.*' failed: connect ENOENT/);

  const silent: Server = createServer(() => {});
  await new Promise<void>((resolve) => silent.listen(0, `${block}.4`, resolve));
  try {
    const port = (silent.address() as { port: number }).port;
    const slow = new HaproxyLoadBalancer({ backend: 'app', nodes: [parseRuntimeApi(`${block}.4:${port}`)], commandTimeoutMs: 200 });
    await assert.rejects(slow.takeOut('web1'), /'set server app\/web1 state maint' failed: no answer within 200ms/);
  } finally {
    silent.close();
  }

  // lb1 answers, the second node does not: the drain must fail even though lb1 applied it.
  const halfDown = new HaproxyLoadBalancer({ backend: 'app', nodes: [nodes[0]!, parseRuntimeApi(`${block}.3:9999`)] });
  await assert.rejects(halfDown.startDrain('web2'), new RegExp(`${block.replace(/\./g, '\\.')}\\.3:9999: 'set server app/web2 state drain' failed`));
  await assert.rejects(halfDown.members(['web2']), LoadBalancerError);
  await lb.putBack('web2', { deadlineMs: 5000 });
  await lb.waitHealthy('web2', { deadlineMs: 5000 });
});

test('over SSH: the runtime API unix socket on the LB host, through one reused SSH connection', async (t) => {
  const key = await generateKeyPair(join(dir, 'ssh'), 'id_ed25519');
  const sshd = await startSshd({ address: `${block}.20`, port: 2222, dir: join(dir, 'ssh', 'sshd'), authorizedKeys: [key.publicKey] });
  t.after(() => sshd.stop());
  const privateKey = await readFile(key.privateKeyPath);
  const hostKey = Buffer.from(sshd.hostPublicKey.split(' ')[1]!, 'base64');
  const targets: unknown[] = [];
  const connectSsh = (target: { user?: string; host: string; port?: number }) => {
    targets.push(target);
    return new Promise<Client>((resolve, reject) => {
      const client = new Client();
      client.once('ready', () => resolve(client));
      client.once('error', reject);
      client.connect({ host: target.host, port: target.port ?? 22, username: target.user ?? 'root', privateKey, hostVerifier: (key: Buffer) => key.equals(hostKey) });
    });
  };

  const viaSsh = new HaproxyLoadBalancer({ backend: 'app', nodes: [parseRuntimeApi(`ssh://root@${block}.20:2222${lbs[0]!.socketPath}`)], connectSsh, pollIntervalMs: 50 });
  t.after(() => viaSsh.close());
  await viaSsh.verify(NAMES);
  await viaSsh.startDrain('web3');
  assert.equal(await nodeStatus(nodes[0]!, 'web3'), 'DRAIN', 'the drain sent over SSH did not reach HAProxy');
  await viaSsh.waitDrained('web3', { deadlineMs: 5000 });
  await viaSsh.putBack('web3', { deadlineMs: 5000 });
  await viaSsh.waitHealthy('web3', { deadlineMs: 5000 });
  assert.deepEqual((await viaSsh.members(['web3']))[0], { name: 'web3', healthy: true, inService: true, sessions: 0, detail: 'UP' });
  assert.deepEqual(targets, [{ user: 'root', host: `${block}.20`, port: 2222 }], 'one SSH connection for every command');
  assert.equal(await sshd.acceptedConnections(), 1);

  const wrongPath = new HaproxyLoadBalancer({ backend: 'app', nodes: [parseRuntimeApi(`ssh://root@${block}.20:2222${join(dir, 'nothing.sock')}`)], connectSsh });
  t.after(() => wrongPath.close());
  await assert.rejects(wrongPath.members(['web1']), new RegExp(`haproxy ssh://root@${block.replace(/\./g, '\\.')}\\.20:2222/.*nothing\\.sock: 'show .*' failed`));
});

test("counters: each server's requests and errors summed over both nodes, so a request counts whichever node it came in through", async () => {
  const total = (counters: Map<string, { requests: number; http5xx: number }>) => [...counters.values()].reduce((sum, c) => sum + c.requests, 0);
  const before = await lb.counters(NAMES);
  for (const [n, times] of [
    [1, 4],
    [2, 3],
  ] as const) {
    for (let i = 0; i < times; i++) {
      const response = await fetch(`http://${block}.${n}:8080/`, { headers: { connection: 'close' } });
      assert.equal(response.status, 200);
      await response.text();
    }
  }
  const after = await lb.counters(NAMES);
  assert.equal(total(after) - total(before), 7);
  assert.deepEqual([...after.keys()], NAMES);
});
