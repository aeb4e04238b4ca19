/**
 * `ship resume`: which run to continue, and what it left. Any run that did not roll all its hosts
 * can be continued (one or two Ctrl-C, SIGTERM, SIGKILL, a lost laptop, a window that ended, a
 * lost lock), unless an instance of it failed: resume never rolls past a failure. A rollback the
 * run decided and did not finish is finished instead, without rolling anything forward. A restore run
 * points at the run whose instances it put back, and that run is the one continued.
 */
import type { LoadedConfig } from '../config/load.js';
import { stateStoreFor } from '../journal/from-config.js';
import type { JournalEntry, StageRecord, StateStore } from '../journal/state-store.js';
import { UsageError } from './errors.js';
import { planResume, type ResumePlan } from './pipeline/reconcile.js';
import { readResumeRecord, type ResumeRecord } from './pipeline/resume-record.js';

export type ResumeTarget = { entry: JournalEntry; record: ResumeRecord; plan: ResumePlan } | { nothing: string };

/** Statuses of runs that rolled everything they were going to, or changed nothing. */
const NOTHING_LEFT: Readonly<Record<string, string>> = {
  succeeded: 'it succeeded',
  planned: 'it was a plan',
  checked: 'it was a check',
  refused: 'it was refused before any instance changed; start it again',
};

async function runToContinue(store: StateStore, app: string): Promise<JournalEntry | undefined> {
  const last = await store.lastRun(app);
  if (!last) return undefined;
  const continues = (last.run.resume as { continues?: unknown }).continues;
  if (typeof continues !== 'string') return last;
  return (await store.run(continues)) ?? last;
}

export async function findRunToResume(loaded: LoadedConfig): Promise<ResumeTarget> {
  const app = loaded.config.app;
  const store = await stateStoreFor(loaded);
  const entry = await runToContinue(store, app).finally(() => store.close());
  if (!entry) return { nothing: `nothing to resume: no run of ${app} is recorded in the state store` };
  const described = `the last run of ${app} (${entry.run.runId}, ${entry.run.command})`;
  const ended = entry.outcome && NOTHING_LEFT[entry.outcome.status];
  if (ended) return { nothing: `nothing to resume: ${described} finished: ${entry.outcome!.status} (${ended}); see \`ship status\`` };
  const plan = planResume(entry);
  if (plan.failed.length > 0) {
    throw new UsageError(
      `${described} had failures (${plan.failed.join(', ')}): resume does not roll past a failure; ` +
        'check `ship status`, put instances back with `ship restore`, and start a new run',
    );
  }
  if (plan.rollback) return { entry, record: readResumeRecord(entry), plan };
  const left = entry.run.hosts.filter((host) => !plan.completed.includes(host));
  // With every host rolled, what may be left runs after the rollout (afterRollout steps, contract migrations).
  if (left.length === 0 && plan.inFlight.length === 0 && stagesLeft(entry).length === 0) return { nothing: `nothing to resume: ${described} rolled all its hosts` };
  return { entry, record: readResumeRecord(entry), plan };
}

/**
 * What a run left undone after its rollout: stages it started and did not finish (a kill while
 * applying a contract migration), and migrations its summary names as still pending (a contract
 * migration that failed).
 */
export function stagesLeft(entry: JournalEntry): string[] {
  const last = new Map<string, StageRecord>();
  for (const stage of entry.stages) if (stage.stage === 'migration' || stage.stage === 'after-rollout') last.set(`${stage.stage} ${stage.name}`, stage);
  const unfinished = [...last.values()].filter((stage) => stage.status !== 'done').map((stage) => stage.name);
  return [...new Set([...unfinished, ...(entry.outcome?.summary.migrations?.pending ?? [])])];
}

/** The run a restore puts instances back for (recorded, so a resume afterwards continues it), if it did not finish its hosts. */
export async function interruptedRunId(loaded: LoadedConfig): Promise<string | undefined> {
  const store = await stateStoreFor(loaded);
  const entry = await runToContinue(store, loaded.config.app).finally(() => store.close());
  if (!entry || (entry.outcome && NOTHING_LEFT[entry.outcome.status])) return undefined;
  return entry.run.runId;
}
