import { resolveCount } from '../util/duration.js';

export interface PlannedBatch<T> {
  hosts: T[];
  canary: boolean;
}

/**
 * Splits the fleet into batches: a canary batch of one first (when asked for and the fleet has
 * more than one host), then batches of `batchSize` (a count or a percentage, at least one).
 */
export function planBatches<T>(hosts: T[], batchSize: number | string, canary: boolean): PlannedBatch<T>[] {
  const size = Math.max(1, resolveCount(batchSize, hosts.length));
  const batches: PlannedBatch<T>[] = [];
  let rest = hosts;
  if (canary && hosts.length > 1) {
    batches.push({ hosts: hosts.slice(0, 1), canary: true });
    rest = hosts.slice(1);
  }
  for (let i = 0; i < rest.length; i += size) batches.push({ hosts: rest.slice(i, i + size), canary: false });
  return batches;
}

/**
 * Healthy instances that must stay in service. Defaults to all but the largest batch, and never
 * below one behind a load balancer: a rollout must not take the whole service out, whatever the
 * config says. Behind none (`idleAllowed`), a configured 0 stands: workers whose jobs wait in a
 * queue may all be restarted at once, and a single worker must be.
 */
export function capacityFloor(total: number, minHealthy: number | string | undefined, largestBatch: number, idleAllowed = false): number {
  const configured = minHealthy === undefined ? total - largestBatch : resolveCount(minHealthy, total);
  return Math.max(idleAllowed && minHealthy !== undefined ? 0 : 1, configured);
}

/** Batches that would leave fewer than `floor` in service even with every other instance healthy. */
export function batchesBreachingFloor<T>(batches: PlannedBatch<T>[], total: number, floor: number): PlannedBatch<T>[] {
  return batches.filter((batch) => total - batch.hosts.length < floor);
}
