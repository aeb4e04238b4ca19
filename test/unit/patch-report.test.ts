/** The patch report from a run's events, the combined status, and the rollback target choice. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventBus, type HostSummary } from '../../src/events.js';
import { combineReports, parsePackageLines, PatchRunCollector } from '../../src/patch/report.js';
import { formatPatchReport } from '../../src/patch/format.js';
import { chooseTarget } from '../../src/commands/rollback.js';
import { previousRelease } from '../../src/commands/releases.js';

function runWith(hosts: HostSummary[], status: 'succeeded' | 'failed' | 'incomplete' = 'succeeded') {
  const bus = new EventBus('run');
  const collector = new PatchRunCollector('shop', bus);
  bus.emit({ type: 'step.finished', host: 'web2', phase: 'stage', step: 'list pending updates', durationMs: 120, ok: true });
  bus.emit({ type: 'step.finished', host: 'web2', phase: 'stage', step: 'download updates', durationMs: 300, ok: true });
  bus.emit({ type: 'step.finished', host: 'web2', phase: 'stage', step: 'download updates', durationMs: 0, ok: true, skipped: true });
  bus.emit({ type: 'step.finished', host: 'web2', phase: 'activate', step: 'install updates', durationMs: 2500, ok: true });
  bus.emit({ type: 'run.finished', status, durationMs: 9000, summary: { hosts, outOfRotation: hosts.filter((h) => h.outcome === 'failed-out').map((h) => h.host) } });
  return collector.report();
}

test('packages, reboot and durations per host come from facts and step events', () => {
  const app = runWith([
    { host: 'web1', outcome: 'skipped', outOfRotationMs: 0, timeToHealthyMs: 0, error: 'no pending security updates', facts: { packageManager: 'apt', pending: '' } },
    {
      host: 'web2',
      outcome: 'deployed',
      outOfRotationMs: 4000.4,
      timeToHealthyMs: 600,
      facts: {
        packageManager: 'apt',
        pending: 'libc6 2.36-9 2.36-9+deb12u4\nopenssl 3.0.11-1 3.0.13-1',
        upgraded: 'libc6 2.36-9 2.36-9+deb12u4\nopenssl 3.0.11-1 3.0.13-1',
        rebootRequired: 'yes',
        rebootMs: '2100',
      },
    },
  ]);
  assert.equal(app.status, 'succeeded');
  const [web1, web2] = app.hosts;
  assert.deepEqual(web1!.upgraded, []);
  assert.equal(web1!.rebooted, false);
  assert.deepEqual(web2!.upgraded, [
    { name: 'libc6', from: '2.36-9', to: '2.36-9+deb12u4' },
    { name: 'openssl', from: '3.0.11-1', to: '3.0.13-1' },
  ]);
  assert.equal(web2!.rebooted, true);
  assert.deepEqual(web2!.durations, { stageMs: 420, installMs: 2500, rebootMs: 2100, outOfRotationMs: 4000, timeToHealthyMs: 600 });
  const text = formatPatchReport(combineReports([app], new Date(0), new Date(9000)));
  assert.match(text, /^patch run succeeded in 9\.00s/);
  assert.match(text, /web1: skipped \(apt\): no pending security updates/);
  assert.match(text, /libc6 2\.36-9 -> 2\.36-9\+deb12u4/);
  assert.match(text, /install 2\.50s, rebooted in 2\.10s, out of rotation 4\.00s/);
});

test('a failed host fails the combined report even when the window ended after it; the worst app wins', () => {
  const failed = runWith(
    [{ host: 'web2', outcome: 'failed-out', outOfRotationMs: 1, timeToHealthyMs: 0, error: 'web2: reboot failed', facts: { rebootRequired: 'yes', upgraded: 'a 1 2' } }],
    'incomplete',
  );
  const fine = runWith([{ host: 'web9', outcome: 'deployed', outOfRotationMs: 1, timeToHealthyMs: 1, facts: {} }]);
  const report = combineReports([fine, failed], new Date(0), new Date(1));
  assert.equal(report.status, 'failed');
  assert.deepEqual(report.failedHosts, ['shop/web2']);
  const text = formatPatchReport(report);
  assert.match(text, /web2: FAILED, left out of the load balancer/);
  assert.match(text, /reboot required, NOT completed/);
  assert.match(text, /STILL OUT OF THE LOAD BALANCER: web2/);
  assert.equal(combineReports([fine, runWith([], 'incomplete')], new Date(0), new Date(1)).status, 'incomplete');
});

test('an app whose run never produced a summary is reported as failed with the reason', () => {
  const bus = new EventBus('run');
  const report = new PatchRunCollector('admin', bus).report('playbook not found');
  assert.deepEqual(report, { app: 'admin', status: 'failed', durationMs: 0, hosts: [], outOfRotation: [], error: 'playbook not found' });
});

test('package lines: malformed lines are ignored', () => {
  assert.deepEqual(parsePackageLines('a 1 2\n\ngarbage\nb 1:2.0 1:2.1\n'), [
    { name: 'a', from: '1', to: '2' },
    { name: 'b', from: '1:2.0', to: '1:2.1' },
  ]);
});

const host = (name: string, current: string, releases: Array<[string, number]>) => ({
  host: name,
  current,
  releases: releases.map(([version, changedAt]) => ({ version, changedAt })).sort((a, b) => b.changedAt - a.changedAt),
});

test('previous release: the newest one unpacked before the current one, never a newer failed deploy', () => {
  // v3 was staged by a deploy that failed and was rolled back: the host still runs v2.
  assert.equal(
    previousRelease(
      host('web1', 'v2', [
        ['v1', 100],
        ['v2', 200],
        ['v3', 300],
      ]),
    ),
    'v1',
  );
  assert.equal(previousRelease(host('web1', 'v1', [['v1', 100]])), undefined);
});

test('rollback target: agreed previous release, or a refusal naming the hosts', () => {
  const web1 = host('web1', 'v3', [
    ['v1', 1],
    ['v2', 2],
    ['v3', 3],
  ]);
  const web2 = host('web2', 'v3', [
    ['v2', 2],
    ['v3', 3],
  ]);
  assert.deepEqual(chooseTarget([web1, web2], undefined), { version: 'v2' });
  assert.deepEqual(chooseTarget([web1, web2], 'v1'), { refusal: 'release v1 is missing on web2; it must already be on every host (deploy it there, or pick another with --to)' });
  const odd = host('web3', 'v3', [
    ['v1', 1],
    ['v3', 3],
  ]);
  assert.match((chooseTarget([web1, odd], undefined) as { refusal: string }).refusal, /disagree on the previous release \(web1: v2, web3: v1\)/);
  assert.match(
    (chooseTarget([{ host: 'web4', releases: [], error: 'connection refused' }], 'v1') as { refusal: string }).refusal,
    /cannot read the releases of web4 \(connection refused\)/,
  );
});
