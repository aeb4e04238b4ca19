/**
 * The run-once phases of a playbook (beforeRollout, afterRollout): work that belongs to the run,
 * not to each instance, run once on the machine ship runs on or on one named host of the fleet.
 * Their steps go through the same runner as per-host steps, so renderers, the journal and the
 * notifiers see the same step events, under a pseudo-host that says where they ran.
 */
import type { EventBus } from '../events.js';
import type { Transport } from '../transport/transport.js';
import { LocalTransport } from '../transport/local.js';
import type { Playbook, RunOncePhaseName, StepContext } from './define.js';
import { PlaybookError } from './load.js';
import { runPhase } from './runner.js';

/** What the steps of a run-once phase see on the machine ship runs on: the run's, with no host of the fleet. */
export type RunContext = Omit<StepContext, 'host' | 'facts'>;

/** Where the steps run: a transport, and the context a step there sees. */
export interface RunOnceTarget {
  transport: Transport;
  ctx: StepContext;
}

export interface RunOnceOptions {
  bus: EventBus;
  /** The run's app, variables (config and --var), version and artifact. */
  run: RunContext;
  /**
   * The named host's transport and the context its own steps get (its vars), for a phase with
   * `on: '<host>'`; asked only then. The caller keeps the transport and closes it.
   */
  host?: (name: string) => RunOnceTarget;
  /** This machine; default a LocalTransport in ship's working directory. */
  local?: Transport;
  /** For steps that set no timeout of their own. */
  defaultTimeoutMs: number;
  /** The config's ssh.sudo: for a host of the fleet, not for this machine, which is not one. */
  sudo: boolean | string;
  signal?: AbortSignal;
}

export interface RunOnceResult {
  /** The pseudo-host the steps' events carry: `once@local` or `once@<host>`; undefined when the phase has no steps. */
  ranAs?: string;
  /** What the steps captured (`capture`). */
  facts: Record<string, string>;
}

/** The host of a StepContext when the steps run where ship runs. */
const CONTROLLER_HOST = { name: 'localhost', address: '127.0.0.1', lbName: '' };

export function runOnceLabel(on: string | undefined): string {
  return `once@${on ?? 'local'}`;
}

/** Runs the playbook's `phase` once; a failing step throws StepFailedError (SHIP-E047) naming the step and where it ran. */
export async function runOnce(playbook: Playbook, phase: RunOncePhaseName, options: RunOnceOptions): Promise<RunOnceResult> {
  const definition = playbook[phase];
  if (!definition || definition.steps.length === 0) return { facts: {} };
  const { on } = definition;
  let target: RunOnceTarget;
  let local: Transport | undefined;
  if (on === undefined) {
    local = options.local ?? new LocalTransport({ host: runOnceLabel(undefined) });
    target = { transport: local, ctx: { ...options.run, host: CONTROLLER_HOST, facts: {} } };
  } else {
    if (!options.host) throw new Error(`playbook ${playbook.name}: ${phase} runs on host '${on}', but no transport to the fleet's hosts was given`);
    const host = options.host(on);
    target = { transport: host.transport, ctx: { ...host.ctx, facts: {} } };
  }
  const label = runOnceLabel(on);
  try {
    await runPhase(definition.steps, {
      phase,
      transport: target.transport,
      ctx: target.ctx,
      bus: options.bus,
      defaultTimeoutMs: options.defaultTimeoutMs,
      sudo: on === undefined ? false : options.sudo,
      label,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } finally {
    // Only the transport made here: a given one, and a host's, belong to the caller.
    if (local && !options.local) await local.close();
  }
  return { ranAs: label, facts: target.ctx.facts };
}

/**
 * Refuses a run-once phase whose `on` names no host of the fleet; asked when the targets are
 * resolved, before anything connects. `fleet` is every host of the app, not only those rolled now.
 */
export function checkRunOnceHosts(playbook: Playbook, file: string, fleet: readonly string[]): void {
  for (const phase of ['beforeRollout', 'afterRollout'] as const) {
    const on = playbook[phase]?.on;
    if (on === undefined || fleet.includes(on)) continue;
    throw new PlaybookError(
      file,
      `playbook ${playbook.name}: ${phase} runs on host '${on}', which is not in the fleet (${fleet.join(', ') || 'no hosts'}); ` +
        'name one of its hosts in `on`, or leave `on` out to run the steps on the machine ship runs on',
    );
  }
}
