/**
 * A batch's bake as the rollout runs it: journalled before it starts and with its verdict after,
 * told as events (started, extended, verdict), judged by the load balancer's view of the batch
 * plus the configured analysis sources.
 */
import type { AnalysisVerdict, EventBus } from '../events.js';
import type { LoadBalancer } from '../lb/load-balancer.js';
import { codeFor, codeOf, type Coded } from '../errors/coded.js';
import { ERROR_CODES } from '../errors/codes.js';
import { formatDuration } from '../util/duration.js';
import { bakeBatch, bakeTick, type BakeOutcome } from './analysis/bake.js';
import { lbHealthSource } from './analysis/lb-health.js';
import type { AnalysisSources, BakeScope } from './analysis/source.js';
import type { StageRecorder } from './revert.js';

export interface BakeContext {
  bakeMs: number;
  lb: LoadBalancer;
  bus: EventBus;
  analysis?: AnalysisSources;
  recordStage: StageRecorder;
  /** Ctrl-C, or the deploy lock lost: the bake stops unjudged. */
  signal: AbortSignal;
  /** The app's role the batch is of: batches are numbered per role, so the journal names it. */
  role?: string;
}

export interface BakeResult {
  outcome: BakeOutcome;
  /** Absent when the bake was interrupted. */
  verdict?: AnalysisVerdict;
  /** The code a verdict other than pass stops the run with. */
  coded: Coded;
}

function codeOfVerdict(outcome: BakeOutcome): Coded {
  switch (outcome.verdict) {
    case 'pass':
    case 'interrupted':
      return {};
    case 'fail':
      return codeFor(ERROR_CODES.analysisFailed);
    case 'inconclusive':
      return codeFor(ERROR_CODES.analysisInconclusive);
    case 'unreadable':
      // A cause a person must fix first (AWS permissions, say) names the failure.
      return codeOf(outcome.error);
  }
}

export async function bakeAndJudge(context: BakeContext, scope: BakeScope): Promise<BakeResult> {
  const { bus, bakeMs } = context;
  const stage = `${context.role === undefined ? '' : `${context.role}: `}batch ${scope.index}${scope.canary ? ' (canary)' : ''}`;
  const sources = [lbHealthSource(context.lb, scope), ...(context.analysis?.(scope) ?? [])];
  await context.recordStage({ stage: 'analysis', name: stage, status: 'started', detail: `${scope.hosts.join(', ')}: bake ${formatDuration(bakeMs)}` });
  bus.emit({ type: 'analysis.started', index: scope.index, hosts: scope.hosts, canary: scope.canary, bakeMs, sources: sources.map((s) => s.name) });
  const outcome = await bakeBatch({
    scope,
    sources,
    bakeMs,
    tickMs: bakeTick(bakeMs),
    signal: context.signal,
    onExtended: (detail, untilMs) => bus.emit({ type: 'analysis.extended', index: scope.index, hosts: scope.hosts, detail, untilMs }),
  });
  // An interrupted bake keeps only its 'started' record: the journal shows the batch was never judged.
  if (outcome.verdict === 'interrupted') return { outcome, coded: {} };
  const coded = codeOfVerdict(outcome);
  const verdict: AnalysisVerdict = { batch: scope.index, hosts: scope.hosts, canary: scope.canary, verdict: outcome.verdict, line: outcome.line, ...outcome.numbers };
  bus.emit({
    type: 'analysis.verdict',
    index: scope.index,
    hosts: scope.hosts,
    canary: scope.canary,
    verdict: outcome.verdict,
    line: outcome.line,
    durationMs: outcome.durationMs,
    ...outcome.numbers,
    findings: outcome.findings.map((f) => ({ source: f.source, verdict: f.verdict, detail: f.detail })),
    ...coded,
  });
  await context.recordStage({ stage: 'analysis', name: stage, status: outcome.verdict === 'pass' ? 'done' : 'failed', detail: outcome.line });
  return { outcome, verdict, coded };
}
