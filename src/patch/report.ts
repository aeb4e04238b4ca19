/**
 * The patch report: per app and host, the packages upgraded (name, old and new version), whether
 * the host rebooted, and how long each part took. Built from the core's events (step durations)
 * and the run's summary (facts the playbook captured), so it needs nothing from the hosts.
 */
import type { EventBus, HostSummary, RunStatus, RunSummary } from '../events.js';

export interface PackageChange {
  name: string;
  from: string;
  to: string;
}

export interface PatchHostReport {
  host: string;
  /** As in the run summary; 'deployed' means patched. */
  outcome: HostSummary['outcome'];
  packageManager?: string;
  /** What stage found pending. */
  pending: PackageChange[];
  /** What the install really changed, read back from the package database. */
  upgraded: PackageChange[];
  rebootRequired: boolean;
  rebooted: boolean;
  durations: {
    stageMs?: number;
    installMs?: number;
    rebootMs?: number;
    outOfRotationMs: number;
    timeToHealthyMs: number;
  };
  error?: string;
}

export interface PatchAppReport {
  app: string;
  status: RunStatus;
  durationMs: number;
  hosts: PatchHostReport[];
  /** Hosts still out of the load balancer: each needs a person. */
  outOfRotation: string[];
  error?: string;
}

export interface PatchReport {
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  /** The worst of the apps' statuses. */
  status: RunStatus;
  /** Hosts that failed (left out, rolled back, or failed in place), as `app/host`. */
  failedHosts: string[];
  apps: PatchAppReport[];
}

const FAILED_OUTCOMES: ReadonlyArray<HostSummary['outcome']> = ['failed-out', 'rolled-back', 'failed-in-place'];

/** `name old new` lines, as the security-patch playbook captures them. */
export function parsePackageLines(text: string | undefined): PackageChange[] {
  return (text ?? '')
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields.length === 3)
    .map(([name, from, to]) => ({ name: name!, from: from!, to: to! }));
}

/** Collects one app's run from its event bus: step durations per host, then the final summary. */
export class PatchRunCollector {
  private readonly stageMs = new Map<string, number>();
  private readonly installMs = new Map<string, number>();
  private finished?: { status: RunStatus; durationMs: number; summary: RunSummary };

  constructor(
    readonly app: string,
    bus: EventBus,
  ) {
    bus.subscribe((event) => {
      if (event.type === 'step.finished' && !event.skipped) {
        if (event.phase === 'stage') this.stageMs.set(event.host, (this.stageMs.get(event.host) ?? 0) + event.durationMs);
        if (event.phase === 'activate' && event.step === 'install updates') this.installMs.set(event.host, event.durationMs);
      }
      if (event.type === 'run.finished') this.finished = { status: event.status, durationMs: event.durationMs, summary: event.summary };
    });
  }

  /** The app's part of the report; `failure` stands in when the run ended in an error instead of a summary. */
  report(failure?: string): PatchAppReport {
    if (!this.finished) {
      return { app: this.app, status: 'failed', durationMs: 0, hosts: [], outOfRotation: [], error: failure ?? 'the run ended without a summary' };
    }
    const { status, durationMs, summary } = this.finished;
    return {
      app: this.app,
      status,
      durationMs,
      hosts: summary.hosts.map((host) => this.hostReport(host)),
      outOfRotation: summary.outOfRotation,
      ...(summary.error ? { error: summary.error } : {}),
    };
  }

  private hostReport(host: HostSummary): PatchHostReport {
    const facts = host.facts ?? {};
    const rebootMs = facts.rebootMs === undefined ? undefined : Number(facts.rebootMs);
    const stageMs = this.stageMs.get(host.host);
    const installMs = this.installMs.get(host.host);
    return {
      host: host.host,
      outcome: host.outcome,
      ...(facts.packageManager ? { packageManager: facts.packageManager } : {}),
      pending: parsePackageLines(facts.pending),
      upgraded: parsePackageLines(facts.upgraded),
      rebootRequired: facts.rebootRequired === 'yes',
      rebooted: rebootMs !== undefined,
      durations: {
        ...(stageMs !== undefined ? { stageMs: Math.round(stageMs) } : {}),
        ...(installMs !== undefined ? { installMs: Math.round(installMs) } : {}),
        ...(rebootMs !== undefined ? { rebootMs } : {}),
        outOfRotationMs: Math.round(host.outOfRotationMs),
        timeToHealthyMs: Math.round(host.timeToHealthyMs),
      },
      ...(host.error ? { error: host.error } : {}),
    };
  }
}

/** Worst first: an interrupt needs a person now, then failures, refusals, an unfinished window. */
const SEVERITY: RunStatus[] = ['interrupted', 'failed', 'refused', 'incomplete', 'succeeded', 'planned'];

export function combineReports(apps: PatchAppReport[], startedAt: Date, finishedAt: Date): PatchReport {
  const failedHosts = apps.flatMap((app) => app.hosts.filter((h) => FAILED_OUTCOMES.includes(h.outcome)).map((h) => `${app.app}/${h.host}`));
  const statuses = apps.map((app) => app.status);
  let status = SEVERITY.find((s) => statuses.includes(s)) ?? 'succeeded';
  // A failed host fails the run even when the window ended (incomplete) after it.
  if (failedHosts.length > 0 && (status === 'incomplete' || status === 'succeeded')) status = 'failed';
  return {
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationMs: finishedAt.getTime() - startedAt.getTime(),
    status,
    failedHosts,
    apps,
  };
}
