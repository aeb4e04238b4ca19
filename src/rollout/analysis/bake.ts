/**
 * One batch's bake: it is back in service, and for `bake` ship watches it (every source's `watch`,
 * on each tick) and then judges it (every source's `judge`). While a source has too few requests
 * to judge, the bake is extended, up to MAX_BAKE_FACTOR times its length, then the batch is
 * judged as it is: not enough requests is not a pass. Only a pass lets the next batch start.
 */
import type { AnalysisVerdictName } from '../../events.js';
import { sleep } from '../../util/deadline.js';
import { formatDuration } from '../../util/duration.js';
import type { AnalysisSource, BakeScope } from './source.js';
import { overallVerdict, verdictLine, type Finding, type VerdictNumbers } from './verdict.js';

/** A bake may last up to this many times `rollout.bake` while there are too few requests. */
export const MAX_BAKE_FACTOR = 3;

export interface BakeInput {
  scope: BakeScope;
  sources: AnalysisSource[];
  bakeMs: number;
  /** Between watches. */
  tickMs: number;
  /** Ctrl-C: the bake stops where it is, unjudged. */
  signal: AbortSignal;
  /** Told once, when the bake is first extended. */
  onExtended?: (detail: string, untilMs: number) => void;
}

export interface BakeOutcome {
  verdict: AnalysisVerdictName | 'interrupted';
  line: string;
  findings: Finding[];
  numbers?: VerdictNumbers;
  durationMs: number;
  /** A source that could not be read (the verdict is then 'unreadable'). */
  error?: Error;
}

/** How often a bake looks: ten times per bake, between 100 ms and 2 s. */
export function bakeTick(bakeMs: number): number {
  return Math.min(2_000, Math.max(100, Math.round(bakeMs / 10)));
}

export async function bakeBatch(input: BakeInput): Promise<BakeOutcome> {
  const { scope, sources, bakeMs, signal } = input;
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  const judged = new Map<AnalysisSource, Finding>();
  const outcome = (verdict: BakeOutcome['verdict'], findings: Finding[], extra: string[] = [], error?: Error): BakeOutcome => {
    const numbers = findings.find((f) => f.numbers)?.numbers;
    const line = verdict === 'interrupted' ? `${scope.canary ? 'canary' : `batch ${scope.index}`}: bake interrupted` : verdictLine(scope, verdict, findings, extra);
    return { verdict, line, findings, ...(numbers ? { numbers } : {}), durationMs: elapsed(), ...(error ? { error } : {}) };
  };
  try {
    await Promise.all(sources.map((source) => source.begin?.()));
    let extended = false;
    for (;;) {
      const untilEnd = bakeMs - elapsed();
      try {
        await sleep(untilEnd > 0 ? Math.min(input.tickMs, untilEnd) : input.tickMs, signal);
      } catch {
        return outcome('interrupted', [...judged.values()]);
      }
      for (const source of sources) {
        const alarm = await source.watch?.();
        if (alarm) return outcome('fail', [alarm]);
      }
      if (elapsed() < bakeMs) continue;
      const pending = sources.filter((source) => !judged.has(source) || judged.get(source)!.verdict === 'short');
      const findings = await Promise.all(pending.map((source) => source.judge()));
      for (const [i, source] of pending.entries()) judged.set(source, findings[i]!);
      const all = sources.map((source) => judged.get(source)!);
      const short = all.filter((f) => f.verdict === 'short');
      if (short.length === 0 || all.some((f) => f.verdict === 'fail')) return outcome(overallVerdict(all, false), all);
      if (elapsed() >= bakeMs * MAX_BAKE_FACTOR) {
        const note = `bake ${formatDuration(bakeMs)} extended to ${formatDuration(elapsed())}`;
        return outcome(
          'inconclusive',
          all.map((f) => (f.verdict === 'short' ? { ...f, verdict: 'inconclusive' as const, detail: `${f.detail} in ${formatDuration(elapsed())} (${note})` } : f)),
        );
      }
      if (!extended) {
        extended = true;
        input.onExtended?.(`not enough requests yet: ${short.map((f) => f.detail).join('; ')}`, bakeMs * MAX_BAKE_FACTOR);
      }
    }
  } catch (error) {
    const failure = error instanceof Error ? error : new Error(String(error));
    return outcome('unreadable', [...judged.values()], [failure.message], failure);
  }
}
