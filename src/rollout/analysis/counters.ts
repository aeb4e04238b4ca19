/**
 * Judges a batch by the load balancer's own per-server counters (HAProxy's `show stat`): one
 * reading when the bake starts, one at its end; the batch's error rate over that window against
 * `maxErrorRate`, and against the untouched servers' rate over the same window plus `margin`.
 */
import type { ServerCounters } from '../../lb/load-balancer.js';
import { AnalysisError, type AnalysisSource, type BakeScope } from './source.js';
import { countsBetween, judgeCounters, type CounterLimits, type Finding } from './verdict.js';

export type CounterReader = (names: string[]) => Promise<Map<string, ServerCounters>>;

export function countersSource(read: CounterReader, scope: BakeScope, limits: CounterLimits): AnalysisSource {
  const names = [...scope.members, ...scope.untouched];
  let start: Map<string, ServerCounters> | undefined;
  const reading = async (): Promise<Map<string, ServerCounters>> => {
    try {
      return await read(names);
    } catch (error) {
      throw new AnalysisError(`haproxy counters could not be read: ${(error as Error).message}`, { cause: error });
    }
  };
  return {
    name: 'haproxy',
    async begin() {
      start = await reading();
    },
    async judge(): Promise<Finding> {
      const end = await reading();
      const batch = countsBetween(start ?? new Map(), end, scope.members);
      const untouched = scope.untouched.length > 0 ? countsBetween(start ?? new Map(), end, scope.untouched) : undefined;
      const finding = judgeCounters(batch, untouched, limits);
      const reset = [...batch.reset, ...(untouched?.reset ?? [])];
      // Said, so a person reading a low count knows why.
      return reset.length ? { ...finding, detail: `${finding.detail} (counters of ${reset.join(', ')} restarted during the bake: HAProxy reloaded)` } : finding;
    },
  };
}
