/**
 * One named host of the fleet for work that belongs to the run, not to an instance (a run-once
 * playbook phase, the team's migration command): the transport of the run's own target when the
 * host is rolled now, else a connection opened for this and closed after it.
 */
import type { StepContext } from '../../playbook/define.js';
import type { Transport } from '../../transport/transport.js';
import { transportFor } from '../../transport/from-config.js';
import { UsageError } from '../errors.js';
import type { RunOptions } from './run-options.js';
import { stepContextFor, type ResolvedTargets } from './targets.js';

export interface HostAccess {
  readonly transport: Transport;
  readonly ctx: StepContext;
  /** Closes the transport when it was opened for this. */
  close(): Promise<void>;
}

export function hostAccess(options: RunOptions, resolved: ResolvedTargets, name: string): HostAccess {
  const target = resolved.targets.find((t) => t.name === name);
  if (target) return { transport: target.transport, ctx: target.ctx, close: async () => undefined };
  const host = resolved.inventory.find((h) => h.name === name);
  if (!host) throw new UsageError(`host '${name}' is not in the fleet of ${options.loaded.config.app} (${resolved.inventory.map((h) => h.name).join(', ')})`);
  const transport = transportFor(host, options.loaded, options.transport);
  return { transport, ctx: stepContextFor(host, options), close: () => transport.close() };
}
