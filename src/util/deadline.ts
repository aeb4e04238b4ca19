import { ERROR_CODES, type CodedError, type ErrorCode } from '../errors/codes.js';

/** A wait that ran out of time: names the instance, the step and what was last seen (DESIGN principle 4). */
export class DeadlineError extends Error implements CodedError {
  constructor(
    readonly instance: string,
    readonly step: string,
    readonly deadlineMs: number,
    readonly lastSeen: string,
  ) {
    super(`${instance}: ${step} did not finish within ${deadlineMs}ms (last seen: ${lastSeen})`);
    this.name = 'DeadlineError';
  }

  /** Read from the step names the load balancers, the health wait and the capacity wait give their deadlines. */
  get shipCode(): ErrorCode {
    const step = this.step;
    if (step.startsWith('health check')) return ERROR_CODES.healthCheckTimeout;
    if (step === 'load balancer health' || step.startsWith('become healthy')) return ERROR_CODES.lbHealthTimeout;
    if (step === 'drain' || step.startsWith('deregistration')) return ERROR_CODES.drainTimeout;
    if (step.startsWith('capacity')) return ERROR_CODES.capacityFloor;
    return ERROR_CODES.waitTimeout;
  }
}

export function sleep(milliseconds: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason ?? new Error('aborted'));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, milliseconds);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason ?? new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Polls `probe` every `intervalMs` until it returns `{ done: true }` or the deadline passes.
 * The last observation is kept for the error message. `firstAfterMs`: the first look waits this
 * long (within the deadline), for a state that cannot have changed sooner.
 */
export async function pollUntil<T>(
  probe: () => Promise<{ done: boolean; seen: T; describe: string }>,
  options: { instance: string; step: string; deadlineMs: number; intervalMs: number; signal?: AbortSignal; firstAfterMs?: number },
): Promise<T> {
  const started = Date.now();
  let last = 'nothing yet';
  if (options.firstAfterMs) await sleep(Math.max(0, Math.min(options.firstAfterMs, options.deadlineMs)), options.signal);
  for (;;) {
    const result = await probe();
    last = result.describe;
    if (result.done) return result.seen;
    const remaining = options.deadlineMs - (Date.now() - started);
    if (remaining <= 0) throw new DeadlineError(options.instance, options.step, options.deadlineMs, last);
    await sleep(Math.min(options.intervalMs, remaining), options.signal);
  }
}
