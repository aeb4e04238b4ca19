import type { HostSummary, LoadBalancerWaitNote } from '../events.js';
import type { LoadBalancer } from '../lb/load-balancer.js';
import { formatDuration } from '../util/duration.js';

/** The load balancer's wait is said to dominate when it is at least this share of the median host's time out of rotation... */
export const DOMINANT_SHARE = 0.5;
/** ...and at least this long: a wait this short is not worth a setting change. */
export const NOTABLE_WAIT_MS = 100;

const CONFIRMED: ReadonlySet<HostSummary['outcome']> = new Set(['deployed', 'rolled-back', 'put-back']);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * Once per run: when waiting for the load balancer's own checks after putting a host back was
 * most of the median host's time out of rotation, a line saying so with the load balancer's
 * settings that make that wait and the one to change. Undefined when the wait did not dominate,
 * no host was put back, or the load balancer cannot tell its settings (the note is advice: a
 * load balancer that cannot be asked now does not fail a finished run).
 */
export async function loadBalancerWaitNote(hosts: HostSummary[], lb: LoadBalancer, memberOf: (host: string) => string | undefined): Promise<LoadBalancerWaitNote | undefined> {
  const confirmed = hosts.filter((host) => CONFIRMED.has(host.outcome) && host.outOfRotationMs > 0 && host.timeToHealthyMs > 0);
  if (confirmed.length === 0 || !lb.waitSettings) return undefined;
  const medianWaitMs = median(confirmed.map((host) => host.timeToHealthyMs));
  const medianOutOfRotationMs = median(confirmed.map((host) => host.outOfRotationMs));
  if (medianWaitMs < NOTABLE_WAIT_MS || medianWaitMs < DOMINANT_SHARE * medianOutOfRotationMs) return undefined;
  const members = [...new Set(confirmed.map((host) => memberOf(host.host)).filter((name): name is string => name !== undefined))];
  let settings: Awaited<ReturnType<NonNullable<LoadBalancer['waitSettings']>>>;
  try {
    settings = await lb.waitSettings(members);
  } catch {
    return undefined;
  }
  if (!settings) return undefined;
  const share = Math.round((100 * medianWaitMs) / medianOutOfRotationMs);
  const line =
    `waiting for the load balancer to agree a host was healthy took ${share}% of its time out of rotation ` +
    `(median ${formatDuration(medianWaitMs)} of ${formatDuration(medianOutOfRotationMs)}): ${settings.cause}; to shorten it, ${settings.change}`;
  return { medianWaitMs, medianOutOfRotationMs, line };
}
