/**
 * One named host of the fleet for work that belongs to the run, not to an instance (a run-once
 * playbook phase, the team's migration command): the transport of the run's own target when the
 * host is rolled now, else a connection opened for this and closed after it.
 */
import type { StepContext } from '../../playbook/define.js';
import type { Transport } from '../../transport/transport.js';
import { transportFor } from '../../transport/from-config.js';
import { UsageError } from '../errors.js';
import { stepContextFor } from './targets.js';
import type { RunUnit } from './units.js';

export interface HostAccess {
  readonly transport: Transport;
  readonly ctx: StepContext;
  /** Closes the transport when it was opened for this. */
  close(): Promise<void>;
}

/** The host of any role of the run, with that role's transport settings and variables. */
export function hostAccess(units: readonly RunUnit[], name: string): HostAccess {
  for (const { resolved } of units) {
    const target = resolved.targets.find((t) => t.name === name);
    if (target) return { transport: target.transport, ctx: target.ctx, close: async () => undefined };
  }
  for (const { options, resolved } of units) {
    const host = resolved.inventory.find((h) => h.name === name);
    if (!host) continue;
    const transport = transportFor(host, options.loaded, options.transport);
    return { transport, ctx: stepContextFor(host, options), close: () => transport.close() };
  }
  const fleet = units.flatMap((unit) => unit.resolved.inventory.map((h) => h.name));
  throw new UsageError(`host '${name}' is not in the fleet of ${units[0]!.options.loaded.config.app} (${fleet.join(', ')})`);
}
