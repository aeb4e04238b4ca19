import type { ShipEvent } from '../events.js';
import { formatDuration } from '../util/duration.js';
import { redact } from '../util/redact.js';
import { formatSummary } from './summary.js';

/** "web: " before a line about one role of an app with roles. */
function role(event: { role?: string }): string {
  return event.role === undefined ? '' : `${event.role}: `;
}

/** One readable line per event, for CI logs and pipes (no colours, no cursor movement). */
export function plainLine(event: ShipEvent): string | undefined {
  const time = event.time.slice(11, 23);
  const line = (host: string | undefined, text: string) => `${time} ${host ? `${host.padEnd(12)} ` : ''.padEnd(13)}${text}`;
  switch (event.type) {
    case 'run.started':
      return [
        line(
          undefined,
          `${event.dryRun ? 'plan' : event.command} ${event.app}${event.version ? ` ${event.version}` : ''}: ${event.hosts.length} host(s) in ${event.batches.length} batch(es)${event.roles ? `, roles in order: ${Object.keys(event.roles).join(', ')}` : ''}`,
        ),
        ...(event.dryRun ? [line(undefined, `  hosts: ${event.hosts.map((h) => `${h} (${event.sources[h] ?? 'config'})`).join(', ')}`)] : []),
      ].join('\n');
    case 'plan':
      return [
        line(
          undefined,
          `${event.role === undefined ? '' : `role ${event.role}: `}playbook ${event.playbook}; at least ${event.minHealthy} instance(s) stay in service${event.reloadInPlace ? '; reloads in place where draining would breach that' : ''}`,
        ),
        ...(event.container
          ? [
              line(
                undefined,
                `  container ${event.container.name}: ${event.container.image} (engine ${event.container.engine}${event.container.registry ? `, registry ${event.container.registry}` : ''}, keeps ${event.container.keep} images per host)`,
              ),
            ]
          : []),
        ...(event.secrets?.length ? [line(undefined, `  secrets: ${event.secrets.join(', ')}`)] : []),
        ...event.batches.map((b, i) =>
          line(undefined, `  batch ${i + 1}${b.canary ? ' (canary)' : ''}: ${b.hosts.join(', ')}${event.bake ? `, then bake ${formatDuration(event.bake.durationMs)}` : ''}`),
        ),
        ...(event.bake
          ? [
              line(undefined, `  each bake keeps its batch only if: ${event.bake.analysis.join('; ')}`),
              line(
                undefined,
                `  on failure: ${event.bake.onFailure === 'rollback' ? 'every instance moved goes back to the release it ran before, last batch first' : 'the failed batch goes back, the run stops'}`,
              ),
            ]
          : []),
        ...(['beforeRollout', 'stage', 'activate', 'verify', 'rollback', 'afterRollout'] as const)
          .filter((phase) => event.phases[phase].length > 0)
          .map((phase) => line(undefined, `  ${phase}: ${event.phases[phase].join(' → ')}`)),
      ].join('\n');
    case 'migrations.planned':
      return [
        line(undefined, `migrations (${event.run === 'ship' ? 'applied by ship' : 'your command'})${event.detail ? `: ${event.detail}` : ''}`),
        line(undefined, `  expand, before the rollout: ${event.expand.join(', ') || 'none'}`),
        line(undefined, `  contract, after the last host: ${event.contract.join(', ') || 'none'}`),
      ].join('\n');
    case 'migration.started':
      return line(undefined, `migration ${event.file} (${event.phase}): applying`);
    case 'migration.retrying':
      return line(undefined, `migration ${event.file}: lock not granted in time, retry ${event.attempt} in ${formatDuration(event.waitMs)} (${event.detail})`);
    case 'migration.applied':
      return line(undefined, `migration ${event.file} (${event.phase}): applied in ${formatDuration(event.durationMs)}`);
    case 'migration.failed':
      return line(undefined, `migration ${event.file} (${event.phase}): FAILED: ${event.error}${event.code ? ` [${event.code}]` : ''}`);
    case 'replicas.waiting':
      return line(undefined, `waiting for replicas: ${event.detail}`);
    case 'replicas.ready':
      return line(undefined, `replicas and read paths on the new schema after ${formatDuration(event.durationMs)}: ${event.detail}`);
    case 'preflight.check':
      return line(undefined, `pre-flight ${event.name}: ${event.status}${event.detail ? ` (${event.detail})` : ''}${event.code ? ` [${event.code}]` : ''}`);
    case 'stage.started':
      return line(undefined, `${role(event)}staging on ${event.hosts.length} host(s) while they serve`);
    case 'stage.finished':
      return line(undefined, `${role(event)}staged in ${formatDuration(event.durationMs)}`);
    case 'batch.started':
      return line(undefined, `${role(event)}batch ${event.index}/${event.total}${event.canary ? ' (canary)' : ''}: ${event.hosts.join(', ')}`);
    case 'batch.finished':
      return event.failed.length ? line(undefined, `${role(event)}batch ${event.index} failed: ${event.failed.join(', ')}`) : undefined;
    case 'analysis.started':
      return line(
        undefined,
        `baking ${event.canary ? 'the canary' : `batch ${event.index}`} (${event.hosts.join(', ')}) for ${formatDuration(event.bakeMs)}: ${event.sources.join(', ')}`,
      );
    case 'analysis.extended':
      return line(undefined, `bake of ${event.hosts.join(', ')} extended, up to ${formatDuration(event.untilMs)}: ${event.detail}`);
    case 'analysis.verdict':
      return line(undefined, `verdict: ${event.line}${event.code ? ` [${event.code}]` : ''}`);
    case 'rollback.started':
      return line(undefined, `rolling back ${event.batches.flat().join(', ')}, batch by batch (${event.batches.map((b) => b.join(', ')).join(' → ')}): ${event.reason}`);
    case 'rollback.finished':
      return line(
        undefined,
        `rollback ${event.complete ? 'finished' : 'DID NOT FINISH'} in ${formatDuration(event.durationMs)}: ${event.hosts.map((h) => `${h.host} ${h.outcome}${h.release ? ` (${h.release})` : ''}`).join(', ')}`,
      );
    case 'capacity.checked':
      return line(undefined, `capacity: ${event.healthy}/${event.total} healthy, taking out ${event.takingOut}, floor ${event.minHealthy}`);
    case 'capacity.waiting':
      return line(undefined, `waiting for capacity: ${event.healthy} healthy besides the batch, ${event.needed} needed (${event.detail})`);
    case 'instance.state':
      return line(event.host, event.to);
    case 'instance.drained':
      return line(event.host, `drained in ${formatDuration(event.durationMs)}${event.timedOut ? ` (deadline passed: ${event.detail})` : ''}`);
    case 'instance.finished':
      return line(
        event.host,
        `${event.outcome}, out of rotation ${formatDuration(event.outOfRotationMs)}${event.error ? `\n${event.error}${event.code ? ` [${event.code}]` : ''}` : ''}`,
      );
    case 'step.started':
      return event.attempt > 1 ? line(event.host, `${event.phase} ${event.step} (attempt ${event.attempt})`) : undefined;
    case 'step.finished':
      if (event.skipped) return line(event.host, `${event.phase} ${event.step}: skipped`);
      return line(event.host, `${event.phase} ${event.step}: ${event.ok ? 'ok' : 'FAILED'} ${formatDuration(event.durationMs)}`);
    case 'output':
      return line(event.host, `${event.stream === 'stderr' ? '!' : '|'} ${event.line}`);
    case 'health.passed':
      return line(event.host, `healthy: ${event.check} (${event.attempts} probe(s), ${formatDuration(event.durationMs)})`);
    case 'health.failed':
      return line(event.host, `health check failed: ${event.check}: ${event.detail}`);
    case 'lb.healthy':
      return line(event.host, `load balancer reports healthy after ${formatDuration(event.durationMs)}${event.detail ? ` (${event.detail})` : ''}`);
    case 'interrupt':
      return line(
        undefined,
        `interrupted; out of the load balancer: ${event.outOfRotation.join(', ')}${event.restoreCommand ? `\n  put them back with: ${event.restoreCommand}` : ''}`,
      );
    case 'warning':
      return line(event.host, `warning: ${event.message}`);
    case 'run.finished':
      return formatSummary(event.status, event.durationMs, event.summary);
  }
}

export function plainRenderer(write: (text: string) => void): (event: ShipEvent) => void {
  return (event) => {
    const text = plainLine(event);
    if (text !== undefined) write(`${redact(text)}\n`);
  };
}
