/**
 * How long to wait before retrying a migration that hit lock_timeout: doubling from `initialMs` up
 * to `maxMs`, with jitter (half fixed, half random) so two appliers, or an applier and the
 * job holding the lock on a schedule, do not meet again at the same instant.
 */
export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 10_000 };

/** `attempt` is the attempt that just failed, from 1. */
export function retryDelayMs(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
