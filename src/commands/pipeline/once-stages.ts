/**
 * The playbook's run-once phases in a run (beforeRollout before the expand migrations,
 * afterRollout after the last batch and before the contract migrations), each journalled before
 * and after. A resumed run does not repeat a phase its predecessor finished: a feature flag
 * flipped once is not flipped again.
 */
import type { RunOncePhaseName } from '../../playbook/define.js';
import { runOnce, runOnceLabel } from '../../playbook/run-once.js';
import { hostAccess, type HostAccess } from './host-access.js';
import type { RunJournal } from './run-journal.js';
import type { StageOutcome } from './schema-stages.js';
import { rolePrefix, type RunUnit } from './units.js';

const STAGE = { beforeRollout: 'before-rollout', afterRollout: 'after-rollout' } as const;

/**
 * The phase of every role's playbook, in rollout order, each once: roles that roll the same
 * playbook file share its phase (a migration tool must not run twice).
 */
export async function runOnceStages(units: readonly RunUnit[], journal: RunJournal, phase: RunOncePhaseName): Promise<StageOutcome> {
  const seen = new Set<string>();
  for (const unit of units) {
    const file = unit.resolved.playbookFile;
    if (seen.has(file)) continue;
    seen.add(file);
    const outcome = await runOnceStage(unit, units, journal, phase);
    if (!outcome.ok) return outcome;
  }
  return { ok: true };
}

async function runOnceStage(unit: RunUnit, units: readonly RunUnit[], journal: RunJournal, phase: RunOncePhaseName): Promise<StageOutcome> {
  const { options, resolved } = unit;
  const definition = resolved.playbook[phase];
  if (!definition || definition.steps.length === 0) return { ok: true };
  const stage = STAGE[phase];
  const name = `${rolePrefix(unit)}${runOnceLabel(definition.on)}`;
  if (options.resume?.from.stages.some((record) => record.stage === stage && record.name === name && record.status === 'done')) {
    options.bus.emit({ type: 'warning', message: `${rolePrefix(unit)}${phase} already ran in run ${options.resume.from.run.runId}; not run again` });
    return { ok: true };
  }
  const { config } = options.loaded;
  let access: HostAccess | undefined;
  await journal.recordStage({ stage, name, status: 'started' });
  try {
    await runOnce(resolved.playbook, phase, {
      bus: options.bus,
      run: {
        app: config.app,
        vars: { ...config.vars, ...options.vars },
        ...(options.version ? { version: options.version } : {}),
        ...(options.artifact ? { artifact: options.artifact } : {}),
      },
      host: (host) => {
        access = hostAccess(units, host);
        return access;
      },
      defaultTimeoutMs: resolved.settings.commandTimeoutMs,
      sudo: resolved.settings.sudo,
      signal: options.signals.graceful,
    });
  } catch (error) {
    await journal.recordStage({ stage, name, status: 'failed', detail: (error as Error).message });
    return { ok: false, status: 'failed', error: error as Error };
  } finally {
    await access?.close();
  }
  await journal.recordStage({ stage, name, status: 'done' });
  return { ok: true };
}
