import type { LoadedConfig } from '../config/load.js';
import type { EventBus } from '../events.js';
import { checksFor } from '../health/from-config.js';
import { waitUntilHealthy } from '../health/wait.js';
import { loadBalancerFor } from '../lb/from-config.js';
import { transportFor } from '../transport/from-config.js';
import { UsageError } from './errors.js';
import { resolveHosts } from '../inventory/resolve.js';

export interface RestoreResult {
  restored: string[];
  failed: Array<{ host: string; error: string }>;
}

/**
 * Puts instances back into the load balancer by hand (after a hard interrupt): each one only
 * after ship's own health checks pass, then waits until the load balancer agrees.
 */
export async function restore(loaded: LoadedConfig, names: string[], bus: EventBus): Promise<RestoreResult> {
  const { config } = loaded;
  const known = await resolveHosts(loaded);
  const hosts = names.map((name) => {
    const host = known.find((h) => h.name === name);
    if (!host) throw new UsageError(`--hosts: unknown host ${name}; the config (${loaded.file}) has ${known.map((h) => h.name).join(', ')}`);
    return host;
  });
  const lb = await loadBalancerFor(loaded, known);
  const result: RestoreResult = { restored: [], failed: [] };
  try {
    await Promise.all(
      hosts.map(async (host) => {
        const transport = transportFor(host, loaded);
        const lbName = host.lbName ?? host.name;
        try {
          bus.emit({ type: 'instance.state', host: host.name, from: 'out', to: 'verifying' });
          await waitUntilHealthy(checksFor(config.health, host.address, transport), { host: host.name, deadlineMs: config.rollout.healthyTimeout });
          bus.emit({ type: 'instance.state', host: host.name, from: 'verifying', to: 'registering' });
          await lb.putBack(lbName);
          await lb.waitHealthy(lbName, { deadlineMs: config.rollout.healthyTimeout });
          bus.emit({ type: 'instance.state', host: host.name, from: 'registering', to: 'in-service' });
          result.restored.push(host.name);
        } catch (error) {
          bus.emit({ type: 'instance.state', host: host.name, from: 'verifying', to: 'failed-out' });
          result.failed.push({ host: host.name, error: (error as Error).message });
        } finally {
          await transport.close();
        }
      }),
    );
  } finally {
    await lb.close().catch(() => undefined);
  }
  return result;
}
