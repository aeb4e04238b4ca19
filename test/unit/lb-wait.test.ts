/**
 * Where a host's time out of rotation goes: the summary's LB wait column, and the note ship gives
 * once per run when the load balancer's own checks were most of it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HostSummary } from '../../src/events.js';
import type { LoadBalancer, WaitSettings } from '../../src/lb/load-balancer.js';
import { formatSummary } from '../../src/report/summary.js';
import { loadBalancerWaitNote } from '../../src/rollout/lb-wait.js';

const SETTINGS: WaitSettings = { cause: 'HAProxy checks every `inter`', change: 'lower `inter`' };

function lbWith(waitSettings?: LoadBalancer['waitSettings']): LoadBalancer & { asked: string[][] } {
  const asked: string[][] = [];
  const fail = () => Promise.reject(new Error('not used'));
  return {
    kind: 'fake',
    asked,
    verify: fail,
    members: fail,
    startDrain: fail,
    waitDrained: fail,
    takeOut: fail,
    putBack: fail,
    waitHealthy: fail,
    close: () => Promise.resolve(),
    ...(waitSettings
      ? {
          waitSettings: (names: string[]) => {
            asked.push(names);
            return waitSettings(names);
          },
        }
      : {}),
  };
}

const host = (name: string, outOfRotationMs: number, timeToHealthyMs: number, outcome: HostSummary['outcome'] = 'deployed'): HostSummary => ({
  host: name,
  outcome,
  outOfRotationMs,
  timeToHealthyMs,
  lbWaitMs: timeToHealthyMs + 2,
});
const lbName = (name: string) => `lb-${name}`;

test('the note says how much of the median time out of rotation the load balancer took, with its settings and what to change', async () => {
  const lb = lbWith(async () => SETTINGS);
  const note = await loadBalancerWaitNote([host('web1', 400, 300), host('web2', 500, 350), host('web3', 450, 280), host('web4', 0, 0, 'not-started')], lb, lbName);
  assert.deepEqual(note, {
    medianWaitMs: 300,
    medianOutOfRotationMs: 450,
    line: 'waiting for the load balancer to agree a host was healthy took 67% of its time out of rotation (median 300ms of 450ms): HAProxy checks every `inter`; to shorten it, lower `inter`',
  });
  assert.deepEqual(lb.asked, [['lb-web1', 'lb-web2', 'lb-web3']], 'asked once, about the hosts it judged');
});

test('no note when the load balancer was not most of the time, or too short to matter, or no host was confirmed', async () => {
  const lb = lbWith(async () => SETTINGS);
  assert.equal(await loadBalancerWaitNote([host('web1', 1000, 400), host('web2', 1200, 450)], lb, lbName), undefined, 'under half');
  assert.equal(await loadBalancerWaitNote([host('web1', 120, 90), host('web2', 130, 95)], lb, lbName), undefined, 'most, but under 100 ms');
  assert.equal(await loadBalancerWaitNote([host('web1', 5000, 4000, 'failed-out'), host('web2', 0, 0, 'skipped')], lb, lbName), undefined, 'nobody confirmed');
  assert.deepEqual(lb.asked, [], 'the load balancer is not asked when there is nothing to say');
});

test('no note when the load balancer cannot tell its settings: it is advice, a finished run does not fail over it', async () => {
  const hosts = [host('web1', 400, 300)];
  assert.equal(await loadBalancerWaitNote(hosts, lbWith(), lbName), undefined);
  assert.equal(
    await loadBalancerWaitNote(
      hosts,
      lbWith(async () => undefined),
      lbName,
    ),
    undefined,
  );
  assert.equal(
    await loadBalancerWaitNote(
      hosts,
      lbWith(() => Promise.reject(new Error('runtime API down'))),
      lbName,
    ),
    undefined,
  );
});

test('the summary has an LB wait column, and the note once under the hosts', () => {
  const text = formatSummary('succeeded', 2400, {
    hosts: [host('web1', 400, 300), { host: 'web2', outcome: 'skipped', outOfRotationMs: 0, timeToHealthyMs: 0 }],
    outOfRotation: [],
    loadBalancerWait: { medianWaitMs: 300, medianOutOfRotationMs: 400, line: 'waiting for the load balancer ... lower `inter`' },
  });
  assert.equal(
    text,
    [
      'rollout succeeded in 2.40s',
      '  host  outcome       out of rotation  LB wait  to healthy  release',
      '  web1  deployed      400ms            302ms    300ms       -',
      '  web2  skipped       -                -        -           -',
      '  load balancer: waiting for the load balancer ... lower `inter`',
    ].join('\n'),
  );
});
