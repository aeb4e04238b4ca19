/**
 * Why a HAProxy check that passes after a server leaves maintenance proves something only when it
 * started after the restart, against a real HAProxy 2.6: a check that began before maintenance is
 * not stopped by it, and its late answer (from the old app) must not count as the new app's.
 * The server behind HAProxy is a small HTTP responder the test drives: it answers HAProxy's checks
 * 200 (the old app), holds one check open on demand, and then answers 500 (a new release only
 * HAProxy's check sees broken).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { HaproxyLoadBalancer } from '../../src/lb/haproxy.js';
import { RuntimeApiClient, parseRuntimeApi } from '../../src/lb/haproxy-runtime.js';
import { DeadlineError, sleep } from '../../src/util/deadline.js';
import { startHaproxy, type HaproxyHandle } from '../fleet/haproxy.js';

const pick = () => 10 + Math.floor(Math.random() * 241);
const block = `127.${pick()}.${pick()}`;
let dir: string;
let haproxy: HaproxyHandle;
let responder: CheckResponder;

/** Answers every request with `status`, except one held open after `holdNext()` until `release()`. */
class CheckResponder {
  status = 200;
  checksAnswered = 0;
  private holding = false;
  private held: Socket | undefined;
  private arrived: (() => void) | undefined;
  readonly server: Server;

  constructor() {
    this.server = createServer((socket) => {
      let request = '';
      socket.on('error', () => undefined);
      socket.on('data', (chunk: Buffer) => {
        request += chunk.toString();
        if (!request.includes('\r\n\r\n')) return;
        if (this.holding && !this.held) {
          this.held = socket;
          this.holding = false;
          this.arrived?.();
          return;
        }
        this.answer(socket, this.status);
      });
    });
  }

  /** The next request is held open; resolves once it has arrived. */
  holdNext(): Promise<void> {
    this.holding = true;
    return new Promise((resolve) => (this.arrived = resolve));
  }

  /** Answers the held request now, with `status`. */
  release(status: number): void {
    const held = this.held;
    this.held = undefined;
    if (held) this.answer(held, status);
  }

  private answer(socket: Socket, status: number): void {
    this.checksAnswered++;
    socket.end(`HTTP/1.0 ${status} ${status === 200 ? 'OK' : 'Error'}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
  }
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ship-haproxy-confirm-'));
  responder = new CheckResponder();
  await new Promise<void>((resolve) => responder.server.listen(8080, `${block}.11`, resolve));
  haproxy = await startHaproxy({
    dir: join(dir, 'lb'),
    frontend: { address: `${block}.1`, port: 8080 },
    runtimeApi: { address: `${block}.1`, port: 9999 },
    backend: 'app',
    servers: [{ name: 'web1', address: `${block}.11`, port: 8080 }],
    // `inter` is also the check's timeout here (no `timeout check`): the held check must be released well within it.
    check: { path: '/healthz', inter: '1s', fall: 2, rise: 2 },
  });
});

after(async () => {
  await haproxy?.stop();
  responder?.server.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('a check that began before maintenance and passes late (the old app answering) does not confirm the new app: putBack waits for it to end first', async () => {
  const client = new RuntimeApiClient(parseRuntimeApi(haproxy.runtimeApi));
  const lb = new HaproxyLoadBalancer({ backend: 'app', nodes: [parseRuntimeApi(haproxy.runtimeApi)], pollIntervalMs: 5 });
  const state = async () => (await client.serversState('app')).find((row) => row.name === 'web1')!;
  const status = async () => (await client.serverStats('app')).find((row) => row.name === 'web1')!.status;
  try {
    await lb.waitHealthy('web1', { deadlineMs: 5000 });

    // The old app is slow to answer one check, which is running when the server goes into maintenance.
    const arrived = responder.holdNext();
    await arrived;
    assert.ok((await state()).checkInProgress, 'the held check is running');
    await lb.startDrain('web1');
    await lb.takeOut('web1');
    const inMaintenance = await state();
    assert.equal(await status(), 'MAINT');
    assert.ok(inMaintenance.checkInProgress, 'HAProxy 2.6 lets a check that began before maintenance run on in maintenance');

    // The restart: the new release answers HAProxy's checks 500.
    responder.status = 500;
    const seen = new Set<string>();
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        seen.add(await status());
        await sleep(5);
      }
    })();
    const putBack = lb.putBack('web1', { deadlineMs: 2500 });
    await sleep(200);
    assert.equal(await status(), 'MAINT', 'putBack left maintenance while a check from before the restart was still running');
    // The old app's late 200 lands now: in maintenance, where it moves nothing ship reads afterwards.
    responder.release(200);
    await assert.rejects(putBack, (error: unknown) => {
      assert.ok(error instanceof DeadlineError, String(error));
      assert.equal(error.step, 'load balancer health');
      assert.match(error.lastSeen, /DOWN, last check L7STS 500/);
      return true;
    });
    watching = false;
    await watcher;
    assert.ok(![...seen].some((s) => s.startsWith('UP')), `web1 was UP at some point: ${[...seen].join(', ')}`);
    assert.equal(await status(), 'MAINT', 'a server HAProxy did not confirm stays in maintenance');
  } finally {
    responder.status = 200;
    responder.release(200);
    await lb.close();
  }
});

test('with the new app passing, the first check that started after leaving maintenance confirms it, without waiting for rise', async () => {
  const lb = new HaproxyLoadBalancer({ backend: 'app', nodes: [parseRuntimeApi(haproxy.runtimeApi)], pollIntervalMs: 5 });
  try {
    const answeredBefore = responder.checksAnswered;
    const confirmed = await lb.putBack('web1', { deadlineMs: 5000 });
    assert.match(String(confirmed), /^HAProxy's first check after the restart passed \(L7OK 200\) \d+ ms after it left maintenance, without waiting for rise 2$/);
    assert.equal(responder.checksAnswered - answeredBefore, 1, 'one HAProxy check between leaving maintenance and being put back');
    await lb.waitHealthy('web1', { deadlineMs: 1000 });
  } finally {
    await lb.close();
  }
});
