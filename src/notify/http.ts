import { sleep } from '../util/deadline.js';
import { formatDuration } from '../util/duration.js';
import { redact } from '../util/redact.js';

export interface HttpRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface DeliveryPolicy {
  /** Bound on one attempt, from connect to the last byte of the answer. */
  timeoutMs: number;
  /** Attempts after the first. */
  retries: number;
  /** First pause between attempts; doubles each time. */
  backoffMs: number;
  /** Ends every attempt and pause at once (the run's flush deadline). */
  signal: AbortSignal;
}

/**
 * A notification that could not be delivered. The message never contains the URL, a key or a
 * header value: those are secrets (webhook URLs carry their token in the path).
 */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly attempts: number,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

const BODY_EXCERPT = 200;

/** Transient failures are worth another attempt; a 4xx other than 429 means the request itself is wrong. */
function retryable(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * Why a 3xx is not followed, and where it pointed: only the target's origin, since a path can
 * carry a token (webhook URLs do). Following it would re-send the body, and its signature, to an
 * address nobody configured.
 */
function redirectReason(response: Response, url: string): string {
  const location = response.headers.get('location');
  let target = '';
  try {
    if (location) target = ` to ${new URL(location, url).origin}`;
  } catch {
    // an unparseable Location: the status alone says enough
  }
  return `the endpoint answered with a redirect (HTTP ${response.status}${target}); ship does not follow redirects for notifications: set the URL to the final address`;
}

function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown } }).cause;
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  // The driver's own text names the address (and a URL's path is a secret): keep only the code.
  return code ? `connection failed (${code})` : 'connection failed';
}

/**
 * POSTs `build()` (called per attempt, so a signature can carry a fresh timestamp) until a 2xx
 * answer, retrying transient failures with exponential backoff. Resolves with the number of
 * attempts; rejects with a DeliveryError that is safe to show.
 */
export async function postWithRetries(build: () => HttpRequest, policy: DeliveryPolicy): Promise<number> {
  let reason = 'not attempted';
  let attempt = 0;
  while (attempt <= policy.retries && !policy.signal.aborted) {
    attempt += 1;
    const timeout = AbortSignal.timeout(policy.timeoutMs);
    const request = build();
    try {
      const response = await fetch(request.url, {
        method: 'POST',
        headers: request.headers,
        body: request.body,
        signal: AbortSignal.any([timeout, policy.signal]),
        redirect: 'manual',
      });
      const text = await response.text();
      if (response.ok) return attempt;
      if (response.status >= 300 && response.status < 400) {
        // Not transient: asking again gets the same redirect.
        reason = redirectReason(response, request.url);
        break;
      }
      const excerpt = text.trim().slice(0, BODY_EXCERPT);
      reason = `HTTP ${response.status}${excerpt ? `: ${excerpt}` : ''}`;
      if (!retryable(response.status)) break;
    } catch (error) {
      if (timeout.aborted) reason = `no answer within ${formatDuration(policy.timeoutMs)}`;
      else if (policy.signal.aborted) reason = 'still sending when the run ended';
      else reason = networkReason(error);
    }
    if (attempt > policy.retries || policy.signal.aborted) break;
    try {
      await sleep(policy.backoffMs * 2 ** (attempt - 1), policy.signal);
    } catch {
      reason = `${reason}; the run ended before the next attempt`;
    }
  }
  throw new DeliveryError(redact(`${reason}${attempt > 1 ? ` (after ${attempt} attempts)` : ''}`), attempt);
}
