/**
 * DESIGN principle 5, capacity first: before a batch leaves (to be deployed, or rolled back),
 * count the healthy instances in service as the load balancer sees them.
 */
import type { EventBus } from '../events.js';
import type { LoadBalancer, MemberState } from '../lb/load-balancer.js';
import { DeadlineError, pollUntil } from '../util/deadline.js';
import { ERROR_CODES, type CodedError } from '../errors/codes.js';
import type { InstanceSignals } from './instance.js';

export interface CapacitySettings {
  capacityWaitMs: number;
  capacityPollMs: number;
}

export class CapacityError extends Error implements CodedError {
  constructor(message: string) {
    super(message);
    this.name = 'CapacityError';
  }

  get shipCode() {
    return ERROR_CODES.capacityFloor;
  }
}

/**
 * Counts healthy, in-service instances as the load balancer sees them; taking the batch out must
 * leave at least `floor`. Waits up to capacityWait for capacity to come back, then stops.
 */
export async function waitForCapacity(
  lb: LoadBalancer,
  allNames: string[],
  batchNames: string[],
  floor: number,
  settings: CapacitySettings,
  bus: EventBus,
  signals: InstanceSignals,
): Promise<void> {
  const count = (members: MemberState[]) => members.filter((m) => m.healthy && m.inService && !batchNames.includes(m.name)).length;
  let last: MemberState[] = [];
  try {
    await pollUntil(
      async () => {
        last = await lb.members(allNames);
        const remaining = count(last);
        if (remaining < floor && settings.capacityWaitMs > 0) {
          bus.emit({ type: 'capacity.waiting', healthy: remaining, needed: floor, detail: unhealthyList(last) });
        }
        return { done: remaining >= floor, seen: remaining, describe: `${remaining} healthy besides the batch` };
      },
      { instance: batchNames.join(','), step: 'capacity check', deadlineMs: settings.capacityWaitMs, intervalMs: settings.capacityPollMs, signal: signals.graceful },
    );
  } catch (error) {
    if (!(error instanceof DeadlineError)) throw new CapacityError(`capacity check failed: the load balancer could not be asked (${(error as Error).message})`);
    throw new CapacityError(
      `capacity floor: taking out ${batchNames.join(', ')} would leave ${count(last)} healthy instance(s) in service, ` +
        `fewer than minHealthy ${floor}; not healthy now: ${unhealthyList(last) || 'none'}`,
    );
  }
  bus.emit({ type: 'capacity.checked', healthy: last.filter((m) => m.healthy && m.inService).length, total: allNames.length, takingOut: batchNames.length, minHealthy: floor });
}

function unhealthyList(members: MemberState[]): string {
  return members
    .filter((m) => !(m.healthy && m.inService))
    .map((m) => `${m.name} (${m.detail})`)
    .join(', ');
}
