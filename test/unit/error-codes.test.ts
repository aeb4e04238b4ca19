import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { AwsError } from '../../src/aws/errors.js';
import { UsageError } from '../../src/commands/errors.js';
import { ConfigError } from '../../src/config/errors.js';
import { ALL_ERROR_CODES, classifyError, describeCode, ERROR_CODES, findCode, headingAnchor, runbookAnchor, runbookLink } from '../../src/errors/codes.js';
import { InventoryError } from '../../src/inventory/ec2.js';
import { StateFileError } from '../../src/journal/file/durable-files.js';
import { LockAliveError, LockHeldError } from '../../src/journal/lock.js';
import { StateDatabaseError } from '../../src/journal/postgres-store.js';
import { LoadBalancerError } from '../../src/lb/load-balancer.js';
import { GitError } from '../../src/migrations/changed-files.js';
import { MigrationDiscoveryError } from '../../src/migrations/discovery.js';
import { PlaybookError } from '../../src/playbook/load.js';
import { StepFailedError } from '../../src/playbook/runner.js';
import { DatabaseCheckError } from '../../src/preflight/database/connect.js';
import { PreflightRefused } from '../../src/preflight/preflight.js';
import { CapacityError } from '../../src/rollout/rollout.js';
import { TransportError } from '../../src/transport/transport.js';
import { DeadlineError } from '../../src/util/deadline.js';

const runbook = readFileSync(new URL('../../docs/runbook.md', import.meta.url), 'utf8');
const sections = [...runbook.matchAll(/^## (SHIP-E\d{3}) (.+)$/gm)].map((m) => ({ code: m[1]!, title: m[2]!.trim(), heading: `${m[1]} ${m[2]!.trim()}` }));

test('every code in the catalogue has a runbook section with the same title, and every section has a code', () => {
  const catalogued = ALL_ERROR_CODES.map((c) => `${c.code} ${c.title}`);
  const documented = sections.map((s) => s.heading);
  assert.deepEqual(
    catalogued.filter((c) => !documented.includes(c)),
    [],
    'codes without a runbook section (add "## <code> <title>" to docs/runbook.md)',
  );
  assert.deepEqual(
    documented.filter((d) => !catalogued.includes(d)),
    [],
    'runbook sections without a code in src/errors/codes.ts',
  );
  // Any other level-2 heading would be a section the test cannot see.
  const otherHeadings = [...runbook.matchAll(/^## (?!SHIP-E\d{3} )(.+)$/gm)].map((m) => m[1]);
  assert.deepEqual(otherHeadings, []);
});

test('codes are unique, well-formed, and each runbook section says what it means, what ship did and what to do', () => {
  const codes = ALL_ERROR_CODES.map((c) => c.code);
  assert.equal(new Set(codes).size, codes.length);
  for (const code of codes) assert.match(code, /^SHIP-E\d{3}$/);
  const bodies = runbook.split(/^## /m).slice(1);
  for (const body of bodies) {
    const heading = body.split('\n', 1)[0]!;
    for (const part of ['**What it means.**', '**What ship already did.**', '**What to do next.**']) {
      assert.ok(body.includes(part), `${heading}: missing ${part}`);
    }
  }
});

test('runbook links use the anchor a Markdown renderer gives the heading, relative or under a base URL', () => {
  const code = ERROR_CODES.healthCheckTimeout;
  assert.equal(runbookAnchor(code), 'ship-e015-health-check-did-not-pass-in-time');
  assert.equal(headingAnchor('SHIP-E007 Host key unknown or changed'), 'ship-e007-host-key-unknown-or-changed');
  assert.equal(headingAnchor('SHIP-E023 AWS credentials missing, expired or rejected'), 'ship-e023-aws-credentials-missing-expired-or-rejected');
  assert.equal(runbookLink(code, ''), 'docs/runbook.md#ship-e015-health-check-did-not-pass-in-time');
  assert.equal(
    runbookLink(code, 'https://git.example.com/ops/ship/blob/main/docs/runbook.md'),
    'https://git.example.com/ops/ship/blob/main/docs/runbook.md#ship-e015-health-check-did-not-pass-in-time',
  );
  const previous = process.env.SHIP_RUNBOOK_URL;
  process.env.SHIP_RUNBOOK_URL = 'https://wiki.example.com/runbook';
  try {
    assert.equal(runbookLink(code), 'https://wiki.example.com/runbook#ship-e015-health-check-did-not-pass-in-time');
  } finally {
    if (previous === undefined) delete process.env.SHIP_RUNBOOK_URL;
    else process.env.SHIP_RUNBOOK_URL = previous;
  }
  assert.match(describeCode(code, ''), /^SHIP-E015 Health check did not pass in time: docs\/runbook\.md#ship-e015-/);
  assert.equal(findCode('SHIP-E015'), code);
  assert.equal(findCode('SHIP-E777'), undefined);
});

const holder = {
  runId: 'r1',
  pid: 4242,
  app: 'storefront',
  command: 'deploy',
  actor: { osUser: 'ci', hostname: 'runner-1' },
  acquiredAt: '2026-01-01T00:00:00Z',
  heartbeatAt: '2026-01-01T00:00:10Z',
};

test('the project error classes and kinds map to their codes', () => {
  const cases: Array<[unknown, string]> = [
    [new ConfigError('orchestrator.config.ts', ['app: required']), 'SHIP-E001'],
    [new UsageError('--hosts: unknown host web9'), 'SHIP-E002'],
    [new PlaybookError('playbooks/x.ts', 'playbook file not found'), 'SHIP-E003'],
    [new TransportError('web1', 'connect ECONNREFUSED', 'connect'), 'SHIP-E006'],
    [new TransportError('web1', 'HOST KEY CHANGED', 'host-key'), 'SHIP-E007'],
    [new TransportError('web1', 'authentication failed', 'auth'), 'SHIP-E008'],
    [new TransportError('web1', 'timed out', 'timeout'), 'SHIP-E021'],
    [new TransportError('web1', 'exit', 'exec'), 'SHIP-E022'],
    [new TransportError('web1', 'sha256 differs', 'upload'), 'SHIP-E022'],
    [new TransportError('web1', 'connection closed', 'closed'), 'SHIP-E022'],
    [new LoadBalancerError('haproxy: no server web1'), 'SHIP-E009'],
    [new DeadlineError('web1', 'drain', 60_000, '3 sessions'), 'SHIP-E017'],
    [new DeadlineError('web1', 'deregistration from target groups (deregistration delay 30s)', 60_000, 'draining'), 'SHIP-E017'],
    [new DeadlineError('web1', 'health check http :8080/healthz', 120_000, '503'), 'SHIP-E015'],
    [new DeadlineError('web1', 'load balancer health', 120_000, 'DOWN'), 'SHIP-E016'],
    [new DeadlineError('web1', 'become healthy in every target group', 120_000, 'initial'), 'SHIP-E016'],
    [new DeadlineError('web1,web2', 'capacity check', 0, '1 healthy'), 'SHIP-E018'],
    [new DeadlineError('web1', 'something new', 1, 'x'), 'SHIP-E034'],
    [new StepFailedError('web1', 'stage', 'unpack', 'exited 2', ''), 'SHIP-E013'],
    [new StepFailedError('web1', 'activate', 'restart', 'exited 1', ''), 'SHIP-E014'],
    [new StepFailedError('web1', 'verify', 'smoke', 'exited 1', ''), 'SHIP-E014'],
    [new StepFailedError('web1', 'rollback', 'switch back', 'exited 1', ''), 'SHIP-E019'],
    [new StepFailedError('web1', 'reload', 'usr2', 'exited 1', ''), 'SHIP-E020'],
    [new CapacityError('capacity floor: ...'), 'SHIP-E018'],
    [new LockHeldError(holder, false), 'SHIP-E012'],
    [new LockAliveError({ ...holder, staleAfterMs: 30_000, heartbeatAgeMs: 1_000, stale: false }), 'SHIP-E035'],
    [new StateFileError('/srv/deploy/.ship', 'is a symbolic link'), 'SHIP-E036'],
    [new StateDatabaseError('state store postgres db:5432/ship: cannot connect'), 'SHIP-E036'],
    [new DatabaseCheckError('replica r1 unreachable'), 'SHIP-E010'],
    [new InventoryError('no running instances'), 'SHIP-E027'],
    [new MigrationDiscoveryError('cannot read db/migrations'), 'SHIP-E029'],
    [new GitError('--base origin/main: unknown revision'), 'SHIP-E029'],
    [new AwsError('ELBv2', 'DescribeTargetHealth', 'credentials', 'ExpiredToken', 'expired'), 'SHIP-E023'],
    [new AwsError('ELBv2', 'RegisterTargets', 'permissions', 'AccessDenied', 'denied'), 'SHIP-E024'],
    [new AwsError('EC2', 'DescribeInstances', 'throttled', 'Throttling', 'slow down'), 'SHIP-E025'],
    [new AwsError('EC2', 'DescribeInstances', 'unavailable', 'InternalError', '500'), 'SHIP-E025'],
    [new AwsError('EC2', 'DescribeInstances', 'network', 'ECONNREFUSED', 'down'), 'SHIP-E025'],
    [new AwsError('ELBv2', 'DescribeTargetGroups', 'not-found', 'TargetGroupNotFound', 'gone'), 'SHIP-E026'],
    [new AwsError('ELBv2', 'DescribeTargetGroups', 'api', 'ValidationError', 'bad'), 'SHIP-E026'],
    [new Error('something nobody foresaw'), 'SHIP-E099'],
    ['a string thrown', 'SHIP-E099'],
    [undefined, 'SHIP-E099'],
  ];
  for (const [error, expected] of cases) {
    const label = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    assert.equal(classifyError(error).code, expected, label);
  }
});

test('a pre-flight refusal is classified by its failing check, refined by the cause it carries', () => {
  const refused = (check: string, cause?: unknown) => {
    const error = new PreflightRefused([{ check, reason: 'no' }]);
    if (cause !== undefined) Object.defineProperty(error, 'cause', { value: cause });
    return error;
  };
  assert.equal(classifyError(refused('playbook variables')).code, 'SHIP-E004');
  assert.equal(classifyError(refused('capacity plan')).code, 'SHIP-E005');
  assert.equal(classifyError(refused('connectivity')).code, 'SHIP-E006');
  assert.equal(classifyError(refused('load balancer')).code, 'SHIP-E009');
  assert.equal(classifyError(refused('database')).code, 'SHIP-E010');
  assert.equal(classifyError(refused('migrations')).code, 'SHIP-E011');
  assert.equal(classifyError(refused('lock')).code, 'SHIP-E012');
  // The state store failing in the lock check is not another run holding the lock.
  assert.equal(classifyError(refused('lock', new StateDatabaseError('state store postgres db:5432/ship: cannot connect'))).code, 'SHIP-E036');
  assert.equal(classifyError(refused('lock', new StateFileError('/srv/.ship/locks', 'cannot create the state folder: EROFS'))).code, 'SHIP-E036');
  assert.equal(classifyError(refused('a check added later')).code, 'SHIP-E033');
  // Connectivity to many hosts at once: a changed host key outranks an unreachable host.
  const hosts = new AggregateError([new TransportError('web1', 'connect ETIMEDOUT', 'connect'), new TransportError('web2', 'HOST KEY CHANGED', 'host-key')]);
  assert.equal(classifyError(refused('connectivity', hosts)).code, 'SHIP-E007');
  assert.equal(classifyError(refused('load balancer', new AwsError('ELBv2', 'DescribeTargetHealth', 'permissions', 'AccessDenied', 'x'))).code, 'SHIP-E024');
  // An uninformative cause does not hide the check's own code.
  assert.equal(classifyError(refused('database', new Error('boom'))).code, 'SHIP-E010');
});

test('a wrapper keeps its own code unless its cause is a key or credential to fix first', () => {
  const viaSsh = new LoadBalancerError('haproxy lb1: show stat failed', { cause: new TransportError('lb1', 'auth failed', 'auth') });
  assert.equal(classifyError(viaSsh).code, 'SHIP-E008');
  const refused = new LoadBalancerError('haproxy lb1: refused', { cause: new TransportError('lb1', 'connect ECONNREFUSED', 'connect') });
  assert.equal(classifyError(refused).code, 'SHIP-E009');
  assert.equal(classifyError(new Error('wrapped', { cause: new CapacityError('floor') })).code, 'SHIP-E018');
  // Cycles in causes end.
  const a = new Error('a');
  const b = new Error('b', { cause: a });
  Object.defineProperty(a, 'cause', { value: b });
  assert.equal(classifyError(a).code, 'SHIP-E099');
});

test('an error is classified by the code it carries, also when the entry comes from another copy of the catalogue', () => {
  const elsewhere = Object.assign(new Error('held'), { shipCode: { code: 'SHIP-E012', title: 'Another run holds the deploy lock' } });
  assert.equal(classifyError(elsewhere), ERROR_CODES.lockHeld);
  // A code the catalogue does not know is no code.
  assert.equal(classifyError(Object.assign(new Error('x'), { shipCode: { code: 'SHIP-E777', title: 'x' } })).code, 'SHIP-E099');
  // The code stays out of what is printed: it is read from the class, not stored on the error.
  assert.doesNotMatch(JSON.stringify(new CapacityError('floor')), /shipCode/);
});
