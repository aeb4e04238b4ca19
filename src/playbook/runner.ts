import type { EventBus, Phase } from '../events.js';
import { withSudo, type ShellCommand } from '../shell/sh.js';
import { codeOf } from '../errors/coded.js';
import { ERROR_CODES, type CodedError, type ErrorCode } from '../errors/codes.js';
import { TransportError, type Transport } from '../transport/transport.js';
import { formatDuration, readDuration } from '../util/duration.js';
import { sleep } from '../util/deadline.js';
import { resolveDynamic, type RebootStep, type Step, type StepContext } from './define.js';

const STDERR_TAIL_LINES = 15;

const STEP_PHASE_CODES: Record<Phase, ErrorCode> = {
  stage: ERROR_CODES.stageFailed,
  activate: ERROR_CODES.stepFailed,
  verify: ERROR_CODES.stepFailed,
  rollback: ERROR_CODES.rollbackFailed,
  reload: ERROR_CODES.reloadFailed,
  beforeRollout: ERROR_CODES.runOnceStepFailed,
  afterRollout: ERROR_CODES.runOnceStepFailed,
};

/** A step that failed on a host: names the host, the phase, the step, and shows the tail of its stderr. */
export class StepFailedError extends Error implements CodedError {
  constructor(
    readonly host: string,
    readonly phase: Phase,
    readonly step: string,
    readonly reason: string,
    readonly stderrTail: string,
    /** The step's own code, when it says more than the phase's. */
    readonly stepCode?: ErrorCode,
  ) {
    super(`${host}: ${phase} step '${step}' ${reason}${stderrTail ? `\n${stderrTail.replace(/^/gm, '    | ')}` : ''}`);
    this.name = 'StepFailedError';
  }

  get shipCode(): ErrorCode {
    return this.stepCode ?? STEP_PHASE_CODES[this.phase] ?? ERROR_CODES.stepFailed;
  }
}

/** Splits streamed chunks into whole lines so output events carry one line each. */
function lineEmitter(emit: (line: string) => void): { push(chunk: string): void; flush(): void } {
  let pending = '';
  return {
    push(chunk) {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) emit(line);
    },
    flush() {
      if (pending) emit(pending);
      pending = '';
    },
  };
}

function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

export interface PhaseOptions {
  phase: Phase;
  transport: Transport;
  ctx: StepContext;
  bus: EventBus;
  signal?: AbortSignal;
  /** Used for steps that set no timeout of their own. */
  defaultTimeoutMs: number;
  /** Run every command through sudo (the config's ssh.sudo). */
  sudo: boolean | string;
  /** Who events and errors name; default the host's name (a run-once phase names where it ran, see run-once.ts). */
  label?: string;
}

/** The name the phase's events and errors carry. */
function labelOf(options: PhaseOptions): string {
  return options.label ?? options.ctx.host.name;
}

export async function runPhase(steps: Step[], options: PhaseOptions): Promise<void> {
  for (const step of steps) {
    options.signal?.throwIfAborted();
    await runStep(step, options);
  }
}

async function runStep(step: Step, options: PhaseOptions): Promise<void> {
  const { bus, ctx, phase } = options;
  const host = labelOf(options);
  if (step.when && !step.when(ctx)) {
    bus.emit({ type: 'step.finished', host, phase, step: step.name, durationMs: 0, ok: true, skipped: true });
    return;
  }
  for (let attempt = 1; ; attempt++) {
    bus.emit({ type: 'step.started', host, phase, step: step.name, attempt });
    const started = performance.now();
    try {
      const exitCode = await attemptStep(step, options);
      bus.emit({ type: 'step.finished', host, phase, step: step.name, durationMs: performance.now() - started, ok: true, exitCode });
      return;
    } catch (error) {
      const failure = error instanceof StepFailedError ? error : new StepFailedError(host, phase, step.name, `failed: ${(error as Error).message}`, '');
      bus.emit({
        type: 'step.finished',
        host,
        phase,
        step: step.name,
        durationMs: performance.now() - started,
        ok: false,
        error: failure.message,
        ...codeOf(failure),
      });
      if (attempt > step.retries || options.signal?.aborted) throw failure;
    }
  }
}

async function attemptStep(step: Step, options: PhaseOptions): Promise<number | undefined> {
  const { transport, ctx, bus, phase } = options;
  const host = labelOf(options);
  if (step.kind === 'reboot') {
    await rebootAndWait(step, options);
    return undefined;
  }
  const timeoutMs = step.timeoutMs ?? options.defaultTimeoutMs;
  if (step.kind === 'upload') {
    const from = resolveDynamic(step.from, ctx);
    const to = resolveDynamic(step.to, ctx);
    // Not AbortSignal.timeout: its timer (and the signals hanging on it) lives on for the whole
    // timeout after the upload is done, one per host of a fleet staged in one go.
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), timeoutMs);
    timer.unref();
    try {
      await transport.upload(from, to, { signal: options.signal ? AbortSignal.any([timeout.signal, options.signal]) : timeout.signal });
    } finally {
      clearTimeout(timer);
    }
    return undefined;
  }
  const command = withStepSudo(resolveDynamic(step.command, ctx), step.sudo, options);
  const stdout = lineEmitter((line) => bus.emit({ type: 'output', host, stream: 'stdout', line }));
  const stderr = lineEmitter((line) => bus.emit({ type: 'output', host, stream: 'stderr', line }));
  const result = await transport.exec(command, {
    timeoutMs,
    ...(step.stdin ? { stdin: step.stdin(ctx) } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    onStdout: (chunk) => stdout.push(chunk),
    onStderr: (chunk) => stderr.push(chunk),
  });
  stdout.flush();
  stderr.flush();
  if (result.code !== 0) {
    throw new StepFailedError(host, phase, step.name, `exited with code ${result.code}`, tail(result.stderr || result.stdout, STDERR_TAIL_LINES), step.code);
  }
  if (step.capture) ctx.facts[step.capture] = result.stdout.trim();
  return result.code;
}

function withStepSudo(command: ShellCommand, stepSudo: boolean, options: PhaseOptions): ShellCommand {
  const sudo = stepSudo || options.sudo;
  return sudo ? withSudo(command, typeof sudo === 'string' ? sudo : undefined) : command;
}

/** A boot id probe must answer quickly; a host that is going down may leave it hanging. */
const BOOT_ID_PROBE_TIMEOUT_MS = 5_000;
/** The reboot command itself only starts the reboot. */
const REBOOT_COMMAND_TIMEOUT_MS = 30_000;

/**
 * Reads the boot id, starts the reboot, then polls until the host answers with a different boot
 * id. The wait is bounded by the step's timeout; the error says what was last seen (still up with
 * the old boot id, or unreachable and why), so a reboot that never returns is told apart from one
 * that never started.
 */
async function rebootAndWait(step: RebootStep, options: PhaseOptions): Promise<void> {
  const { transport, ctx, bus, phase, signal } = options;
  const host = labelOf(options);
  const timeoutValue = resolveDynamic(step.timeout, ctx);
  const deadline = readDuration(timeoutValue, "'10m'");
  if (!deadline.ok) throw new StepFailedError(host, phase, step.name, `has a bad timeout: ${deadline.problem}`, '');
  const deadlineMs = deadline.ms;
  const bootIdCommand = withStepSudo(resolveDynamic(step.bootId, ctx), step.sudo, options);
  const note = (line: string) => bus.emit({ type: 'output', host, stream: 'stdout', line });

  const readBootId = async (): Promise<string> => {
    const result = await transport.exec(bootIdCommand, { timeoutMs: BOOT_ID_PROBE_TIMEOUT_MS, ...(signal ? { signal } : {}) });
    const id = result.stdout.trim();
    if (result.code !== 0 || id === '') throw new Error(`boot id command exited with code ${result.code}${result.stderr.trim() ? `: ${result.stderr.trim()}` : ''}`);
    return id;
  };

  let before: string;
  try {
    before = await readBootId();
  } catch (error) {
    throw new StepFailedError(host, phase, step.name, `could not read the boot id before rebooting: ${(error as Error).message}`, '');
  }
  note(`rebooting (boot id ${before})`);
  const started = performance.now();
  try {
    const result = await transport.exec(withStepSudo(resolveDynamic(step.command, ctx), step.sudo, options), {
      timeoutMs: REBOOT_COMMAND_TIMEOUT_MS,
      ...(signal ? { signal } : {}),
    });
    if (result.code !== 0) {
      throw new StepFailedError(host, phase, step.name, `reboot command exited with code ${result.code}`, tail(result.stderr || result.stdout, STDERR_TAIL_LINES));
    }
  } catch (error) {
    // The connection dropping under the reboot command is the reboot starting, not a failure.
    if (!(error instanceof TransportError && (error.kind === 'closed' || error.kind === 'timeout'))) throw error;
  }

  let lastSeen = `still up with the old boot id ${before}`;
  let wentAway = false;
  while (performance.now() - started < deadlineMs) {
    signal?.throwIfAborted();
    try {
      const now = await readBootId();
      if (now !== before) {
        const tookMs = performance.now() - started;
        ctx.facts.rebootMs = String(Math.round(tookMs));
        ctx.facts.bootId = now;
        note(`back after ${formatDuration(tookMs)} with boot id ${now}`);
        return;
      }
      lastSeen = wentAway ? `answered again, but with the old boot id ${before}` : `still up with the old boot id ${before}`;
    } catch (error) {
      if (signal?.aborted) throw error;
      if (!wentAway) note('went away');
      wentAway = true;
      lastSeen = `unreachable (${(error as Error).message})`;
    }
    await sleep(Math.min(step.pollIntervalMs, Math.max(0, deadlineMs - (performance.now() - started))), signal);
  }
  throw new StepFailedError(host, phase, step.name, `failed: the host did not come back with a new boot id within ${formatDuration(deadlineMs)} (last seen: ${lastSeen})`, '');
}
