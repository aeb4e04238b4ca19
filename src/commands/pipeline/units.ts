/**
 * What one run rolls: an app's roles one after the other (web, then workers), each with its own
 * hosts, load balancer, health checks and playbook; an app without roles is one unit. The run
 * around them is one: one lock, one journal, one pre-flight, migrations around all of them.
 */
import { selectRoles } from '../../config/roles.js';
import { UsageError } from '../errors.js';
import type { RunOptions } from './run-options.js';
import { resolveTargets, type ResolvedTargets } from './targets.js';

export interface RunUnit {
  /** Undefined for an app without roles. */
  role: string | undefined;
  /** The run's options with the role's own config. */
  options: RunOptions;
  resolved: ResolvedTargets;
}

export async function resolveUnits(options: RunOptions): Promise<RunUnit[]> {
  const roles = selectRoles(options.loaded, options.roles);
  if (roles.length === 1 && roles[0]!.role === undefined) return [{ role: undefined, options, resolved: await resolveTargets(options) }];
  const units: RunUnit[] = [];
  for (const { role, loaded } of roles) {
    const unitOptions = { ...options, loaded };
    units.push({ role, options: unitOptions, resolved: await resolveTargets(unitOptions, { hostsElsewhere: true }) });
  }
  const unknown = (options.hosts ?? []).filter((name) => !units.some((unit) => unit.resolved.inventory.some((host) => host.name === name)));
  if (unknown.length > 0) {
    const known = units.map((unit) => `${unit.role}: ${unit.resolved.inventory.map((host) => host.name).join(', ')}`).join('; ');
    throw new UsageError(`--hosts: unknown host(s) ${unknown.join(', ')}; the config (${options.loaded.file}) has ${known}`);
  }
  const twice = units.flatMap((unit) => unit.resolved.inventory.map((host) => ({ host: host.name, role: unit.role })));
  for (const [i, entry] of twice.entries()) {
    const other = twice.find((candidate, j) => j < i && candidate.host === entry.host);
    if (other) throw new UsageError(`host ${entry.host} is in role ${other.role} and in role ${entry.role} (found by their inventories): a host belongs to one role`);
  }
  // A role with nothing left to roll (--hosts named only other roles', a resume finished it) is not part of this run.
  const rolling = units.filter((unit) => unit.resolved.targets.length > 0);
  return rolling.length > 0 ? rolling : units.slice(0, 1);
}

/** Every target of the run, in the order it rolls them. */
export function allTargets(units: readonly RunUnit[]) {
  return units.flatMap((unit) => unit.resolved.targets);
}

/** "web: " before what is said of one role, nothing for an app without roles. */
export function rolePrefix(unit: Pick<RunUnit, 'role'>): string {
  return unit.role === undefined ? '' : `${unit.role}: `;
}
