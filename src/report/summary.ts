import type { RunStatus, RunSummary } from '../events.js';
import { formatDuration } from '../util/duration.js';

const HEADLINE: Record<RunStatus, string> = {
  succeeded: 'rollout succeeded',
  failed: 'ROLLOUT FAILED',
  refused: 'REFUSED before any change',
  interrupted: 'INTERRUPTED',
  planned: 'plan only, nothing changed',
  checked: 'every pre-flight check passed; nothing changed',
  incomplete: 'INCOMPLETE: the maintenance window ended',
};

/** The closing block every renderer but JSON prints: per host outcome and timings, and what needs a person. */
export function formatSummary(status: RunStatus, durationMs: number, summary: RunSummary): string {
  const lines = [`${HEADLINE[status]} in ${formatDuration(durationMs)}`];
  const rolled = summary.hosts.filter((h) => h.outcome !== 'not-started');
  if (rolled.length > 0) {
    const width = Math.max(...summary.hosts.map((h) => h.host.length), 4);
    // "LB wait": of the time out of rotation, the drain and the load balancer's checks; "to healthy": those checks alone.
    lines.push(`  ${'host'.padEnd(width)}  outcome       out of rotation  LB wait  to healthy  release`);
    const cell = (value: number | undefined, width: number) => (value ? formatDuration(value) : '-').padEnd(width);
    for (const host of summary.hosts) {
      lines.push(
        `  ${host.host.padEnd(width)}  ${host.outcome.padEnd(12)}  ${cell(host.outOfRotationMs, 15)}  ${cell(host.lbWaitMs, 7)}  ${cell(host.timeToHealthyMs, 10)}  ${host.release ?? '-'}`,
      );
    }
  }
  if (summary.migrations?.applied.length) lines.push(`  migrations applied: ${summary.migrations.applied.join(', ')}`);
  if (summary.migrations?.pending.length) lines.push(`  MIGRATIONS STILL PENDING: ${summary.migrations.pending.join(', ')} (\`ship resume\` or the next deploy applies them)`);
  if (summary.analysis) lines.push(`  analysis: ${summary.analysis.line}`);
  if (summary.loadBalancerWait) lines.push(`  load balancer: ${summary.loadBalancerWait.line}`);
  if (summary.error) lines.push(summary.error.replace(/^/gm, '  '));
  if (summary.code) lines.push(`  ${summary.code}: what to do next: ${summary.runbook ?? 'docs/runbook.md'}`);
  if (summary.outOfRotation.length > 0) lines.push(`  STILL OUT OF THE LOAD BALANCER: ${summary.outOfRotation.join(', ')}`);
  return lines.join('\n');
}
