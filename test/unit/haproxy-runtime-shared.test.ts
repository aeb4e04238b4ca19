/**
 * A wide batch waits on many servers of one backend at once. The runtime API client shares a
 * `show` read among the callers that ask while it is pending, never hands a caller a reading that
 * began before it asked, and keeps a few connections open to a node at a time (HAProxy's stats
 * socket takes 10 by default; past its backlog a SYN waits a second to be sent again).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { test } from 'node:test';
import { parseRuntimeApi, RuntimeApiClient } from '../../src/lb/haproxy-runtime.js';

const STATE_HEADER =
  '# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state';

/** A runtime API that answers after `delayMs`, counting connections open at once and `show` commands answered. */
async function countingRuntimeApi(delayMs: number) {
  let adminState = 0;
  let open = 0;
  const seen = { mostOpen: 0, shows: 0, sets: 0 };
  // Half-open: the client ends its side after the command; the answer comes later.
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    open++;
    seen.mostOpen = Math.max(seen.mostOpen, open);
    socket.on('close', () => open--);
    socket.on('error', () => undefined);
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString();
      const end = received.indexOf('\n');
      if (end < 0) return;
      const command = received.slice(0, end);
      // Read when the command arrives, answered later: what the caller gets is the state it asked in.
      if (command.startsWith('set server app/web1 state maint')) {
        seen.sets++;
        adminState = 1;
      }
      const answer = command.startsWith('show servers state') ? ['1', STATE_HEADER, `3 app 1 web1 127.0.0.1 2 ${adminState} 1 1 0 15 3 4 6`, ''].join('\n') : '';
      if (command.startsWith('show')) seen.shows++;
      setTimeout(() => socket.end(answer), delayMs);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { endpoint: `127.0.0.1:${port}`, seen, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

test('reads asked together share one connection, and a few connections at most are open to a node at once', async () => {
  const api = await countingRuntimeApi(20);
  const client = new RuntimeApiClient(parseRuntimeApi(api.endpoint));
  try {
    const readings = await Promise.all(Array.from({ length: 40 }, () => client.serversState('app')));
    assert.equal(readings.length, 40);
    assert.ok(readings.every((rows) => rows[0]?.name === 'web1'));
    assert.ok(api.seen.shows <= 2, `40 callers asking at once took ${api.seen.shows} reads (one, or one and the one queued behind it)`);
    await Promise.all(Array.from({ length: 40 }, (_, i) => client.runSilent(`set server app/web${i + 2} weight 1`).catch(() => undefined)));
    assert.ok(api.seen.mostOpen <= 4, `${api.seen.mostOpen} connections were open at once`);
  } finally {
    await client.close();
    await api.close();
  }
});

test('a caller never gets a reading that began before it asked: it joins the read queued behind the one under way', async () => {
  const api = await countingRuntimeApi(30);
  const client = new RuntimeApiClient(parseRuntimeApi(api.endpoint));
  try {
    const before = client.serversState('app');
    // While that read is under way, a command changes the server; a read asked after it must show it.
    await new Promise((resolve) => setTimeout(resolve, 5));
    await client.runSilent('set server app/web1 state maint');
    const after = await client.serversState('app');
    assert.equal((await before)[0]!.adminState, 0, 'the first read began before the command');
    assert.equal(after[0]!.adminState, 1, 'the read asked after the command shows it');
  } finally {
    await client.close();
    await api.close();
  }
});
