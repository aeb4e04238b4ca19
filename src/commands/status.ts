import type { LoadedConfig } from '../config/load.js';
import { selectRoles } from '../config/roles.js';
import type { InstanceState } from '../events.js';
import { resolveHosts } from '../inventory/resolve.js';
import type { JournalEntry, StageRecord, StateStore } from '../journal/state-store.js';
import type { LockStatus } from '../journal/lock.js';
import { loadBalancerFor } from '../lb/from-config.js';
import type { MemberState } from '../lb/load-balancer.js';

export interface InstanceStatus {
  host: string;
  /** The host's role, in an app with roles. */
  role?: string;
  /** The state the journal last recorded for the host in the newest run ('in-service' if untouched). */
  journal: InstanceState;
  /** What the load balancer says right now; undefined when it could not be asked. */
  live?: MemberState;
  /** Out of rotation by either account. */
  out: boolean;
  /** The journal and the load balancer tell different stories: a person should look. */
  disagreement?: string;
}

export interface StatusReport {
  app: string;
  lock?: LockStatus;
  lastRun?: JournalEntry;
  /** The last run has no outcome: it was interrupted (Ctrl-C twice, SIGKILL, a lost laptop). */
  unfinished: boolean;
  instances: InstanceStatus[];
  lbError?: string;
}

const OUT_STATES: ReadonlySet<InstanceState> = new Set(['draining', 'out', 'activating', 'verifying', 'registering', 'rolling-back', 'failed-out']);

/** The journal's last word on each host in a run. */
export function lastStates(entry: JournalEntry | undefined): Map<string, InstanceState> {
  const states = new Map<string, InstanceState>();
  for (const transition of entry?.transitions ?? []) states.set(transition.host, transition.to);
  return states;
}

/** Each migration the run touched, by its last record: `V2__email.sql (expand): applied`. */
export function migrationLines(entry: JournalEntry | undefined): string[] {
  const last = new Map<string, StageRecord>();
  for (const stage of entry?.stages ?? []) if (stage.stage === 'migration') last.set(stage.name, stage);
  const word = { started: 'STARTED, not finished (the run stopped while applying it)', done: 'applied', failed: 'FAILED' } as const;
  return [...last.values()].map(
    (stage) => `${stage.name}${stage.phase ? ` (${stage.phase})` : ''}: ${word[stage.status]}${stage.detail && stage.status !== 'done' ? `: ${stage.detail}` : ''}`,
  );
}

/**
 * Each bake of the run by its last record (`batch 1 (canary): canary web1: FAIL: ...`), then each
 * host's rollback (`web2 back to v1: done`), so `ship status` shows what decided and how far the
 * going back got.
 */
export function analysisLines(entry: JournalEntry | undefined): string[] {
  const last = new Map<string, StageRecord>();
  for (const stage of entry?.stages ?? []) if (stage.stage === 'analysis' || stage.stage === 'rollback') last.set(`${stage.stage} ${stage.name}`, stage);
  const stages = [...last.values()];
  const bakes = stages
    .filter((s) => s.stage === 'analysis')
    .map((s) => `${s.name}: ${s.status === 'started' ? `baking, not judged (the run stopped during its bake): ${s.detail ?? ''}` : (s.detail ?? s.status)}`);
  const word = { started: 'STARTED, not finished: `ship resume` finishes it', done: 'done', failed: 'FAILED' } as const;
  const rollbacks = stages
    .filter((s) => s.stage === 'rollback')
    .map((s) => `rollback of ${s.name}${s.version ? ` to ${s.version}` : ''}: ${word[s.status]}${s.status === 'failed' && s.detail ? `: ${s.detail}` : ''}`);
  return [...bakes, ...rollbacks];
}

/** `ship status`: the current or last run, the lock holder, and every instance (of every role) out of rotation, live. */
export async function status(loaded: LoadedConfig, store: StateStore): Promise<StatusReport> {
  const app = loaded.config.app;
  const [roles, lastRun, lock] = await Promise.all([
    Promise.all(selectRoles(loaded).map(async (role) => ({ ...role, hosts: await resolveHosts(role.loaded) }))),
    store.lastRun(app),
    store.currentLock(app),
  ]);
  const journal = lastStates(lastRun);
  const lbErrors: string[] = [];
  const instances: InstanceStatus[] = [];
  for (const { role, loaded: config, hosts } of roles) {
    const lb = await loadBalancerFor(config, hosts);
    let live: MemberState[] | undefined;
    try {
      live = await lb.members(hosts.map((h) => h.lbName ?? h.name));
    } catch (error) {
      lbErrors.push(`${role === undefined ? '' : `${role}: `}${(error as Error).message}`);
    } finally {
      await lb.close().catch(() => undefined);
    }
    instances.push(...hosts.map((host) => instanceStatus(host.name, host.lbName ?? host.name, journal.get(host.name) ?? 'in-service', live, role)));
  }
  return {
    app,
    ...(lock ? { lock } : {}),
    ...(lastRun ? { lastRun } : {}),
    unfinished: lastRun !== undefined && lastRun.outcome === undefined,
    instances,
    ...(lbErrors.length > 0 ? { lbError: lbErrors.join('; ') } : {}),
  };
}

function instanceStatus(host: string, lbName: string, recorded: InstanceState, live: MemberState[] | undefined, role: string | undefined): InstanceStatus {
  const member = live?.find((m) => m.name === lbName);
  const journalOut = OUT_STATES.has(recorded);
  const liveOut = member ? !member.inService : false;
  const status: InstanceStatus = { host, ...(role === undefined ? {} : { role }), journal: recorded, ...(member ? { live: member } : {}), out: journalOut || liveOut };
  if (member && journalOut !== liveOut) {
    status.disagreement = journalOut
      ? `the journal says ${recorded}, the load balancer says in service (${member.detail})`
      : `the journal says ${recorded}, the load balancer says out (${member.detail})`;
  }
  return status;
}

export function formatStatus(report: StatusReport): string {
  const lines: string[] = [`app ${report.app}`];
  if (report.lock) {
    const l = report.lock;
    lines.push(
      `lock: held by ${l.actor.osUser}@${l.actor.hostname}${l.actor.ci ? ` (${l.actor.ci})` : ''}: '${l.command}' run ${l.runId} since ${l.acquiredAt}, heartbeat ${l.heartbeatAt}${l.stale ? ' — STALE' : ''}${l.staleAgeNote ? ` (${l.staleAgeNote})` : ''}`,
    );
  } else {
    lines.push('lock: free');
  }
  const run = report.lastRun;
  if (run) {
    const outcome = run.outcome ? `${run.outcome.status} at ${run.outcome.finishedAt}` : 'UNFINISHED: continue it with `ship resume`';
    lines.push(
      `last run: ${run.run.command}${run.run.version ? ` ${run.run.version}` : ''} (run ${run.run.runId}) by ${run.run.actor.osUser}@${run.run.actor.hostname}, started ${run.run.startedAt}: ${outcome}`,
    );
    // What the journal reader had to skip (a record torn by a crash): the file and line, for a person to look at.
    for (const warning of run.warnings ?? []) lines.push(`journal: ${warning}`);
    const migrations = migrationLines(run);
    if (migrations.length) lines.push('migrations of this run:', ...migrations.map((line) => `  ${line}`));
    const analysis = analysisLines(run);
    if (analysis.length) lines.push('canary analysis and rollback of this run:', ...analysis.map((line) => `  ${line}`));
  } else {
    lines.push('last run: none recorded');
  }
  if (report.lbError) lines.push(`load balancer: could not be asked: ${report.lbError}`);
  const label = (i: InstanceStatus) => (i.role === undefined ? i.host : `${i.host} (${i.role})`);
  const width = Math.max(4, ...report.instances.map((i) => label(i).length));
  lines.push(`  ${'host'.padEnd(width)}  journal        load balancer`);
  for (const instance of report.instances) {
    lines.push(
      `  ${label(instance).padEnd(width)}  ${instance.journal.padEnd(13)}  ${instance.live ? `${instance.live.inService ? 'in service' : 'OUT'} (${instance.live.detail})` : 'unknown'}` +
        (instance.disagreement ? `  <- DISAGREE: ${instance.disagreement}` : ''),
    );
  }
  const out = report.instances.filter((i) => i.out).map((i) => i.host);
  lines.push(out.length ? `OUT OF ROTATION: ${out.join(', ')}` : 'every instance is in service');
  return lines.join('\n');
}
