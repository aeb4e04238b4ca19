/** rollout.bake, rollout.analysis and rollout.onFailure: read as written, refused where they could not judge anything. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateConfig } from '../../src/config/load.js';
import { configProblems, minimalConfig } from '../support/config-problems.js';

const haproxy = { type: 'haproxy', runtimeApi: '127.0.0.1:9999', backend: 'app' };
const elbv2 = { type: 'elbv2', region: 'us-east-1', targetGroupArns: ['arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef'] };

test('bake, analysis and onFailure are read with rates as fractions and durations in milliseconds', () => {
  const { config } = validateConfig(
    {
      ...minimalConfig,
      loadBalancer: haproxy,
      rollout: { bake: '60s', analysis: { maxErrorRate: '1%', minRequests: 50, compareToFleet: true, margin: '0.5%', command: './check-metrics.sh' }, onFailure: 'rollback' },
    },
    'f',
  );
  assert.equal(config.rollout.bake, 60_000);
  assert.equal(config.rollout.onFailure, 'rollback');
  assert.deepEqual(config.rollout.analysis, { maxErrorRate: 0.01, minRequests: 50, compareToFleet: true, margin: 0.005, command: './check-metrics.sh', commandTimeout: 60_000 });
  const defaults = validateConfig(minimalConfig, 'f').config.rollout;
  assert.equal(defaults.bake, 0);
  assert.equal(defaults.onFailure, 'stop');
  assert.equal(defaults.analysis, undefined);
});

test('a rate is a percentage: a bare number or one above 100% is refused', () => {
  assert.deepEqual(configProblems({ ...minimalConfig, loadBalancer: haproxy, rollout: { bake: '5s', analysis: { maxErrorRate: 1 } } }), [
    'rollout.analysis.maxErrorRate: expected string, received number',
  ]);
  assert.match(
    configProblems({ ...minimalConfig, loadBalancer: haproxy, rollout: { bake: '5s', analysis: { margin: '150%' } } })[0]!,
    /^rollout\.analysis\.margin: expected a percentage/,
  );
});

test('refused where it could not judge: no bake, counters without HAProxy, alarms without ELBv2, nothing at all to judge by', () => {
  assert.deepEqual(configProblems({ ...minimalConfig, loadBalancer: haproxy, rollout: { analysis: {} } }), [
    "rollout.bake: analysis judges a batch over its bake: set rollout.bake, e.g. '60s'",
  ]);
  const onElb = configProblems({ ...minimalConfig, loadBalancer: elbv2, rollout: { bake: '5s', analysis: { maxErrorRate: '1%' } } });
  assert.match(onElb[0]!, /^rollout\.analysis\.maxErrorRate: maxErrorRate judges HAProxy's per-server counters; a 'elbv2' load balancer has none/);
  assert.match(onElb[1]!, /^rollout\.analysis: with a 'elbv2' load balancer, analysis needs alarms/);
  assert.match(
    configProblems({ ...minimalConfig, loadBalancer: haproxy, rollout: { bake: '5s', analysis: { alarms: ['web-5xx'] } } })[0]!,
    /^rollout\.analysis\.alarms: CloudWatch alarms/,
  );
  assert.doesNotThrow(() => validateConfig({ ...minimalConfig, loadBalancer: elbv2, rollout: { bake: '5s', analysis: { alarms: ['web-5xx'] } } }, 'f'));
  assert.doesNotThrow(() => validateConfig({ ...minimalConfig, rollout: { bake: '5s', analysis: { command: 'true' } } }, 'f'));
  assert.deepEqual(configProblems({ ...minimalConfig, rollout: { onFailure: 'undo' } }), ['rollout.onFailure: Invalid option: expected one of "stop"|"rollback"']);
});
