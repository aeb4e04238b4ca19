/**
 * The arithmetic of canary analysis, apart from any I/O so each rule has its table test: counter
 * deltas between two readings, the batch's and the untouched servers' error rates, and the verdict
 * they give against the configured limits.
 */
import type { AnalysisVerdictName } from '../../events.js';
import type { ServerCounters } from '../../lb/load-balancer.js';

/** What one source concluded. 'short': too few requests yet, the bake may be extended. */
export type FindingVerdict = 'pass' | 'fail' | 'short' | 'inconclusive';

export interface RequestCounts {
  requests: number;
  errors: number;
}

/** The numbers a verdict is decided by, as events and summaries carry them. */
export interface VerdictNumbers extends RequestCounts {
  rate: number;
  fleetRequests?: number;
  fleetErrors?: number;
  fleetRate?: number;
}

export interface Finding {
  /** 'haproxy', 'load balancer', 'alarms', 'command'. */
  source: string;
  verdict: FindingVerdict;
  /** What was seen, with its numbers: the part of the verdict line this source says. */
  detail: string;
  numbers?: VerdictNumbers;
}

export interface CounterLimits {
  maxErrorRate: number;
  minRequests: number;
  compareToFleet: boolean;
  margin: number;
}

/**
 * Errors a client saw: 5xx answers, failed responses (`eresp` already counts `srv_abrt`) and
 * failed connects. Retries (`wretr`) are not: with `retries` set, a retried connect that then
 * succeeded served its client.
 */
export function errorsOf(counters: ServerCounters): number {
  return counters.http5xx + counters.eresp + counters.econ;
}

/** Requests sent to the server plus those that never reached it (`econ` is not in `req_tot`). */
export function requestsOf(counters: ServerCounters): number {
  return counters.requests + counters.econ;
}

/**
 * Requests and errors between two readings, summed over `names`. A counter that went down means
 * HAProxy restarted or reloaded in between and counts from zero again: its reading now is what it
 * counted since, a part of the window, which is still a fair sample (minRequests guards its size).
 */
export function countsBetween(start: ReadonlyMap<string, ServerCounters>, end: ReadonlyMap<string, ServerCounters>, names: readonly string[]): RequestCounts & { reset: string[] } {
  let requests = 0;
  let errors = 0;
  const reset: string[] = [];
  for (const name of names) {
    const after = end.get(name);
    if (!after) continue;
    const before = start.get(name);
    const restarted = before !== undefined && (Object.keys(after) as Array<keyof ServerCounters>).some((key) => after[key] < before[key]);
    if (restarted) reset.push(name);
    const base = before === undefined || restarted ? undefined : before;
    requests += requestsOf(after) - (base ? requestsOf(base) : 0);
    errors += errorsOf(after) - (base ? errorsOf(base) : 0);
  }
  return { requests, errors, reset };
}

export function rate(counts: RequestCounts): number {
  return counts.requests === 0 ? 0 : counts.errors / counts.requests;
}

/** '1.48%': two decimals, so a limit of 0.5% and a rate of 0.49% read apart. */
export function formatRate(value: number): string {
  return `${(value * 100).toFixed(2)}%`;
}

function described(counts: RequestCounts): string {
  return `${counts.errors} error${counts.errors === 1 ? '' : 's'} in ${counts.requests} request${counts.requests === 1 ? '' : 's'} (${formatRate(rate(counts))})`;
}

/**
 * The batch's counts over its bake against the limits. Too few requests is 'short' (the caller
 * extends the bake, then reports 'inconclusive'), unless the errors alone already exceed the
 * limit of `minRequests` requests: more traffic could not save such a batch.
 */
export function judgeCounters(batch: RequestCounts, untouched: RequestCounts | undefined, limits: CounterLimits): Finding {
  const batchRate = rate(batch);
  const numbers: VerdictNumbers = { ...batch, rate: batchRate };
  const comparable = limits.compareToFleet && untouched !== undefined && untouched.requests > 0;
  if (untouched) Object.assign(numbers, { fleetRequests: untouched.requests, fleetErrors: untouched.errors, fleetRate: rate(untouched) });
  const fleet = untouched ? `; untouched servers ${described(untouched)}` : '';
  const finding = (verdict: FindingVerdict, detail: string): Finding => ({ source: 'haproxy', verdict, detail, numbers });
  if (batch.requests < limits.minRequests) {
    if (batch.errors / limits.minRequests > limits.maxErrorRate) {
      return finding('fail', `${described(batch)}: already above maxErrorRate ${formatRate(limits.maxErrorRate)} of minRequests ${limits.minRequests}${fleet}`);
    }
    return finding('short', `${batch.requests} of minRequests ${limits.minRequests} requests, ${batch.errors} error${batch.errors === 1 ? '' : 's'}`);
  }
  if (batchRate > limits.maxErrorRate) return finding('fail', `${described(batch)} above maxErrorRate ${formatRate(limits.maxErrorRate)}${fleet}`);
  if (comparable && batchRate > rate(untouched) + limits.margin) {
    return finding(
      'fail',
      `${described(batch)} above the untouched servers' ${formatRate(rate(untouched))} (${untouched.errors} in ${untouched.requests}) + margin ${formatRate(limits.margin)}`,
    );
  }
  const against = comparable
    ? `, untouched servers ${formatRate(rate(untouched))} + margin ${formatRate(limits.margin)}`
    : limits.compareToFleet
      ? `, no requests on untouched servers to compare with`
      : '';
  return finding('pass', `${described(batch)} within maxErrorRate ${formatRate(limits.maxErrorRate)}${against}`);
}

/**
 * The bake's verdict from every source's finding: a failure decides; then a source that could
 * not be read (fail closed); then too few requests; only when all passed does the batch stay.
 */
export function overallVerdict(findings: readonly Finding[], unreadable: boolean): AnalysisVerdictName {
  if (findings.some((f) => f.verdict === 'fail')) return 'fail';
  if (unreadable) return 'unreadable';
  if (findings.some((f) => f.verdict === 'short' || f.verdict === 'inconclusive')) return 'inconclusive';
  return 'pass';
}

const VERDICT_WORDS: Record<AnalysisVerdictName, string> = {
  pass: 'pass',
  fail: 'FAIL',
  inconclusive: 'NOT ENOUGH REQUESTS TO JUDGE',
  unreadable: 'COULD NOT BE JUDGED',
};

/**
 * `canary web1: FAIL: 48 errors in 240 requests (20.00%) above maxErrorRate 1.00%; ...`: what
 * decided first (the failing or unjudgeable findings), then the rest.
 */
export function verdictLine(
  batch: { index: number; canary: boolean; hosts: readonly string[] },
  verdict: AnalysisVerdictName,
  findings: readonly Finding[],
  extra: string[] = [],
): string {
  const label = batch.canary ? 'canary' : `batch ${batch.index}`;
  const rank: Record<FindingVerdict, number> = { fail: 0, inconclusive: 1, short: 2, pass: 3 };
  const ordered = verdict === 'pass' ? findings : [...findings].sort((a, b) => rank[a.verdict] - rank[b.verdict]);
  const parts = [...extra, ...ordered.map((f) => f.detail)];
  return `${label} ${batch.hosts.join(', ')}: ${VERDICT_WORDS[verdict]}${parts.length ? `: ${parts.join('; ')}` : ''}`;
}
