/**
 * Every duration ship reads (config fields, flags, playbook step options) is bounded by what
 * Node's timers can wait: a longer delay fires at once, so '25d' would fail every step
 * immediately as "timed out". Each refusal names the field or flag and the maximum.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLockWait } from '../../src/cli/roll-flags.js';
import { reboot, run } from '../../src/playbook/define.js';
import { sh } from '../../src/shell/sh.js';
import { MAX_DURATION_MS, readDuration } from '../../src/util/duration.js';
import { configProblems, minimalConfig } from '../support/config-problems.js';

test('the longest wait Node can time is accepted, one millisecond more is refused', () => {
  assert.deepEqual(readDuration(MAX_DURATION_MS), { ok: true, ms: MAX_DURATION_MS });
  assert.deepEqual(readDuration('24d'), { ok: true, ms: 24 * 86_400_000 });
  const over = readDuration(MAX_DURATION_MS + 1);
  assert.equal(over.ok, false);
  assert.match(!over.ok ? over.problem : '', /too long: at most 2147483647ms \(about 24\.8 days/);
});

test('every duration field of the config is bounded, and the refusal names the field and the maximum', () => {
  const found = configProblems({
    ...minimalConfig,
    ssh: { commandTimeout: '25d', connectTimeout: 3e9 },
    rollout: { drainTimeout: '30d' },
    health: { http: { port: 8080, interval: '100d' } },
    loadBalancer: { type: 'haproxy', runtimeApi: '127.0.0.1:9999', backend: 'app', pollInterval: '25d' },
    notify: { webhook: { url: 'https://example.com/hook' }, timeout: '25d' },
  });
  for (const field of ['ssh.commandTimeout', 'ssh.connectTimeout', 'rollout.drainTimeout', 'health.http.interval', 'loadBalancer.pollInterval', 'notify.timeout']) {
    assert.ok(
      found.some((p) => p.startsWith(`${field}: `) && p.includes('at most 2147483647ms (about 24.8 days')),
      `${field} must be refused with the maximum:\n${found.join('\n')}`,
    );
  }
});

test('--lock-wait beyond the maximum is a usage error naming the flag', () => {
  assert.equal(parseLockWait('24d'), 24 * 86_400_000);
  assert.throws(() => parseLockWait('25d'), /--lock-wait: "25d" is too long: at most 2147483647ms/);
});

test('a playbook step timeout or poll interval beyond the maximum is refused when the playbook is defined', () => {
  assert.throws(() => run(sh`true`, { name: 'wait a month', timeout: '30d' }), /step 'wait a month': timeout: "30d" is too long: at most 2147483647ms/);
  assert.throws(() => reboot({ pollInterval: '25d' }), /step 'reboot': pollInterval: "25d" is too long/);
});
