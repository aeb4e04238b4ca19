import { DeadlineError, sleep } from '../util/deadline.js';
import type { Check } from './check.js';

export interface HealthWaitOptions {
  host: string;
  deadlineMs: number;
  signal?: AbortSignal;
  onPassed?: (check: Check, durationMs: number, attempts: number) => void;
}

/**
 * Resolves when every check has passed `successThreshold` times in a row. A failure resets that
 * check's count, so a flapping instance does not pass. The deadline error names the host, the
 * check and its last answer.
 */
export async function waitUntilHealthy(checks: Check[], options: HealthWaitOptions): Promise<void> {
  const started = performance.now();
  await Promise.all(
    checks.map(async (check) => {
      let streak = 0;
      let attempts = 0;
      let last = 'not probed yet';
      for (;;) {
        attempts++;
        const result = await check.probe(options.signal);
        last = result.detail;
        streak = result.ok ? streak + 1 : 0;
        if (streak >= check.successThreshold) {
          options.onPassed?.(check, performance.now() - started, attempts);
          return;
        }
        const elapsed = performance.now() - started;
        if (elapsed >= options.deadlineMs) {
          throw new DeadlineError(options.host, `health check ${check.name}`, options.deadlineMs, `${last} (${streak}/${check.successThreshold} consecutive passes)`);
        }
        await sleep(Math.min(check.intervalMs, options.deadlineMs - elapsed), options.signal);
      }
    }),
  );
}
