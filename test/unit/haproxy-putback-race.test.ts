/**
 * ship reads `show servers state` and `show stat` on two connections at once, so HAProxy may answer
 * the stat one a moment before the check the state one saw end had ended. A scripted runtime API
 * socket replays that order, which a real HAProxy shows only now and then (a CI run did).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { test } from 'node:test';
import { HaproxyLoadBalancer } from '../../src/lb/haproxy.js';
import { parseRuntimeApi } from '../../src/lb/haproxy-runtime.js';

const STATE_HEADER =
  '# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state';
const STAT_HEADER = '# pxname,svname,qcur,scur,status,check_status,check_code,check_rise,check_fall';

/** srv_check_state 6: checks configured and enabled, none running. */
const stateRow = (opState: number, adminState: number, checkHealth: number) => `3 app 1 web1 127.0.0.1 ${opState} ${adminState} 1 1 0 15 0 ${checkHealth} 6`;
const statRow = (status: string, checkStatus: string, checkCode: string) => `app,web1,0,0,${status},${checkStatus},${checkCode},2,2`;

/** A runtime API whose answers follow the `set` commands it was sent; `racing` is the stat row of the poll. */
async function scriptedRuntimeApi(racing: string) {
  let phase: 'maintenance' | 'checking' | 'up' = 'maintenance';
  const answer = (command: string): string => {
    if (command.includes('health down')) phase = 'checking';
    if (command.includes('health up')) phase = 'up';
    if (command.startsWith('set ')) return '';
    if (command.startsWith('show servers state')) {
      // In maintenance, then: the first check after it has passed (health 1 of rise 2) and ended.
      const row = phase === 'maintenance' ? stateRow(0, 0x01, 0) : stateRow(2, phase === 'checking' ? 0x08 : 0, phase === 'checking' ? 1 : 2);
      return ['1', STATE_HEADER, row, ''].join('\n');
    }
    if (command.startsWith('show stat')) {
      const row = phase === 'maintenance' ? statRow('MAINT', 'L7STS', '500') : phase === 'checking' ? racing : statRow('UP', 'L7OK', '200');
      return [STAT_HEADER, row, ''].join('\n');
    }
    return `Unknown command: ${command}\n`;
  };
  const server = createServer((socket) => {
    let received = '';
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString();
      const end = received.indexOf('\n');
      if (end >= 0) socket.end(answer(received.slice(0, end)));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { endpoint: `127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const cases = [
  // HAProxy shows a running check as '* ' and the result before it, whose code it has already reset to 0.
  { name: 'a stat row taken while the check still ran', racing: statRow('DOWN', '* L7STS', '0') },
  { name: 'a stat row taken before the check began', racing: statRow('DOWN', 'L7STS', '500') },
];

for (const { name, racing } of cases) {
  test(`the confirmation names the check that ended, not ${name}`, async () => {
    const api = await scriptedRuntimeApi(racing);
    const lb = new HaproxyLoadBalancer({ backend: 'app', nodes: [parseRuntimeApi(api.endpoint)], pollIntervalMs: 1 });
    try {
      const confirmed = await lb.putBack('web1', { deadlineMs: 2000 });
      assert.match(String(confirmed), /^HAProxy's first check after the restart passed \(L7OK 200\) \d+ ms after it left maintenance, without waiting for rise 2$/);
    } finally {
      await lb.close();
      await api.close();
    }
  });
}
