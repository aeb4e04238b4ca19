import type { EventBus, HostSummary, Phase } from '../events.js';
import type { Check } from '../health/check.js';
import { waitUntilHealthy } from '../health/wait.js';
import type { LoadBalancer } from '../lb/load-balancer.js';
import type { Playbook, StepContext } from '../playbook/define.js';
import { runPhase, type PhaseOptions } from '../playbook/runner.js';
import type { Transport } from '../transport/transport.js';
import { DeadlineError } from '../util/deadline.js';
import type { InstanceTracker } from './tracker.js';
import { codeFor, codeOf, type Coded } from '../errors/coded.js';
import { ERROR_CODES } from '../errors/codes.js';

export interface Target {
  name: string;
  address: string;
  lbName: string;
  transport: Transport;
  checks: Check[];
  ctx: StepContext;
}

export interface InstanceSettings {
  drainTimeoutMs: number;
  healthyTimeoutMs: number;
  commandTimeoutMs: number;
  sudo: boolean | string;
}

export interface InstanceSignals {
  /** First Ctrl-C: finish what is in flight, start nothing new. */
  graceful: AbortSignal;
  /** Second Ctrl-C: stop waiting at once. */
  hard: AbortSignal;
}

/**
 * The run's signals as one instance's own: they abort with the run's, and every wait, command and
 * probe of that instance listens on them. A wide batch runs 16 or 64 instances at once, each with
 * a command, a poll or a probe in flight; listening on the run's signals directly, that was one
 * listener per instance on a single signal (Node's MaxListenersExceededWarning past 10), each
 * removed when its step ended. AbortSignal.any links the instance's signal to the run's without a
 * listener on the run's (Node keeps a weak reference), so each signal carries only its own
 * instance's few.
 */
export function ownSignals(signals: InstanceSignals): InstanceSignals {
  return { graceful: AbortSignal.any([signals.graceful]), hard: AbortSignal.any([signals.hard]) };
}

type Summarise = (outcome: HostSummary['outcome'], timeToHealthyMs: number, error?: string, coded?: Coded) => HostSummary;

/** What one instance spent waiting for the load balancer while out of rotation: its drain, and its confirmation once put back. */
interface LbWaits {
  drainMs: number;
  confirmMs: number;
}

/** The summary's lbWaitMs, for an instance that waited for the load balancer at all. */
function lbWait(waits: LbWaits): { lbWaitMs?: number } {
  const total = waits.drainMs + waits.confirmMs;
  return total > 0 ? { lbWaitMs: total } : {};
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * How an instance's run ends: its `instance.finished` event and its summary line, timed from
 * `started`. `notStartedAs`: what the event calls a host never taken out (a roll reports it put back).
 */
function summariser(target: Target, bus: EventBus, waits: LbWaits, started: number, notStartedAs: HostSummary['outcome']): Summarise {
  return (outcome, timeToHealthyMs, error, coded) => {
    const host = target.name;
    const outOfRotationMs = performance.now() - started;
    const withError = error ? { error, ...coded } : {};
    bus.emit({ type: 'instance.finished', host, outcome: outcome === 'not-started' ? notStartedAs : outcome, outOfRotationMs, durationMs: outOfRotationMs, ...withError });
    return { host, outcome, outOfRotationMs, timeToHealthyMs, ...lbWait(waits), ...withError, facts: { ...target.ctx.facts } };
  };
}

/**
 * The playbook's rollback phase on an instance already marked rolling-back, then ship's health
 * checks; undefined when it is healthy again, else why not (the instance is then failed-out).
 */
async function rollBack(
  target: Target,
  playbook: Playbook,
  tracker: InstanceTracker,
  bus: EventBus,
  settings: InstanceSettings,
  signals: InstanceSignals,
  failedBecause: (error: unknown) => string,
): Promise<string | undefined> {
  try {
    await runPhase(playbook.rollback, phaseOptionsFor(target, 'rollback', bus, settings, signals));
    await tracker.set(target.name, 'verifying');
    await checkHealth(target, bus, settings, signals);
    return undefined;
  } catch (error) {
    const message = failedBecause(error);
    await tracker.set(target.name, 'failed-out', message);
    return message;
  }
}

/**
 * The per-instance state machine of DESIGN.md:
 * in-service → draining → out → activating → verifying → registering → in-service,
 * and on failure → rolling-back → verifying → registering, or → failed-out.
 */
export async function rollInstance(
  target: Target,
  playbook: Playbook,
  lb: LoadBalancer,
  tracker: InstanceTracker,
  bus: EventBus,
  settings: InstanceSettings,
  runSignals: InstanceSignals,
): Promise<HostSummary> {
  const signals = ownSignals(runSignals);
  const started = performance.now();
  const host = target.name;
  const phaseOptions = (phase: Phase) => phaseOptionsFor(target, phase, bus, settings, signals);
  const waits: LbWaits = { drainMs: 0, confirmMs: 0 };
  const summary = summariser(target, bus, waits, started, 'put-back');

  if (tracker.journalError) return summary('not-started', 0, tracker.journalError);
  // A host that cannot be reached now could not be deployed or rolled back: it keeps serving.
  try {
    await target.transport.connect();
  } catch (error) {
    return summary('not-started', 0, `${host}: not taken out of the load balancer, it cannot be reached: ${describe(error)}`, codeOf(error));
  }
  const leaving = await leaveRotation(target, lb, tracker, bus, settings, signals, waits);
  if (!leaving.ok) return summary(leaving.outcome, 0, leaving.message, leaving.coded);

  let failure: string | undefined;
  let failureCode: Coded = {};
  if (signals.graceful.aborted) {
    // Interrupted before any change on the host: just put it back.
    return putBack(target, lb, tracker, bus, settings, signals, summary, waits, 'put-back');
  }
  try {
    await tracker.set(host, 'activating');
    await runPhase(playbook.activate, phaseOptions('activate'));
    await tracker.set(host, 'verifying');
    await runPhase(playbook.verify, phaseOptions('verify'));
    await checkHealth(target, bus, settings, signals);
  } catch (error) {
    failure = describe(error);
    failureCode = codeOf(error);
    if (error instanceof DeadlineError) bus.emit({ type: 'health.failed', host, check: error.step, detail: error.lastSeen, ...failureCode });
  }
  if (failure === undefined) return putBack(target, lb, tracker, bus, settings, signals, summary, waits, 'deployed');
  if (signals.hard.aborted) {
    // Stopped at once, not failed: the journal keeps the state it was caught in, so `ship resume`
    // reconciles it and rolls it again rather than refusing to roll past a failure.
    return summary('failed-out', 0, `${host}: stopped at once while ${tracker.get(host)}: ${failure}`, codeFor(ERROR_CODES.interrupted));
  }

  await tracker.set(host, 'rolling-back');
  const unhealthy = await rollBack(target, playbook, tracker, bus, settings, signals, (error) => `${failure}\nrollback did not bring it back healthy: ${describe(error)}`);
  if (unhealthy !== undefined) return summary('failed-out', 0, unhealthy, codeFor(ERROR_CODES.rollbackFailed));
  return putBack(target, lb, tracker, bus, settings, signals, summary, waits, 'rolled-back', failure, failureCode);
}

type Leaving = { ok: true } | { ok: false; outcome: 'not-started' | 'failed-out'; message: string; coded: Coded };

/**
 * Drain: no new connections, wait for open ones to finish (up to drainTimeout), then fully out.
 * Each state is journalled before the load balancer is told; an instance the journal could not
 * record as leaving does not leave.
 */
async function leaveRotation(
  target: Target,
  lb: LoadBalancer,
  tracker: InstanceTracker,
  bus: EventBus,
  settings: InstanceSettings,
  signals: InstanceSignals,
  waits: LbWaits,
): Promise<Leaving> {
  const host = target.name;
  await tracker.set(host, 'draining');
  if (tracker.journalError) {
    await tracker.set(host, 'in-service');
    return { ok: false, outcome: 'not-started', message: tracker.journalError, coded: {} };
  }
  try {
    await lb.startDrain(target.lbName);
    const drainStarted = performance.now();
    let timedOut = false;
    let detail = 'no open connections';
    try {
      await lb.waitDrained(target.lbName, { deadlineMs: settings.drainTimeoutMs, signal: signals.hard });
    } catch (error) {
      if (!(error instanceof DeadlineError)) throw error;
      // The drain deadline is a decision, not a failure: connections still open are cut, and the event says how many.
      timedOut = true;
      detail = error.lastSeen;
      bus.emit({
        type: 'warning',
        host,
        message: `drain did not finish within ${settings.drainTimeoutMs}ms (${error.lastSeen}); taking it out anyway`,
        ...codeFor(ERROR_CODES.drainTimeout),
      });
    }
    waits.drainMs = performance.now() - drainStarted;
    bus.emit({ type: 'instance.drained', host, durationMs: waits.drainMs, timedOut, detail });
    await lb.takeOut(target.lbName);
    await tracker.set(host, 'out');
    return { ok: true };
  } catch (error) {
    // The load balancer could not be driven: its view is unknown, so the instance counts as out (fail closed).
    const message = `${host}: could not take it out of the load balancer: ${describe(error)}`;
    await tracker.set(host, 'failed-out', message);
    return { ok: false, outcome: 'failed-out', message, coded: codeOf(error) };
  }
}

/**
 * Takes an instance in service back to the release it ran before (a batch the analysis failed,
 * or every batch with `onFailure: 'rollback'`): in-service → draining → out → rolling-back →
 * verifying → registering → in-service, through the playbook's rollback phase. An instance whose
 * rollback does not bring it back healthy stays out (failed-out); one that cannot be reached is
 * not touched and stays on the new release, which its error says.
 */
export async function revertInstance(
  target: Target,
  playbook: Playbook,
  lb: LoadBalancer,
  tracker: InstanceTracker,
  bus: EventBus,
  settings: InstanceSettings,
  runSignals: InstanceSignals,
  reason: string,
): Promise<HostSummary> {
  const signals = ownSignals(runSignals);
  const started = performance.now();
  const host = target.name;
  const waits: LbWaits = { drainMs: 0, confirmMs: 0 };
  const summary = summariser(target, bus, waits, started, 'not-started');
  if (tracker.journalError) return summary('not-started', 0, `${host}: not rolled back: ${tracker.journalError}`);
  try {
    await target.transport.connect();
  } catch (error) {
    return summary('not-started', 0, `${host}: not rolled back, it cannot be reached (it still runs the new release): ${describe(error)}`, codeOf(error));
  }
  const leaving = await leaveRotation(target, lb, tracker, bus, settings, signals, waits);
  if (!leaving.ok) return summary(leaving.outcome, 0, leaving.message, leaving.coded);
  await tracker.set(host, 'rolling-back', reason);
  const unhealthy = await rollBack(target, playbook, tracker, bus, settings, signals, (error) => `${host}: rollback did not bring it back healthy: ${describe(error)}`);
  if (unhealthy !== undefined) return summary('failed-out', 0, unhealthy, codeFor(ERROR_CODES.rollbackFailed));
  return putBack(target, lb, tracker, bus, settings, signals, summary, waits, 'rolled-back', reason);
}

/** How every phase of one instance runs: on its transport, killed by a hard interrupt. */
export function phaseOptionsFor(target: Target, phase: Phase, bus: EventBus, settings: InstanceSettings, signals: InstanceSignals): PhaseOptions {
  return { phase, transport: target.transport, ctx: target.ctx, bus, signal: signals.hard, defaultTimeoutMs: settings.commandTimeoutMs, sudo: settings.sudo };
}

/** Ship's own health checks, from the orchestrator straight to the instance. */
export async function checkHealth(target: Target, bus: EventBus, settings: InstanceSettings, signals: InstanceSignals): Promise<void> {
  await waitUntilHealthy(target.checks, {
    host: target.name,
    deadlineMs: settings.healthyTimeoutMs,
    signal: signals.hard,
    onPassed: (check, durationMs, attempts) => bus.emit({ type: 'health.passed', host: target.name, check: check.name, durationMs, attempts }),
  });
}

async function putBack(
  target: Target,
  lb: LoadBalancer,
  tracker: InstanceTracker,
  bus: EventBus,
  settings: InstanceSettings,
  signals: InstanceSignals,
  summary: Summarise,
  waits: LbWaits,
  outcome: HostSummary['outcome'],
  error?: string,
  errorCode: Coded = {},
): Promise<HostSummary> {
  const host = target.name;
  await tracker.set(host, 'registering');
  const registering = performance.now();
  let confirmed: string | void;
  try {
    // One deadline for the whole confirmation, however the load balancer splits it between the two.
    const wait = { deadlineMs: settings.healthyTimeoutMs, signal: signals.hard };
    confirmed = await lb.putBack(target.lbName, wait);
    try {
      await lb.waitHealthy(target.lbName, { ...wait, deadlineMs: Math.max(0, settings.healthyTimeoutMs - (performance.now() - registering)) });
    } catch (error) {
      // What ran out is rollout.healthyTimeout, not the remainder this second wait was given.
      if (error instanceof DeadlineError) throw new DeadlineError(error.instance, error.step, settings.healthyTimeoutMs, error.lastSeen);
      throw error;
    }
  } catch (lbError) {
    waits.confirmMs = performance.now() - registering;
    const message = [error, `${host}: not confirmed healthy by the load balancer: ${describe(lbError)}`].filter(Boolean).join('\n');
    await tracker.set(host, 'failed-out', message);
    return summary('failed-out', 0, message, codeOf(lbError));
  }
  const timeToHealthyMs = performance.now() - registering;
  waits.confirmMs = timeToHealthyMs;
  bus.emit({ type: 'lb.healthy', host, durationMs: timeToHealthyMs, ...(confirmed ? { detail: confirmed } : {}) });
  await tracker.set(host, 'in-service');
  return summary(outcome, timeToHealthyMs, error, errorCode);
}
