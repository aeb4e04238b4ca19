/**
 * What each host has under <appDir>/releases and which one <appDir>/current points at (the layout
 * of the deploy-release playbook), for `ship releases` and for choosing a rollback target.
 */
import type { LoadedConfig } from '../config/load.js';
import { selectRoles } from '../config/roles.js';
import { resolveHosts, type ResolvedHost } from '../inventory/resolve.js';
import { listContainerReleases } from '../playbook/container.js';
import { containerSpec } from './pipeline/targets.js';
import type { VarValue } from '../playbook/define.js';
import { sh } from '../shell/sh.js';
import { transportFor, type TransportOverrides } from '../transport/from-config.js';
import { UsageError } from './errors.js';

export interface Release {
  version: string;
  /** When the release directory last changed (epoch seconds, fractional): unpacking a release renames it into place. */
  changedAt: number;
}

export interface HostReleases {
  host: string;
  /** The host's role, in an app with roles. */
  role?: string;
  /** Newest first. */
  releases: Release[];
  current?: string;
  /** Why the host could not be read. */
  error?: string;
}

export interface ReleasesQuery {
  hosts?: string[];
  /** An app with roles: only these roles' hosts. */
  roles?: string[];
  vars?: Record<string, VarValue>;
  transport?: TransportOverrides;
}

const QUERY_TIMEOUT_MS = 30_000;

function parseListing(host: string, stdout: string): HostReleases {
  const releases: Release[] = [];
  let current: string | undefined;
  for (const line of stdout.split('\n')) {
    if (line.startsWith('current=')) {
      const target = line.slice('current='.length).replace(/\/+$/, '');
      if (target) current = target.slice(target.lastIndexOf('/') + 1);
      continue;
    }
    const match = /^(\d+(?:\.\d+)?) (.+)$/.exec(line);
    if (match) releases.push({ version: match[2]!, changedAt: Number(match[1]) });
  }
  releases.sort((a, b) => b.changedAt - a.changedAt || b.version.localeCompare(a.version));
  return { host, releases, ...(current ? { current } : {}) };
}

/** Reads every host (of every role) in parallel; a host that cannot be read is reported, not skipped. */
export async function listReleases(loaded: LoadedConfig, query: ReleasesQuery = {}): Promise<HostReleases[]> {
  const roles = await Promise.all(selectRoles(loaded, query.roles).map(async (role) => ({ ...role, known: await resolveHosts(role.loaded) })));
  const known = roles.flatMap((role) => role.known);
  const unknown = (query.hosts ?? []).filter((name) => !known.some((h) => h.name === name));
  if (unknown.length > 0) throw new UsageError(`--hosts: unknown host(s) ${unknown.join(', ')}; the config (${loaded.file}) has ${known.map((h) => h.name).join(', ')}`);
  const wanted = (host: ResolvedHost) => !query.hosts?.length || query.hosts.includes(host.name);
  return Promise.all(
    roles.flatMap(({ role, loaded: config, known: hosts }) =>
      hosts.filter(wanted).map(async (host) => {
        const releases = await hostReleases(config, host, query);
        return role === undefined ? releases : { ...releases, role };
      }),
    ),
  );
}

async function hostReleases(loaded: LoadedConfig, host: ResolvedHost, query: ReleasesQuery): Promise<HostReleases> {
  if (loaded.config.container) return containerReleases(loaded, host, query);
  const appDir = { ...loaded.config.vars, ...host.vars, ...query.vars }.appDir;
  if (appDir === undefined || appDir === '') {
    return { host: host.name, releases: [], error: `variable 'appDir' is not set (set vars.appDir in the config, per host, or --var appDir=...)` };
  }
  const transport = transportFor(host, loaded, query.transport);
  try {
    const releasesDir = `${appDir}/releases`;
    // Directories only, without the deploy playbook's half-unpacked ones; change time and name.
    const result = await transport.exec(
      sh`cd ${releasesDir} 2>/dev/null && find . -mindepth 1 -maxdepth 1 -type d ! -name '*.unpack' -printf '%C@ %f\\n'; printf 'current=%s\\n' "$(readlink ${`${appDir}/current`} 2>/dev/null)"`,
      { timeoutMs: QUERY_TIMEOUT_MS },
    );
    if (result.code !== 0) return { host: host.name, releases: [], error: `listing ${releasesDir} failed (exit ${result.code}): ${result.stderr.trim()}` };
    return parseListing(host.name, result.stdout);
  } catch (error) {
    return { host: host.name, releases: [], error: (error as Error).message };
  } finally {
    await transport.close();
  }
}

/** A container host's releases: the images it keeps (recorded when staged), and the release label of the running container. */
async function containerReleases(loaded: LoadedConfig, host: ResolvedHost, query: ReleasesQuery): Promise<HostReleases> {
  const transport = transportFor(host, loaded, query.transport);
  try {
    const result = await transport.exec(listContainerReleases(containerSpec(loaded.config.container!)), { timeoutMs: QUERY_TIMEOUT_MS });
    if (result.code !== 0) return { host: host.name, releases: [], error: `listing the container's images failed (exit ${result.code}): ${result.stderr.trim()}` };
    return parseListing(host.name, result.stdout);
  } catch (error) {
    return { host: host.name, releases: [], error: (error as Error).message };
  } finally {
    await transport.close();
  }
}

export interface ReleasesAgreement {
  /** The release most hosts run. */
  current?: string;
  /** Hosts whose current release differs from it (or that have none). */
  disagreeing: string[];
  unreadable: string[];
}

export function agreement(hosts: HostReleases[]): ReleasesAgreement {
  const readable = hosts.filter((h) => !h.error);
  const counts = new Map<string, number>();
  for (const h of readable) if (h.current) counts.set(h.current, (counts.get(h.current) ?? 0) + 1);
  const current = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0];
  return {
    ...(current ? { current } : {}),
    disagreeing: readable.filter((h) => h.current !== current).map((h) => h.host),
    unreadable: hosts.filter((h) => h.error).map((h) => h.host),
  };
}

/** The release unpacked most recently before the current one, or undefined. */
export function previousRelease(host: HostReleases): string | undefined {
  const current = host.releases.find((r) => r.version === host.current);
  if (!current) return undefined;
  return host.releases.find((r) => r.changedAt < current.changedAt)?.version;
}

export function formatReleases(hosts: HostReleases[]): string {
  const { current, disagreeing, unreadable } = agreement(hosts);
  const label = (h: HostReleases) => (h.role === undefined ? h.host : `${h.host} (${h.role})`);
  const width = Math.max(4, ...hosts.map((h) => label(h).length));
  const lines = hosts.map((h) => {
    if (h.error) return `${label(h).padEnd(width)}  UNREADABLE: ${h.error}`;
    const list = h.releases.map((r) => (r.version === h.current ? `${r.version} (current)` : r.version)).join(', ') || 'none';
    const flag = disagreeing.includes(h.host) ? `   <- DISAGREES: runs ${h.current ?? 'no release'}, most hosts run ${current ?? 'none'}` : '';
    return `${label(h).padEnd(width)}  current ${(h.current ?? '-').padEnd(12)}  releases: ${list}${flag}`;
  });
  if (disagreeing.length === 0 && unreadable.length === 0) lines.push(`all ${hosts.length} host(s) run ${current ?? 'no release'}`);
  else lines.push(`hosts that disagree: ${[...disagreeing, ...unreadable].join(', ')}`);
  return lines.join('\n');
}
