import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { HttpCheck } from '../../src/health/http.js';
import { TcpCheck } from '../../src/health/tcp.js';
import { CommandCheck } from '../../src/health/command.js';
import { waitUntilHealthy } from '../../src/health/wait.js';
import { LocalTransport } from '../../src/transport/local.js';
import { DeadlineError } from '../../src/util/deadline.js';
import type { Check } from '../../src/health/check.js';

// One server whose answers the tests script: a queue of statuses, then 200.
let script: Array<{ status: number; body?: string }> = [];
const server = http.createServer((_req, res) => {
  const next = script.shift() ?? { status: 200, body: 'ok' };
  res.writeHead(next.status);
  res.end(next.body ?? '');
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = (server.address() as AddressInfo).port;
after(() => server.close());

const httpCheck = (overrides: Partial<ConstructorParameters<typeof HttpCheck>[0]> = {}) =>
  new HttpCheck({ address: '127.0.0.1', port, path: '/healthz', scheme: 'http', expectStatus: 200, timeoutMs: 500, successThreshold: 1, intervalMs: 5, ...overrides });

test('http: the expected status passes, another fails with what was seen', async () => {
  script = [{ status: 503 }];
  assert.deepEqual(await httpCheck().probe(), { ok: false, detail: 'status 503, expected 200' });
  assert.deepEqual(await httpCheck().probe(), { ok: true, detail: 'status 200' });
  script = [{ status: 204 }];
  assert.equal((await httpCheck({ expectStatus: [200, 204] }).probe()).ok, true);
});

test('http: a body that does not match the pattern fails', async () => {
  script = [
    { status: 200, body: '{"db":"down"}' },
    { status: 200, body: '{"db":"up"}' },
  ];
  const check = httpCheck({ bodyMatch: '"db":"up"' });
  assert.match((await check.probe()).detail, /body does not match/);
  assert.equal((await check.probe()).ok, true);
});

test('http: nothing listening is a failure naming the error, not an exception', async () => {
  const closed = net.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const deadPort = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const result = await httpCheck({ port: deadPort }).probe();
  assert.equal(result.ok, false);
  assert.match(result.detail, /ECONNREFUSED/);
});

test('tcp: a listening port passes, a closed one fails', async () => {
  assert.equal((await new TcpCheck('127.0.0.1', port, 500, 1, 5).probe()).ok, true);
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const freed = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  assert.deepEqual(await new TcpCheck('127.0.0.1', freed, 500, 1, 5).probe(), { ok: false, detail: 'ECONNREFUSED' });
});

test('command: exit 0 passes; a failure shows the exit code and the last line it printed', async () => {
  const local = new LocalTransport({ host: 'local' });
  assert.equal((await new CommandCheck(local, 'true', 2000, 1, 5).probe()).ok, true);
  assert.deepEqual(await new CommandCheck(local, 'echo starting; echo "db not ready" >&2; exit 3', 2000, 1, 5).probe(), { ok: false, detail: 'exit 3: db not ready' });
  await local.close();
});

test('a flapping check must pass the threshold in a row: a failure resets the count', async () => {
  const answers = [true, true, false, true, true, true];
  let probes = 0;
  const flapping: Check = { name: 'flap', successThreshold: 3, intervalMs: 1, probe: async () => ({ ok: answers[probes++] ?? true, detail: '' }) };
  await waitUntilHealthy([flapping], { host: 'web1', deadlineMs: 1000 });
  assert.equal(probes, 6, 'passes only after three passes in a row, which the failure at probe 3 delayed');
});

test('a check that never passes ends in a deadline error naming host, check and last answer', async () => {
  script = Array.from({ length: 1000 }, () => ({ status: 500 }));
  await assert.rejects(waitUntilHealthy([httpCheck({ successThreshold: 2 })], { host: 'web7', deadlineMs: 150 }), (error: DeadlineError) => {
    assert.ok(error instanceof DeadlineError);
    assert.match(
      error.message,
      /^web7: health check http http:\/\/127\.0\.0\.1:\d+\/healthz did not finish within 150ms \(last seen: status 500, expected 200 \(0\/2 consecutive passes\)\)$/,
    );
    return true;
  });
  script = [];
});
