import type { LoadedConfig } from '../../config/load.js';
import type { EventBus, RunStatus, RunSummary } from '../../events.js';
import type { JournalEntry } from '../../journal/state-store.js';
import type { Playbook, VarValue } from '../../playbook/define.js';
import type { DatabaseRunOptions } from '../../preflight/database-checks.js';
import type { PreflightCheck } from '../../preflight/preflight.js';
import type { InstanceSignals } from '../../rollout/instance.js';
import type { TransportOverrides } from '../../transport/from-config.js';
import type { ResumePlan } from './reconcile.js';

/** What the instances of a run go through once they are out: a playbook, or only a health check and put back. */
export type RunWork =
  /** 'deploy', 'patch', 'rollback', a name under the config's playbooks, or a playbook file (`ship run`). */
  | { kind: 'playbook'; playbook: string }
  /** `ship restore`: instances left out are health-checked and put back; nothing runs on them. */
  | { kind: 'restore' };

/** One run of the pipeline, whatever the command. */
export interface RunOptions {
  loaded: LoadedConfig;
  work: RunWork;
  /** 'deploy', 'patch', 'rollback', 'run', 'check', 'plan', 'restore': what the journal and notifications call the run. */
  command: string;
  version?: string;
  artifact?: string;
  hosts?: string[];
  /** `--roles web,workers`: only these of the app's roles, still in rollout.order. */
  roles?: string[];
  batchSize?: number | string;
  vars?: Record<string, VarValue>;
  dryRun?: boolean;
  transport?: TransportOverrides;
  /** `--trace`, `--allow-unsafe-database`: this run's additions to the database pre-flight. */
  database?: DatabaseRunOptions;
  bus: EventBus;
  signals: InstanceSignals;
  /** How the user puts instances back by hand, for the hard-interrupt message. */
  restoreCommand: (hosts: string[]) => string;
  /** End of the maintenance window (epoch ms, from `--window`): no batch starts after it. */
  windowEndsAt?: number;
  /** --lock-wait: how long to wait for another run's deploy lock. */
  lockWaitMs?: number;
  /** `ship check`: run every pre-flight check (the lock only looked at, not taken), change nothing. */
  checkOnly?: boolean;
  /** `ship resume`: the interrupted run to continue, and what it left (its hosts caught mid-way are reconciled first). */
  resume?: { from: JournalEntry; plan: ResumePlan };
  /** `ship restore`: the interrupted run whose instances are put back, whose lock may be taken over. */
  continues?: string;
  /** The command's own pre-flight checks, run once the lock is held (what they judge cannot change under the run any more). */
  checks?: PreflightCheck[];
}

export interface RunResult {
  status: RunStatus;
  summary: RunSummary;
}

/** Whether this run applies the config's migrations itself (a deploy with database.migrate). */
export function appliesMigrations(options: RunOptions): boolean {
  return options.loaded.config.database?.migrate !== undefined && options.work.kind === 'playbook' && options.work.playbook === 'deploy';
}

/** The playbook of a restore: no step runs on the host. */
export const RESTORE_PLAYBOOK: Playbook = {
  name: 'restore',
  requires: [],
  requiredVars: [],
  stage: [],
  activate: [],
  verify: [],
  rollback: [],
};
