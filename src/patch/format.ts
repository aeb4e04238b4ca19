import { formatDuration } from '../util/duration.js';
import type { PatchHostReport, PatchReport } from './report.js';

const HEADLINE: Record<PatchReport['status'], string> = {
  succeeded: 'patch run succeeded',
  failed: 'PATCH RUN FAILED',
  refused: 'PATCH RUN REFUSED before any change',
  interrupted: 'PATCH RUN INTERRUPTED',
  planned: 'plan only, nothing changed',
  incomplete: 'PATCH RUN INCOMPLETE: the maintenance window ended',
  checked: 'every pre-flight check passed; nothing changed',
};

function outcomeText(host: PatchHostReport): string {
  switch (host.outcome) {
    case 'deployed':
      return 'patched';
    case 'failed-out':
      return 'FAILED, left out of the load balancer';
    case 'rolled-back':
      return 'FAILED, nothing changed, back in service';
    case 'failed-in-place':
      return 'FAILED in place';
    default:
      return host.outcome;
  }
}

function hostLines(host: PatchHostReport): string[] {
  const lines = [`  ${host.host}: ${outcomeText(host)}${host.packageManager ? ` (${host.packageManager})` : ''}`];
  if (host.outcome === 'skipped') {
    lines[0] += `: ${host.error ?? 'nothing to do'}`;
    return lines;
  }
  for (const change of host.upgraded) lines.push(`    ${change.name} ${change.from} -> ${change.to}`);
  const notInstalled = host.pending.filter((p) => !host.upgraded.some((u) => u.name === p.name));
  if (host.outcome !== 'not-started' && notInstalled.length > 0) {
    lines.push(`    not upgraded: ${notInstalled.map((p) => `${p.name} ${p.from} (wanted ${p.to})`).join(', ')}`);
  }
  if (host.outcome === 'not-started' && host.pending.length > 0) lines.push(`    pending: ${host.pending.map((p) => `${p.name} ${p.from} -> ${p.to}`).join(', ')}`);
  const d = host.durations;
  const timings = [
    d.stageMs !== undefined ? `stage ${formatDuration(d.stageMs)}` : undefined,
    d.installMs !== undefined ? `install ${formatDuration(d.installMs)}` : undefined,
    host.rebooted
      ? `rebooted in ${formatDuration(d.rebootMs ?? 0)}`
      : host.rebootRequired
        ? 'reboot required, NOT completed'
        : host.outcome === 'deployed'
          ? 'no reboot needed'
          : undefined,
    d.outOfRotationMs ? `out of rotation ${formatDuration(d.outOfRotationMs)}` : undefined,
    d.timeToHealthyMs ? `healthy in the load balancer after ${formatDuration(d.timeToHealthyMs)}` : undefined,
  ].filter(Boolean);
  if (timings.length > 0) lines.push(`    ${timings.join(', ')}`);
  if (host.error) lines.push(host.error.replace(/^/gm, '    ! '));
  return lines;
}

/** The readable report printed at the end of `ship patch`. */
export function formatPatchReport(report: PatchReport): string {
  const lines = [`${HEADLINE[report.status]} in ${formatDuration(report.durationMs)} (started ${report.startedAt})`];
  for (const app of report.apps) {
    const upgraded = app.hosts.reduce((n, h) => n + h.upgraded.length, 0);
    const rebooted = app.hosts.filter((h) => h.rebooted).length;
    lines.push(`app ${app.app}: ${app.status}; ${app.hosts.length} host(s), ${upgraded} package upgrade(s), ${rebooted} reboot(s)`);
    for (const host of app.hosts) lines.push(...hostLines(host));
    if (app.error) lines.push(app.error.replace(/^/gm, '  '));
    if (app.outOfRotation.length > 0) lines.push(`  STILL OUT OF THE LOAD BALANCER: ${app.outOfRotation.join(', ')}`);
  }
  if (report.failedHosts.length > 0) lines.push(`failed hosts: ${report.failedHosts.join(', ')}`);
  return lines.join('\n');
}
