import type { AnalysisVerdict, EventBus, HostSummary, RunStatus, RunSummary } from '../events.js';
import type { LoadBalancer } from '../lb/load-balancer.js';
import type { Playbook } from '../playbook/define.js';
import { runPhase } from '../playbook/runner.js';
import { checkHealth, ownSignals, phaseOptionsFor, rollInstance, type InstanceSettings, type InstanceSignals, type Target } from './instance.js';
import { InstanceTracker, type TransitionRecorder } from './tracker.js';
import { batchesBreachingFloor, capacityFloor, planBatches, type PlannedBatch } from './plan.js';
import { codeFor, codeOf, type Coded } from '../errors/coded.js';
import { ERROR_CODES } from '../errors/codes.js';
import { waitForCapacity } from './capacity.js';
import type { AnalysisSources } from './analysis/source.js';
import { bakeAndJudge } from './bake.js';
import { loadBalancerWaitNote } from './lb-wait.js';
import { previousRelease, revertBatches, type StageRecorder } from './revert.js';
import { settleEach } from '../util/settle-each.js';

export { CapacityError } from './capacity.js';

export interface RolloutSettings extends InstanceSettings {
  batchSize: number | string;
  canary: boolean;
  minHealthy: number | string | undefined;
  /** No load balancer sends the fleet traffic (workers): an explicit minHealthy of 0 is allowed. */
  idleAllowed?: boolean;
  capacityWaitMs: number;
  maxFailures: number;
  stageConcurrency: number;
  capacityPollMs: number;
  /** End of the maintenance window (epoch ms): no batch starts after it. */
  windowEndsAt?: number;
  /** After each batch is back in service, watch and judge it this long (default 0: go on at once). */
  bakeMs?: number;
  /** What a failure does to the batches already moved: they stay (default), or go back to the release they ran before. */
  onFailure?: 'stop' | 'rollback';
}

export interface RolloutInput {
  targets: Target[];
  playbook: Playbook;
  lb: LoadBalancer;
  bus: EventBus;
  settings: RolloutSettings;
  signals: InstanceSignals;
  /** Shown on a hard interrupt: how to put the listed instances back. */
  restoreCommand: (hosts: string[]) => string;
  /** The journal: every transition is written before it is acted on. */
  record?: TransitionRecorder;
  /** The journal's stage records: each bake and its verdict, each host's rollback. */
  recordStage?: StageRecorder;
  /** What judges a batch during its bake besides the load balancer's view of it. */
  analysis?: AnalysisSources;
  /**
   * Load-balancer names of the whole fleet behind the load balancer, when only some hosts are
   * rolled (--hosts): capacity is always counted over all of them. Defaults to the targets.
   */
  fleet?: string[];
  /** The app's role these targets are (an app with roles rolls one after the other), for the events. */
  role?: string;
}

export interface RolloutResult {
  status: Exclude<RunStatus, 'refused' | 'planned'>;
  summary: RunSummary;
}

export function planRollout(input: Pick<RolloutInput, 'targets' | 'settings' | 'playbook' | 'fleet'>) {
  const batches = planBatches(input.targets, input.settings.batchSize, input.settings.canary);
  const largest = Math.max(...batches.map((b) => b.hosts.length));
  const fleet = input.fleet ?? input.targets.map((t) => t.lbName);
  const floor = capacityFloor(fleet.length, input.settings.minHealthy, largest, input.settings.idleAllowed);
  const breaching = batchesBreachingFloor(batches, fleet.length, floor);
  return { batches, floor, breaching, fleet, reloadInPlace: breaching.length > 0 && input.playbook.gracefulReload !== undefined };
}

/**
 * Explains why a plan cannot run, with the numbers, or returns undefined. A batch that would
 * leave fewer than the floor in service is refused unless the playbook can reload in place.
 */
export function capacityRefusal(total: number, floor: number, breaching: PlannedBatch<Target>[], canReload: boolean, idleAllowed = false): string | undefined {
  if (breaching.length === 0 || canReload) return undefined;
  const batch = breaching[0]!;
  return (
    `taking out ${batch.hosts.length} of ${total} instance(s) (${batch.hosts.map((h) => h.name).join(', ')}) would leave ` +
    `${total - batch.hosts.length} in service, below the floor of ${floor}. ` +
    (total === 1
      ? 'A fleet of one is never drained: add a host, or give the playbook a gracefulReload phase that keeps it serving.'
      : 'Lower rollout.batchSize, lower rollout.minHealthy, or add hosts.') +
    (idleAllowed ? ' With no load balancer (workers whose jobs wait in a queue), rollout.minHealthy: 0 lets every instance restart.' : '')
  );
}

export async function runRollout(input: RolloutInput): Promise<RolloutResult> {
  const { targets, playbook, lb, bus, settings, signals } = input;
  const role = input.role === undefined ? {} : { role: input.role };
  const tracker = new InstanceTracker(bus, input.record);
  const results: HostSummary[] = [];
  const { batches, floor, reloadInPlace, fleet: allNames } = planRollout(input);

  /** Why the run stopped early, and what that left: never "put back" while an instance is still out. */
  const interruption = (): string => {
    const cause = signals.graceful.reason instanceof Error ? signals.graceful.reason.message : 'interrupted';
    const out = tracker.outOfRotation();
    if (out.length > 0) return `${cause}; stopped at once: ${out.join(', ')} left out of the load balancer`;
    return `${cause}; the instances in flight were finished and put back; no further batch was started`;
  };
  const finish = async (status: RolloutResult['status'], error?: string, coded: Coded = {}): Promise<RolloutResult> => {
    await tracker.flush();
    // A journal write that failed after the last instance was back still makes the record incomplete.
    if (tracker.journalError && status === 'succeeded') {
      status = 'failed';
      error = tracker.journalError;
    }
    const done = new Set(results.map((r) => r.host));
    // Facts stage captured (e.g. pending packages) still matter for hosts a window or a failure left.
    const notStarted = targets
      .filter((t) => !done.has(t.name))
      .map((t): HostSummary => ({ host: t.name, outcome: 'not-started', outOfRotationMs: 0, timeToHealthyMs: 0, facts: { ...t.ctx.facts } }));
    const outOfRotation = tracker.outOfRotation();
    if (status === 'interrupted' && outOfRotation.length > 0) {
      bus.emit({ type: 'interrupt', graceful: !signals.hard.aborted, outOfRotation, restoreCommand: input.restoreCommand(outOfRotation), ...codeFor(ERROR_CODES.interrupted) });
    }
    const fallback = status === 'interrupted' ? codeFor(ERROR_CODES.interrupted) : status === 'incomplete' ? codeFor(ERROR_CODES.windowEnded) : {};
    const hosts = [...results, ...notStarted].map((h) =>
      withRelease(
        h,
        targets.find((t) => t.name === h.host),
      ),
    );
    const lbWait = await loadBalancerWaitNote(hosts, lb, (host) => targets.find((t) => t.name === host)?.lbName);
    return {
      status,
      summary: {
        hosts,
        outOfRotation,
        ...(lastVerdict ? { analysis: lastVerdict } : {}),
        ...(lbWait ? { loadBalancerWait: lbWait } : {}),
        ...(error ? { error, ...fallback, ...coded } : {}),
      },
    };
  };
  const recordStage: StageRecorder = async (stage) => {
    try {
      await input.recordStage?.(stage);
    } catch (error) {
      tracker.journalError ??= `the journal could not be written (${(error as Error).message}); no further instance is taken out`;
    }
  };
  /** Hosts this run deployed, batch by batch: what `onFailure: 'rollback'` takes back. */
  const moved: Target[][] = [];
  /** Load-balancer names this run has taken out: the rest is the baseline a batch is compared with. */
  const touched = new Set<string>();
  let lastVerdict: AnalysisVerdict | undefined;
  /**
   * A failure stops the run; first the failing batch goes back (when its bake failed), or with
   * onFailure 'rollback' every batch moved, last first. The summary's hosts then end rolled back.
   */
  const stopAndGoBack = async (message: string, coded: Coded, failingBatch: Target[]): Promise<RolloutResult> => {
    const back = (settings.onFailure === 'rollback' ? [...moved].reverse() : [failingBatch]).filter((b) => b.length > 0);
    if (back.length === 0) return finish('failed', message, coded);
    const reverted = await revertBatches({
      batches: back,
      reason: message.split('\n', 1)[0]!,
      playbook,
      lb,
      tracker,
      bus,
      settings,
      signals,
      fleet: allNames,
      floor,
      recordStage,
    });
    for (const host of reverted.hosts)
      results.splice(
        results.findIndex((r) => r.host === host.host),
        1,
        host,
      );
    const names = back.flat().map((t) => t.name);
    if (!reverted.complete) return finish(signals.graceful.aborted ? 'interrupted' : 'failed', `${message}\n${reverted.error}`, reverted.coded);
    const gone = settings.onFailure === 'rollback' ? `every instance this run moved is back on the release it ran before: ${names.join(', ')}` : `rolled back: ${names.join(', ')}`;
    return finish('failed', `${message}\n${gone}`, coded);
  };

  // Slow work first, while every instance still serves (DESIGN principle 6).
  if (playbook.stage.length > 0) {
    const stageStarted = performance.now();
    bus.emit({ type: 'stage.started', hosts: targets.map((t) => t.name), ...role });
    const staged = await settleEach(targets, settings.stageConcurrency, (target) =>
      runPhase(playbook.stage, {
        phase: 'stage',
        transport: target.transport,
        ctx: target.ctx,
        bus,
        // Each host's own (see ownSignals): 16 hosts staged at once.
        signal: ownSignals(signals).graceful,
        defaultTimeoutMs: settings.commandTimeoutMs,
        sudo: settings.sudo,
      }),
    );
    bus.emit({ type: 'stage.finished', durationMs: performance.now() - stageStarted, ...role });
    const rejected = staged.flatMap((result) => (result.status === 'rejected' ? [result.reason as Error] : []));
    const failed = rejected.map((error) => error.message);
    if (signals.graceful.aborted)
      return finish(
        'interrupted',
        `${signals.graceful.reason instanceof Error ? signals.graceful.reason.message : 'interrupted'} while staging; no instance left the load balancer`,
      );
    if (failed.length > 0) return finish('failed', `stage failed before any instance left the load balancer:\n${failed.join('\n')}`, codeOf(rejected[0]));
  }

  // Hosts where the playbook finds nothing to do (decided from what stage captured) stay in service.
  const skipped = new Set<string>();
  for (const target of targets) {
    const reason = playbook.skip?.(target.ctx);
    if (reason === undefined) continue;
    skipped.add(target.name);
    results.push({ host: target.name, outcome: 'skipped', outOfRotationMs: 0, timeToHealthyMs: 0, error: reason, facts: { ...target.ctx.facts } });
    bus.emit({ type: 'instance.finished', host: target.name, outcome: 'skipped', outOfRotationMs: 0, durationMs: 0, error: reason });
  }

  let failures = 0;
  for (const [index, planned] of batches.entries()) {
    if (signals.graceful.aborted) return finish('interrupted', interruption());
    const batch = { ...planned, hosts: planned.hosts.filter((t) => !skipped.has(t.name)) };
    if (batch.hosts.length === 0) continue;
    if (settings.windowEndsAt !== undefined && Date.now() >= settings.windowEndsAt) {
      const left = batches.slice(index).flatMap((b) => b.hosts.filter((t) => !skipped.has(t.name)).map((t) => t.name));
      return finish('incomplete', `the maintenance window ended; not started: ${left.join(', ')}`);
    }
    const batchNames = batch.hosts.map((t) => t.lbName);
    const breaches = allNames.length - batch.hosts.length < floor;
    try {
      if (!(breaches && reloadInPlace)) await waitForCapacity(lb, allNames, batchNames, floor, settings, bus, signals);
    } catch (error) {
      return finish('failed', (error as Error).message, codeOf(error));
    }
    for (const target of batch.hosts) touched.add(target.lbName);
    bus.emit({ type: 'batch.started', index: index + 1, total: batches.length, hosts: batch.hosts.map((t) => t.name), canary: batch.canary, ...role });
    const batchStarted = performance.now();
    const outcomes = await Promise.all(
      batch.hosts.map((target) =>
        breaches && reloadInPlace
          ? reloadTargetInPlace(target, playbook, lb, tracker, bus, settings, signals)
          : rollInstance(target, playbook, lb, tracker, bus, settings, signals),
      ),
    );
    results.push(...outcomes);
    const deployed = batch.hosts.filter((_, i) => outcomes[i]!.outcome === 'deployed');
    moved.push(deployed);
    // A host left untouched with an error (unreachable when its turn came) is a failure too.
    const failedHosts = outcomes.filter(
      (o) => o.outcome === 'failed-out' || o.outcome === 'rolled-back' || o.outcome === 'failed-in-place' || (o.outcome === 'not-started' && o.error !== undefined),
    );
    bus.emit({ type: 'batch.finished', index: index + 1, durationMs: performance.now() - batchStarted, failed: failedHosts.map((o) => o.host), ...role });
    failures += failedHosts.length;
    if (signals.graceful.aborted) return finish('interrupted', interruption());
    if (tracker.journalError) return finish('failed', tracker.journalError);
    if (failures > settings.maxFailures) {
      const detail = failedHosts.map((o) => o.error ?? o.host).join('\n');
      const what = batch.canary ? 'the canary failed' : `${failures} instance(s) failed (maxFailures ${settings.maxFailures})`;
      return stopAndGoBack(`rollout stopped: ${what}\n${detail}`, firstCode(failedHosts), []);
    }
    if (settings.bakeMs && deployed.length > 0) {
      const scope = {
        index: index + 1,
        canary: batch.canary,
        hosts: deployed.map((t) => t.name),
        members: deployed.map((t) => t.lbName),
        untouched: allNames.filter((name) => !touched.has(name)),
      };
      const baked = await bakeAndJudge(
        { bakeMs: settings.bakeMs, lb, bus, recordStage, signal: signals.graceful, ...(input.analysis ? { analysis: input.analysis } : {}), ...role },
        scope,
      );
      if (baked.verdict) lastVerdict = baked.verdict;
      if (baked.outcome.verdict === 'interrupted') return finish('interrupted', interruption());
      if (tracker.journalError) return finish('failed', tracker.journalError);
      if (baked.outcome.verdict !== 'pass') return stopAndGoBack(`rollout stopped: ${baked.outcome.line}`, baked.coded, deployed);
    }
  }
  return finish(failures > 0 ? 'failed' : 'succeeded', failures > 0 ? `${failures} instance(s) failed` : undefined, firstCode(results.filter((r) => r.code)));
}

/**
 * The release a host ends on, where ship knows it: the version it was deployed (or reloaded)
 * with, else the one its playbook remembered in stage (a host not changed, or changed back).
 */
function withRelease(host: HostSummary, target: Target | undefined): HostSummary {
  if (host.release || !target) return host;
  const changed = host.outcome === 'deployed' || host.outcome === 'reloaded';
  const release = changed ? target.ctx.version : host.outcome === 'failed-out' || host.outcome === 'failed-in-place' ? undefined : previousRelease(target);
  return release ? { ...host, release } : host;
}

function firstCode(hosts: HostSummary[]): Coded {
  const coded = hosts.find((h) => h.code);
  return coded?.code ? { code: coded.code, ...(coded.runbook ? { runbook: coded.runbook } : {}) } : {};
}

/** The in-place path for a fleet that cannot spare the instance: it keeps serving throughout. */
async function reloadTargetInPlace(
  target: Target,
  playbook: Playbook,
  lb: LoadBalancer,
  tracker: InstanceTracker,
  bus: EventBus,
  settings: RolloutSettings,
  runSignals: InstanceSignals,
): Promise<HostSummary> {
  const signals = ownSignals(runSignals);
  const started = performance.now();
  await tracker.set(target.name, 'reloading');
  try {
    await runPhase(playbook.gracefulReload ?? [], phaseOptionsFor(target, 'reload', bus, settings, signals));
    await checkHealth(target, bus, settings, signals);
    await lb.waitHealthy(target.lbName, { deadlineMs: settings.healthyTimeoutMs, signal: signals.hard });
  } catch (error) {
    await tracker.set(target.name, 'in-service');
    const message = `${target.name}: in-place reload failed (it never left the load balancer): ${(error as Error).message}`;
    const coded = codeFor(ERROR_CODES.reloadFailed);
    bus.emit({ type: 'instance.finished', host: target.name, outcome: 'failed-in-place', outOfRotationMs: 0, durationMs: performance.now() - started, error: message, ...coded });
    return { host: target.name, outcome: 'failed-in-place', outOfRotationMs: 0, timeToHealthyMs: 0, error: message, ...coded };
  }
  await tracker.set(target.name, 'in-service');
  bus.emit({ type: 'instance.finished', host: target.name, outcome: 'reloaded', outOfRotationMs: 0, durationMs: performance.now() - started });
  return { host: target.name, outcome: 'reloaded', outOfRotationMs: 0, timeToHealthyMs: performance.now() - started };
}
