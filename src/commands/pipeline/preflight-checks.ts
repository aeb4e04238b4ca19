/**
 * The checks every run makes before anything changes, after the lock: the playbook's variables,
 * the capacity plan, every host reachable, the load balancer answering and agreeing on the fleet.
 * (The database pre-flight adds its own when the config has a database.)
 */
import type { LoadBalancer } from '../../lb/load-balancer.js';
import { resolveSecrets, type SecretRequest } from '../../preflight/secrets.js';
import type { Playbook } from '../../playbook/define.js';
import type { PreflightCheck } from '../../preflight/preflight.js';
import type { Target } from '../../rollout/instance.js';
import type { OpenUnit } from './execute.js';
import type { ResolvedTargets } from './targets.js';

const REGISTRY_PASSWORD = 'container.registry.password';

/**
 * The config's secrets and registry password, resolved on this machine once for the run (a
 * `command()` runs once, however many roles use it) and handed to every host's steps in memory
 * (StepContext.secrets, .container.registry.password).
 */
function secretsCheck(units: readonly OpenUnit[]): PreflightCheck[] {
  const requests = new Map<string, SecretRequest>();
  const add = (label: string, source: SecretRequest['source']) => requests.set(`${label} ${JSON.stringify(source)}`, { label, source });
  for (const { options } of units) {
    const { secrets, container } = options.loaded.config;
    for (const [name, source] of Object.entries(secrets)) add(`secrets.${name}`, source);
    if (container?.registry) add(REGISTRY_PASSWORD, container.registry.password);
  }
  if (requests.size === 0) return [];
  const dir = units[0]!.options.loaded.dir;
  return [
    {
      name: 'secrets',
      async run() {
        // One request per distinct source (two roles may give one name different sources), all at once.
        const entries = [...requests];
        const settled = await Promise.allSettled(entries.map(([, request]) => resolveSecrets([request], dir)));
        const failed = settled.flatMap((outcome) => (outcome.status === 'rejected' ? [(outcome.reason as Error).message.replace(/^cannot resolve /, '')] : []));
        if (failed.length > 0) throw new Error(`cannot resolve ${failed.join('; ')}`);
        const resolved = new Map(entries.map(([key, request], i) => [key, (settled[i] as PromiseFulfilledResult<Map<string, string>>).value.get(request.label)!]));
        const value = (label: string, source: SecretRequest['source']) => resolved.get(`${label} ${JSON.stringify(source)}`)!;
        for (const { options, resolved: unit } of units) {
          const { secrets, container } = options.loaded.config;
          const mine = Object.fromEntries(Object.entries(secrets).map(([name, source]) => [name, value(`secrets.${name}`, source)]));
          const password = container?.registry ? value(REGISTRY_PASSWORD, container.registry.password) : undefined;
          for (const target of unit.targets) {
            target.ctx.secrets = mine;
            if (password !== undefined && target.ctx.container?.registry)
              target.ctx.container = { ...target.ctx.container, registry: { ...target.ctx.container.registry, password } };
          }
        }
        return `${[...new Set([...requests.values()].map((r) => r.label))].join(', ')} resolved`;
      },
    },
  ];
}

/**
 * The run's checks: the secrets once, then each role's own (named with the role, when the app has
 * roles), its canary analysis last where it has one.
 */
export function preflightChecks(units: readonly OpenUnit[], refusals: ReadonlyMap<ResolvedTargets, string>): PreflightCheck[] {
  return [
    ...secretsCheck(units),
    ...units.flatMap((unit) => {
      const { targets, fleet, playbook, settings, analysis } = unit.resolved;
      const checks = [
        ...unitChecks(targets, fleet, playbook, unit.lb, refusals.get(unit.resolved), settings.drainTimeoutMs),
        ...(analysis.settings ? [analysis.check(unit.lb)] : []),
      ];
      return unit.role === undefined ? checks : checks.map((check) => ({ ...check, name: `${check.name} (${unit.role})` }));
    }),
  ];
}

function unitChecks(targets: Target[], fleet: string[], playbook: Playbook, lb: LoadBalancer, refusal: string | undefined, drainTimeoutMs: number): PreflightCheck[] {
  return [
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
