/**
 * `ship rollback`: switches every host back to the previous release (or a named one) through the
 * same rolling procedure as a deploy. The target must already be on every host; otherwise the run
 * is refused before any host leaves the load balancer, naming the hosts that lack it.
 */
import type { LoadedConfig } from '../config/load.js';
import type { EventBus, RunSummary } from '../events.js';
import type { PreflightCheck } from '../preflight/preflight.js';
import { rollingRun, type RunOptions, type RunResult } from './pipeline/rolling-run.js';
import { listReleases, previousRelease, type HostReleases } from './releases.js';

export type RollbackOptions = Omit<RunOptions, 'work' | 'version' | 'artifact' | 'command'> & {
  /** A named release instead of the previous one. */
  to?: string;
};

/** The release to go back to, or why there is none that every host agrees on. */
export function chooseTarget(hosts: HostReleases[], to: string | undefined): { version: string } | { refusal: string } {
  const unreadable = hosts.filter((h) => h.error);
  if (unreadable.length > 0) {
    return { refusal: `cannot read the releases of ${unreadable.map((h) => `${h.host} (${h.error})`).join('; ')}` };
  }
  let version = to;
  if (version === undefined) {
    const previous = new Map(hosts.map((h) => [h.host, previousRelease(h)]));
    const none = hosts.filter((h) => previous.get(h.host) === undefined);
    if (none.length > 0) {
      return { refusal: `no release before the current one on ${none.map((h) => `${h.host} (current ${h.current ?? 'none'})`).join(', ')}; name one with --to <version>` };
    }
    const choices = new Set(previous.values());
    if (choices.size > 1) {
      return { refusal: `the hosts disagree on the previous release (${hosts.map((h) => `${h.host}: ${previous.get(h.host)}`).join(', ')}); name one with --to <version>` };
    }
    version = [...choices][0]!;
  }
  const lacking = hosts.filter((h) => !h.releases.some((r) => r.version === version));
  if (lacking.length > 0) {
    return { refusal: `release ${version} is missing on ${lacking.map((h) => h.host).join(', ')}; it must already be on every host (deploy it there, or pick another with --to)` };
  }
  return { version };
}

/** Rolls the config's `playbooks.rollback` (else the built-in one beside deploy-release.ts) to the chosen release. */
export async function rollback(options: RollbackOptions): Promise<RunResult> {
  const { loaded, bus } = options;
  const hosts = await readReleases(options);
  const target = chooseTarget(hosts, options.to);
  if ('refusal' in target)
    return refuse(
      bus,
      loaded,
      hosts.map((h) => h.host),
      target.refusal,
    );
  return rollingRun({
    ...options,
    work: { kind: 'playbook', playbook: 'rollback' },
    command: 'rollback',
    version: target.version,
    ...(options.lockWaitMs ? { checks: [targetStillHolds(options, target.version)] } : {}),
  });
}

/**
 * A rollback that waited for the lock chose its release before the run it waited for (a deploy)
 * changed the hosts: once the lock is held, the choice is made again and must agree, or the
 * rollback would go back two releases.
 */
function targetStillHolds(options: RollbackOptions, version: string): PreflightCheck {
  return {
    name: 'rollback target',
    async run() {
      const again = chooseTarget(await readReleases(options), options.to);
      if ('refusal' in again) throw new Error(again.refusal);
      if (again.version !== version) {
        throw new Error(
          `the hosts' releases changed while this rollback waited for the lock: it would now go back to ${again.version}, not ${version}; run \`ship rollback\` again`,
        );
      }
      return `${version}, still the release to go back to on every host`;
    },
  };
}

function readReleases(options: RollbackOptions): Promise<HostReleases[]> {
  return listReleases(options.loaded, {
    ...(options.hosts ? { hosts: options.hosts } : {}),
    ...(options.roles ? { roles: options.roles } : {}),
    ...(options.vars ? { vars: options.vars } : {}),
    ...(options.transport ? { transport: options.transport } : {}),
  });
}

function refuse(bus: EventBus, loaded: LoadedConfig, hosts: string[], reason: string): RunResult {
  const summary: RunSummary = { hosts: [], outOfRotation: [], error: `rollback refused before any host left the load balancer: ${reason}` };
  bus.emit({ type: 'run.started', command: 'rollback', app: loaded.config.app, hosts, sources: {}, batches: [], dryRun: false });
  bus.emit({ type: 'run.finished', status: 'refused', durationMs: 0, summary });
  return { status: 'refused', summary };
}
