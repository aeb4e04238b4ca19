/**
 * The checks every run makes before anything changes, after the lock: the playbook's variables,
 * the capacity plan, every host reachable, the load balancer answering and agreeing on the fleet.
 * (The database pre-flight adds its own when the config has a database.)
 */
import type { LoadedConfig } from '../../config/load.js';
import type { LoadBalancer } from '../../lb/load-balancer.js';
import { resolveSecrets, type SecretRequest } from '../../preflight/secrets.js';
import type { Playbook } from '../../playbook/define.js';
import type { PreflightCheck } from '../../preflight/preflight.js';
import type { Target } from '../../rollout/instance.js';

const REGISTRY_PASSWORD = 'container.registry.password';

/**
 * The config's secrets and registry password, resolved on this machine once for the run and
 * handed to every host's steps in memory (StepContext.secrets, .container.registry.password).
 */
function secretsCheck(targets: Target[], loaded: LoadedConfig): PreflightCheck[] {
  const { secrets, container } = loaded.config;
  const requests: SecretRequest[] = Object.entries(secrets).map(([name, source]) => ({ label: `secrets.${name}`, source }));
  if (container?.registry) requests.push({ label: REGISTRY_PASSWORD, source: container.registry.password });
  if (requests.length === 0) return [];
  return [
    {
      name: 'secrets',
      async run() {
        const values = await resolveSecrets(requests, loaded.dir);
        const resolved = Object.fromEntries(Object.keys(secrets).map((name) => [name, values.get(`secrets.${name}`)!]));
        const password = values.get(REGISTRY_PASSWORD);
        for (const target of targets) {
          target.ctx.secrets = resolved;
          if (password !== undefined && target.ctx.container?.registry)
            target.ctx.container = { ...target.ctx.container, registry: { ...target.ctx.container.registry, password } };
        }
        return `${requests.map((r) => r.label).join(', ')} resolved`;
      },
    },
  ];
}

export function preflightChecks(
  targets: Target[],
  fleet: string[],
  playbook: Playbook,
  lb: LoadBalancer,
  refusal: string | undefined,
  drainTimeoutMs: number,
  loaded: LoadedConfig,
): PreflightCheck[] {
  return [
    ...secretsCheck(targets, loaded),
    {
      name: 'playbook variables',
      async run() {
        const missing = targets.flatMap((t) => playbook.requiredVars.filter((v) => t.ctx.vars[v] === undefined || t.ctx.vars[v] === '').map((v) => `${t.name}: ${v}`));
        if (missing.length > 0) throw new Error(`playbook ${playbook.name} needs variables that are not set: ${missing.join(', ')} (set them in vars, per host, or with --var)`);
        return `${playbook.requiredVars.join(', ') || 'none needed'}`;
      },
    },
    {
      name: 'capacity plan',
      async run() {
        if (refusal) throw new Error(refusal);
        return `${targets.length} instance(s)`;
      },
    },
    {
      name: 'connectivity',
      async run() {
        // All hosts at once: a new SSH connection costs ~0.2 s, and an unreachable host must be found before anything leaves.
        const results = await Promise.allSettled(targets.map((t) => t.transport.connect()));
        const failed = results.flatMap((r, i) => {
          if (r.status === 'fulfilled') return [];
          // Transport errors already start with the host name.
          const message = (r.reason as Error).message;
          const host = targets[i]!.name;
          return [message.startsWith(`${host}: `) ? message : `${host}: ${message}`];
        });
        if (failed.length > 0) throw new Error(`unreachable: ${failed.join('; ')}`);
        return `${targets.length} host(s) connected`;
      },
    },
    {
      name: 'load balancer',
      async run() {
        await lb.verify(fleet);
        const detail = await lb.preflight?.({ drainTimeoutMs });
        const members = await lb.members(fleet);
        const healthy = members.filter((m) => m.healthy && m.inService).length;
        return `${lb.kind}: ${healthy}/${members.length} healthy and in service${detail ? `; ${detail}` : ''}`;
      },
    },
  ];
}
