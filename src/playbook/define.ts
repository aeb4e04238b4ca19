import type { ErrorCode } from '../errors/codes.js';
import { isShellCommand, sh, type ShellCommand } from '../shell/sh.js';
import { readDuration } from '../util/duration.js';

export type VarValue = string | number | boolean;

/** What every step sees: the host, the merged variables, the release being rolled, facts captured by earlier steps. */
export interface StepContext {
  app: string;
  host: { name: string; address: string; lbName: string };
  /** Config `vars`, then the host's own `vars`, then `--var key=value`. */
  vars: Readonly<Record<string, VarValue>>;
  version?: string;
  /** Local path of the artifact to upload. */
  artifact?: string;
  /** Values captured from earlier steps' output (`capture`), per host. */
  facts: Record<string, string>;
  /**
   * The config's `secrets`, resolved once per run on the controller (empty before the pre-flight
   * resolves them). In memory only: never in facts, events or the journal; steps hand them to a
   * host through stdin (see writeSecretsFile).
   */
  secrets?: Readonly<Record<string, string>>;
  /** The config's `container` section, with its registry password resolved, for the container playbooks. */
  container?: ContainerSpec;
}

/** `container` as the container playbooks read it (see src/config/container.ts). */
export interface ContainerSpec {
  engine?: 'docker' | 'podman';
  image: string;
  registry?: { server: string; username: string; password?: string };
  name: string;
  run: { network?: string; ports: string[]; volumes: string[]; args: string[]; command?: string[] };
  stopTimeoutMs: number;
  keep: number;
}

type Dynamic<T> = T | ((ctx: StepContext) => T);

interface StepOptions {
  name?: string;
  /** Per-step timeout, e.g. '30s'; the command is killed on the host when it passes. */
  timeout?: string | number;
  retries?: number;
  sudo?: boolean;
  /** Skip the step on hosts where this is false, so one playbook serves several kinds of host. */
  when?: (ctx: StepContext) => boolean;
}

export interface RunStep {
  kind: 'run';
  name: string;
  command: Dynamic<ShellCommand>;
  timeoutMs?: number;
  retries: number;
  sudo: boolean;
  when?: (ctx: StepContext) => boolean;
  /** Store the trimmed stdout as `ctx.facts[capture]`. */
  capture?: string;
  /**
   * Written to the command's standard input (then closed): for a secret, which must never be on the
   * command line (`ps` shows it on the host). The text is never put in an event or the journal.
   */
  stdin?: (ctx: StepContext) => string;
  /** The error code a failure of this step carries, when it says more than its phase's (a registry login, an image pull). */
  code?: ErrorCode;
}

export interface UploadStep {
  kind: 'upload';
  name: string;
  from: Dynamic<string>;
  to: Dynamic<string>;
  timeoutMs?: number;
  retries: number;
  when?: (ctx: StepContext) => boolean;
}

/**
 * Reboots the host and waits until it is back: the boot id is read first, the reboot is started
 * (the connection may drop under it), then the boot id is polled (the transport re-dials) until a
 * different one proves the host really restarted. Records `facts.rebootMs` and `facts.bootId`.
 */
export interface RebootStep {
  kind: 'reboot';
  name: string;
  /** Prints an id that changes with every boot. */
  bootId: Dynamic<ShellCommand>;
  /** Starts the reboot; it should return at once (or the connection drops), not wait for it. */
  command: Dynamic<ShellCommand>;
  /** How long the host may take to go away and come back with a new boot id, e.g. '10m'. */
  timeout: Dynamic<string | number>;
  /** Between boot id probes while waiting. */
  pollIntervalMs: number;
  /** A reboot is never retried: the wait is the retry. */
  retries: 0;
  sudo: boolean;
  when?: (ctx: StepContext) => boolean;
}

export type Step = RunStep | UploadStep | RebootStep;

export interface Playbook {
  name: string;
  /** Context the playbook cannot run without, checked before anything changes. */
  requires: Array<'version' | 'artifact'>;
  /** Variables the playbook reads from the config; missing ones are reported per host in pre-flight. */
  requiredVars: string[];
  /**
   * What a variable's value must be, when set: each check returns what is wrong, or undefined.
   * Run for every host when the targets are resolved, so `ship plan` and `ship check` refuse a
   * bad value too, before anything changes (a step would otherwise misread it on the host).
   */
  varChecks?: Readonly<Record<string, VarCheck>>;
  /** On every host in parallel while it still serves. */
  stage: Step[];
  /** While the instance is out of the load balancer. */
  activate: Step[];
  /** After activate, before health checks (smoke tests); a failure rolls back. */
  verify: Step[];
  /** Brings the previous state back after a failed activate or verify. */
  rollback: Step[];
  /**
   * An in-place graceful reload (a signal such as USR2, a phased restart) that keeps the
   * instance serving. Used instead of drain + activate only where draining would breach the
   * capacity floor, e.g. a fleet of one.
   */
  gracefulReload?: Step[];
  /**
   * Decided after stage, per host, from what stage captured: a reason to leave the host alone
   * (e.g. 'no pending updates'), or undefined to roll it. A skipped host never leaves the load balancer.
   */
  skip?: (ctx: StepContext) => string | undefined;
  /**
   * Once per run, before the expand migrations and the first batch (a cache warm-up, a feature
   * flag, a migration tool of its own), and once after the last batch, before the contract
   * migrations. Not per instance: see RunOncePhase.
   */
  beforeRollout?: RunOncePhase;
  afterRollout?: RunOncePhase;
}

export type RunOncePhaseName = 'beforeRollout' | 'afterRollout';

/** Steps that run once per run, on the machine ship runs on or on one named host of the fleet. */
export interface RunOncePhase {
  /** The name of one host of the fleet; absent: the machine ship runs on. */
  on?: string;
  steps: Step[];
}

/**
 * A run-once phase as a playbook writes it: its steps (run where ship runs), or
 * `{ on: 'web1', steps: [...] }` to run them on that host of the fleet, while it still serves.
 */
export type RunOnceInput = Step[] | { on?: string; steps: Step[] };

/** Returns what is wrong with a variable's value (e.g. 'expected a whole number'), or undefined. */
export type VarCheck = (value: VarValue) => string | undefined;

export interface PlaybookInput {
  name: string;
  requires?: Array<'version' | 'artifact'>;
  requiredVars?: string[];
  varChecks?: Record<string, VarCheck>;
  stage?: Step[];
  activate: Step[];
  verify?: Step[];
  rollback?: Step[];
  gracefulReload?: Step[];
  skip?: (ctx: StepContext) => string | undefined;
  beforeRollout?: RunOnceInput;
  afterRollout?: RunOnceInput;
}

export function definePlaybook(input: PlaybookInput): Playbook {
  const beforeRollout = runOncePhase(input.name, 'beforeRollout', input.beforeRollout);
  const afterRollout = runOncePhase(input.name, 'afterRollout', input.afterRollout);
  return {
    name: input.name,
    requires: input.requires ?? [],
    requiredVars: input.requiredVars ?? [],
    ...(input.varChecks ? { varChecks: input.varChecks } : {}),
    stage: input.stage ?? [],
    activate: input.activate,
    verify: input.verify ?? [],
    rollback: input.rollback ?? [],
    ...(input.gracefulReload ? { gracefulReload: input.gracefulReload } : {}),
    ...(input.skip ? { skip: input.skip } : {}),
    ...(beforeRollout ? { beforeRollout } : {}),
    ...(afterRollout ? { afterRollout } : {}),
  };
}

function runOncePhase(playbook: string, phase: RunOncePhaseName, input: RunOnceInput | undefined): RunOncePhase | undefined {
  if (input === undefined) return undefined;
  const normalised: RunOncePhase = Array.isArray(input) ? { steps: input } : { ...(input.on === undefined ? {} : { on: input.on }), steps: input.steps };
  const problem = runOncePhaseProblem(normalised);
  if (problem !== undefined) throw new Error(`playbook ${playbook}: ${phase} ${problem}`);
  return normalised;
}

/**
 * What is wrong with a run-once phase's shape, or undefined; also asked of a playbook file that
 * does not go through definePlaybook. Whether `on` names a host of the fleet is known only when
 * the targets are resolved (checkRunOnceHosts).
 */
export function runOncePhaseProblem(phase: unknown): string | undefined {
  if (typeof phase !== 'object' || phase === null || Array.isArray(phase)) return 'must be { on?: <host>, steps: [...] } (definePlaybook also takes a list of steps)';
  const { on, steps } = phase as Partial<RunOncePhase>;
  if (on !== undefined && (typeof on !== 'string' || on.trim() === ''))
    return `on ${JSON.stringify(on)}: name a host of the fleet, or leave it out to run on the machine ship runs on`;
  if (!Array.isArray(steps)) return 'steps: must be a list of steps (run, upload)';
  for (const step of steps as unknown[]) {
    const { kind, name } = (step ?? {}) as Partial<Step>;
    if (typeof name !== 'string' || (kind !== 'run' && kind !== 'upload' && kind !== 'reboot')) return 'steps: each must be made with run() or upload()';
    // On the controller it would reboot ship's own machine; on a host of the fleet, an instance still in the load balancer.
    if (kind === 'reboot') return `step '${name}': a reboot cannot run once outside the rollout; reboot hosts in activate, where they are out of the load balancer`;
  }
  return undefined;
}

function timeoutOf(options: StepOptions, stepName: string): number | undefined {
  if (options.timeout === undefined) return undefined;
  const reading = readDuration(options.timeout, "'30s'");
  if (!reading.ok) throw new Error(`step '${stepName}': timeout: ${reading.problem}`);
  return reading.ms;
}

function describeCommand(command: Dynamic<ShellCommand>): string {
  if (isShellCommand(command)) return command.text.length > 60 ? `${command.text.slice(0, 57)}...` : command.text;
  return 'run';
}

/** A shell command on the host, built with `sh` so every value is quoted. */
export function run(command: Dynamic<ShellCommand>, options: StepOptions & { capture?: string; stdin?: (ctx: StepContext) => string; code?: ErrorCode } = {}): RunStep {
  const name = options.name ?? describeCommand(command);
  return {
    kind: 'run',
    name,
    command,
    timeoutMs: timeoutOf(options, name),
    retries: options.retries ?? 0,
    sudo: options.sudo ?? false,
    ...(options.when ? { when: options.when } : {}),
    ...(options.capture ? { capture: options.capture } : {}),
    ...(options.stdin ? { stdin: options.stdin } : {}),
    ...(options.code ? { code: options.code } : {}),
  };
}

/** Copies a local file to the host; the transport verifies size and sha256. */
export function upload(from: Dynamic<string>, to: Dynamic<string>, options: StepOptions = {}): UploadStep {
  const name = options.name ?? 'upload';
  return {
    kind: 'upload',
    name,
    from,
    to,
    timeoutMs: timeoutOf(options, name),
    retries: options.retries ?? 0,
    ...(options.when ? { when: options.when } : {}),
  };
}

export interface RebootOptions {
  name?: string;
  /** Default: `cat /proc/sys/kernel/random/boot_id`. */
  bootId?: Dynamic<ShellCommand>;
  /** Default: `systemctl reboot`, falling back to `shutdown -r now`, detached so it returns at once. */
  command?: Dynamic<ShellCommand>;
  /** Default '10m'. */
  timeout?: Dynamic<string | number>;
  /** Default '1s'. */
  pollInterval?: string | number;
  sudo?: boolean;
  when?: (ctx: StepContext) => boolean;
}

export const DEFAULT_BOOT_ID_COMMAND = sh`cat /proc/sys/kernel/random/boot_id`;
// Detached and delayed a moment, so the command returns (and its exit status reaches ship) before sshd goes down.
export const DEFAULT_REBOOT_COMMAND = sh`nohup sh -c 'sleep 1; systemctl reboot || shutdown -r now' >/dev/null 2>&1 &`;

/** Reboots the host and waits for it to come back with a new boot id (see RebootStep). */
export function reboot(options: RebootOptions = {}): RebootStep {
  const name = options.name ?? 'reboot';
  const reading = readDuration(options.pollInterval ?? '1s', "'1s'");
  if (!reading.ok) throw new Error(`step '${name}': pollInterval: ${reading.problem}`);
  if (reading.ms <= 0) throw new Error(`step '${name}': pollInterval ${JSON.stringify(options.pollInterval)} must be more than 0, like '1s'`);
  const pollIntervalMs = reading.ms;
  return {
    kind: 'reboot',
    name,
    bootId: options.bootId ?? DEFAULT_BOOT_ID_COMMAND,
    command: options.command ?? DEFAULT_REBOOT_COMMAND,
    timeout: options.timeout ?? '10m',
    pollIntervalMs,
    retries: 0,
    sudo: options.sudo ?? false,
    ...(options.when ? { when: options.when } : {}),
  };
}

export function resolveDynamic<T>(value: Dynamic<T>, ctx: StepContext): T {
  return typeof value === 'function' ? (value as (ctx: StepContext) => T)(ctx) : value;
}

/** Reads a variable a playbook needs, with an error that names it and the host. */
export function requireVar(ctx: StepContext, name: string): string {
  const value = ctx.vars[name];
  if (value === undefined || value === '') {
    throw new Error(`${ctx.host.name}: variable '${name}' is not set (set vars.${name} in the config, per host, or --var ${name}=...)`);
  }
  return String(value);
}
