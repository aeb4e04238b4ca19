/**
 * What judges a batch, from the config: the counter limits (with their defaults, HAProxy only),
 * the alarms, the command; and how `ship plan` says it.
 */
import type { ShipConfig } from '../../config/schema.js';
import { formatDuration } from '../../util/duration.js';
import { MAX_BAKE_FACTOR } from './bake.js';
import { formatRate, type CounterLimits } from './verdict.js';

export const COUNTER_DEFAULTS: CounterLimits = { maxErrorRate: 0.01, minRequests: 50, compareToFleet: true, margin: 0.005 };

export interface AnalysisSettings {
  /** Set where the load balancer keeps per-server counters (HAProxy). */
  counters?: CounterLimits;
  alarms?: string[];
  command?: { run: string; timeoutMs: number };
}

type AnalysisConfig = NonNullable<ShipConfig['rollout']['analysis']>;

export function analysisSettings(analysis: AnalysisConfig | undefined, lbType: string): AnalysisSettings | undefined {
  if (!analysis) return undefined;
  const counters =
    lbType === 'haproxy'
      ? {
          maxErrorRate: analysis.maxErrorRate ?? COUNTER_DEFAULTS.maxErrorRate,
          minRequests: analysis.minRequests ?? COUNTER_DEFAULTS.minRequests,
          compareToFleet: analysis.compareToFleet ?? COUNTER_DEFAULTS.compareToFleet,
          margin: analysis.margin ?? COUNTER_DEFAULTS.margin,
        }
      : undefined;
  return {
    ...(counters ? { counters } : {}),
    ...(analysis.alarms ? { alarms: analysis.alarms } : {}),
    ...(analysis.command ? { command: { run: analysis.command, timeoutMs: analysis.commandTimeout } } : {}),
  };
}

/** One line per signal a bake is judged by, for `ship plan`. */
export function describeAnalysis(bakeMs: number, settings: AnalysisSettings | undefined): string[] {
  if (bakeMs === 0) return [];
  const lines = ['healthy in the load balancer throughout'];
  const counters = settings?.counters;
  if (counters) {
    lines.push(
      `error rate at most ${formatRate(counters.maxErrorRate)} over at least ${counters.minRequests} requests ` +
        `(the bake extended up to ${formatDuration(bakeMs * MAX_BAKE_FACTOR)} to get them)`,
    );
    if (counters.compareToFleet) lines.push(`error rate at most ${formatRate(counters.margin)} above the servers not yet rolled`);
  }
  if (settings?.alarms) lines.push(`CloudWatch alarms not in ALARM: ${settings.alarms.join(', ')}`);
  if (settings?.command) lines.push(`command exits 0 within ${formatDuration(settings.command.timeoutMs)}: ${settings.command.run}`);
  return lines;
}
