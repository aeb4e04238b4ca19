/**
 * Canary analysis, the pure parts as tables (Kubernetes rolling.go style): counter deltas, the
 * verdict of the counters against the limits, the overall verdict and its line; and the bake loop
 * with stand-in sources (no load balancer, no clock assertions).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ServerCounters } from '../../src/lb/load-balancer.js';
import { bakeBatch, MAX_BAKE_FACTOR } from '../../src/rollout/analysis/bake.js';
import { AnalysisError, type AnalysisSource, type BakeScope } from '../../src/rollout/analysis/source.js';
import { countsBetween, judgeCounters, overallVerdict, verdictLine, type Finding } from '../../src/rollout/analysis/verdict.js';

const limits = { maxErrorRate: 0.01, minRequests: 50, compareToFleet: true, margin: 0.005 };
const counters = (c: Partial<ServerCounters>): ServerCounters => ({ requests: 0, http5xx: 0, eresp: 0, econ: 0, wretr: 0, srvAbrt: 0, ...c });

test('countsBetween: requests are req_tot plus failed connects, errors are 5xx + eresp + econ, summed over the names; a counter that went down restarted', () => {
  const cases: Array<{
    name: string;
    start: Record<string, Partial<ServerCounters>>;
    end: Record<string, Partial<ServerCounters>>;
    names: string[];
    want: ReturnType<typeof countsBetween>;
  }> = [
    { name: 'one server', start: { a: { requests: 100, http5xx: 1 } }, end: { a: { requests: 300, http5xx: 11 } }, names: ['a'], want: { requests: 200, errors: 10, reset: [] } },
    {
      name: 'connect errors are requests too, retries and aborts are not counted twice',
      start: { a: {} },
      end: { a: { requests: 90, econ: 10, eresp: 3, srvAbrt: 3, wretr: 7 } },
      names: ['a'],
      want: { requests: 100, errors: 13, reset: [] },
    },
    {
      name: 'summed over servers',
      start: { a: { requests: 10 }, b: { requests: 10 } },
      end: { a: { requests: 20, http5xx: 1 }, b: { requests: 40 } },
      names: ['a', 'b'],
      want: { requests: 40, errors: 1, reset: [] },
    },
    {
      name: 'HAProxy reloaded: what it counted since',
      start: { a: { requests: 500, http5xx: 9 } },
      end: { a: { requests: 40, http5xx: 1 } },
      names: ['a'],
      want: { requests: 40, errors: 1, reset: ['a'] },
    },
    { name: 'a name not read counts nothing', start: {}, end: {}, names: ['a'], want: { requests: 0, errors: 0, reset: [] } },
  ];
  for (const c of cases) {
    const map = (o: Record<string, Partial<ServerCounters>>) => new Map(Object.entries(o).map(([k, v]) => [k, counters(v)]));
    assert.deepEqual(countsBetween(map(c.start), map(c.end), c.names), c.want, c.name);
  }
});

test('judgeCounters: the batch against maxErrorRate, then against the untouched servers plus the margin; too few requests is short unless the errors already decide', () => {
  const cases: Array<{ name: string; batch: [number, number]; fleet?: [number, number]; limits?: Partial<typeof limits>; want: Finding['verdict']; detail: RegExp }> = [
    {
      name: 'clean',
      batch: [200, 0],
      fleet: [600, 0],
      want: 'pass',
      detail: /^0 errors in 200 requests \(0\.00%\) within maxErrorRate 1\.00%, untouched servers 0\.00% \+ margin 0\.50%$/,
    },
    {
      name: 'a fifth failing',
      batch: [240, 48],
      fleet: [721, 0],
      want: 'fail',
      detail: /^48 errors in 240 requests \(20\.00%\) above maxErrorRate 1\.00%; untouched servers 0 errors in 721 requests/,
    },
    { name: 'at the limit passes', batch: [100, 1], want: 'pass', detail: /within maxErrorRate/ },
    {
      name: 'under the limit but worse than the fleet by more than the margin',
      batch: [1000, 8],
      fleet: [1000, 1],
      want: 'fail',
      detail: /above the untouched servers' 0\.10% \(1 in 1000\) \+ margin 0\.50%$/,
    },
    { name: 'under the limit and within the margin of the fleet', batch: [1000, 5], fleet: [1000, 1], want: 'pass', detail: /within/ },
    {
      name: 'worse than the fleet, comparison off',
      batch: [1000, 8],
      fleet: [1000, 0],
      limits: { compareToFleet: false },
      want: 'pass',
      detail: /^8 errors in 1000 requests \(0\.80%\) within maxErrorRate 1\.00%$/,
    },
    {
      name: 'no untouched traffic: nothing to compare with',
      batch: [1000, 8],
      fleet: [0, 0],
      want: 'pass',
      detail: /within maxErrorRate 1\.00%, no requests on untouched servers to compare with$/,
    },
    { name: 'too few requests', batch: [12, 0], want: 'short', detail: /^12 of minRequests 50 requests, 0 errors$/ },
    { name: 'too few requests, but the errors alone exceed the limit of minRequests', batch: [12, 2], want: 'fail', detail: /already above maxErrorRate 1\.00% of minRequests 50/ },
  ];
  for (const c of cases) {
    const [requests, errors] = c.batch;
    const fleet = c.fleet ? { requests: c.fleet[0], errors: c.fleet[1] } : undefined;
    const finding = judgeCounters({ requests, errors }, fleet, { ...limits, ...c.limits });
    assert.equal(finding.verdict, c.want, c.name);
    assert.match(finding.detail, c.detail, c.name);
    assert.equal(finding.numbers?.requests, requests, c.name);
  }
});

test('overallVerdict: a failure decides, then an unreadable source, then too few requests', () => {
  const f = (verdict: Finding['verdict']): Finding => ({ source: 's', verdict, detail: verdict });
  const cases: Array<[Finding[], boolean, string]> = [
    [[f('pass'), f('pass')], false, 'pass'],
    [[f('pass'), f('fail')], true, 'fail'],
    [[f('pass')], true, 'unreadable'],
    [[f('short'), f('pass')], false, 'inconclusive'],
    [[f('inconclusive')], false, 'inconclusive'],
    [[], false, 'pass'],
  ];
  for (const [findings, unreadable, want] of cases) assert.equal(overallVerdict(findings, unreadable), want, JSON.stringify([findings, unreadable]));
  assert.equal(
    verdictLine({ index: 1, canary: true, hosts: ['web1'] }, 'fail', [f('pass'), { source: 'haproxy', verdict: 'fail', detail: '48 errors in 240 requests (20.00%)' }]),
    'canary web1: FAIL: 48 errors in 240 requests (20.00%); pass',
  );
  assert.equal(verdictLine({ index: 3, canary: false, hosts: ['web3', 'web4'] }, 'pass', []), 'batch 3 web3, web4: pass');
});

const scope: BakeScope = { index: 1, canary: true, hosts: ['web1'], members: ['web1'], untouched: ['web2'] };

function source(name: string, judge: () => Finding | Promise<Finding>, watch?: () => Finding | undefined): AnalysisSource & { judged: number } {
  const s = {
    name,
    judged: 0,
    async judge() {
      s.judged++;
      return judge();
    },
    ...(watch ? { watch: async () => watch() } : {}),
  };
  return s;
}

test('bakeBatch: every source judged once at the end; a watched failure ends the bake at once', async () => {
  const pass = (name: string): Finding => ({ source: name, verdict: 'pass', detail: `${name} fine` });
  const a = source('a', () => pass('a'));
  const b = source('b', () => pass('b'));
  const passed = await bakeBatch({ scope, sources: [a, b], bakeMs: 30, tickMs: 10, signal: new AbortController().signal });
  assert.equal(passed.verdict, 'pass');
  assert.equal(passed.line, 'canary web1: pass: a fine; b fine');
  assert.deepEqual([a.judged, b.judged], [1, 1]);

  const never = source('never', () => pass('never'));
  const failing = source(
    'lb',
    () => pass('lb'),
    () => ({ source: 'lb', verdict: 'fail', detail: 'web1 left service during the bake: DOWN' }),
  );
  const failed = await bakeBatch({ scope, sources: [never, failing], bakeMs: 60_000, tickMs: 10, signal: new AbortController().signal });
  assert.equal(failed.verdict, 'fail');
  assert.equal(failed.line, 'canary web1: FAIL: web1 left service during the bake: DOWN');
  assert.equal(never.judged, 0);
});

test(`bakeBatch: too few requests extends the bake, up to ${MAX_BAKE_FACTOR} times, re-judging only the short source, then reports not enough requests to judge`, async () => {
  const extended: string[] = [];
  const short = source('haproxy', () => ({ source: 'haproxy', verdict: 'short', detail: '3 of minRequests 50 requests, 0 errors' }));
  const once = source('command', () => ({ source: 'command', verdict: 'pass', detail: 'command exited 0' }));
  const outcome = await bakeBatch({ scope, sources: [short, once], bakeMs: 30, tickMs: 10, signal: new AbortController().signal, onExtended: (d) => extended.push(d) });
  assert.equal(outcome.verdict, 'inconclusive');
  assert.match(outcome.line, /^canary web1: NOT ENOUGH REQUESTS TO JUDGE: 3 of minRequests 50 requests, 0 errors in \S+ \(bake 30ms extended to \S+\); command exited 0$/);
  assert.ok(short.judged > 1, 'the short source is judged again during the extension');
  assert.equal(once.judged, 1);
  assert.deepEqual(extended, ['not enough requests yet: 3 of minRequests 50 requests, 0 errors']);

  let calls = 0;
  const enoughLater = source('haproxy', () =>
    ++calls < 3 ? { source: 'haproxy', verdict: 'short', detail: 'short' } : { source: 'haproxy', verdict: 'pass', detail: '0 errors in 60 requests' },
  );
  assert.equal((await bakeBatch({ scope, sources: [enoughLater], bakeMs: 1000, tickMs: 10, signal: new AbortController().signal })).verdict, 'pass');
});

test('bakeBatch: a source that cannot be read is unreadable (fail closed), with its message; Ctrl-C ends the bake unjudged', async () => {
  const broken = source('command', () => {
    throw new AnalysisError('command ./check.sh: timed out after 1s');
  });
  const outcome = await bakeBatch({ scope, sources: [broken], bakeMs: 10, tickMs: 10, signal: new AbortController().signal });
  assert.equal(outcome.verdict, 'unreadable');
  assert.equal(outcome.line, 'canary web1: COULD NOT BE JUDGED: command ./check.sh: timed out after 1s');
  assert.ok(outcome.error instanceof AnalysisError);

  const stop = new AbortController();
  const judge = source('a', () => ({ source: 'a', verdict: 'pass', detail: 'fine' }));
  const pending = bakeBatch({ scope, sources: [judge], bakeMs: 60_000, tickMs: 10, signal: stop.signal });
  stop.abort();
  assert.equal((await pending).verdict, 'interrupted');
  assert.equal(judge.judged, 0);
});
