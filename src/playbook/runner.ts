import type { EventBus, Phase } from '../events.js';
import { withSudo } from '../shell/sh.js';
import type { Transport } from '../transport/transport.js';
import { resolveDynamic, type Step, type StepContext } from './define.js';

const STDERR_TAIL_LINES = 15;

/** A step that failed on a host: names the host, the phase, the step, and shows the tail of its stderr. */
export class StepFailedError extends Error {
  constructor(
    readonly host: string,
    readonly phase: Phase,
    readonly step: string,
    readonly reason: string,
    readonly stderrTail: string,
  ) {
    super(`${host}: ${phase} step '${step}' ${reason}${stderrTail ? `\n${stderrTail.replace(/^/gm, '    | ')}` : ''}`);
    this.name = 'StepFailedError';
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
}

export async function runPhase(steps: Step[], options: PhaseOptions): Promise<void> {
  for (const step of steps) {
    options.signal?.throwIfAborted();
    await runStep(step, options);
  }
}

async function runStep(step: Step, options: PhaseOptions): Promise<void> {
  const { bus, ctx, phase } = options;
  const host = ctx.host.name;
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
      });
      if (attempt > step.retries || options.signal?.aborted) throw failure;
    }
  }
}

async function attemptStep(step: Step, options: PhaseOptions): Promise<number | undefined> {
  const { transport, ctx, bus, phase } = options;
  const host = ctx.host.name;
  const timeoutMs = step.timeoutMs ?? options.defaultTimeoutMs;
  if (step.kind === 'upload') {
    const from = resolveDynamic(step.from, ctx);
    const to = resolveDynamic(step.to, ctx);
    const uploadSignal = AbortSignal.any([AbortSignal.timeout(timeoutMs), ...(options.signal ? [options.signal] : [])]);
    await transport.upload(from, to, { signal: uploadSignal });
    return undefined;
  }
  let command = resolveDynamic(step.command, ctx);
  const sudo = step.sudo || options.sudo;
  if (sudo) command = withSudo(command, typeof sudo === 'string' ? sudo : undefined);
  const stdout = lineEmitter((line) => bus.emit({ type: 'output', host, stream: 'stdout', line }));
  const stderr = lineEmitter((line) => bus.emit({ type: 'output', host, stream: 'stderr', line }));
  const result = await transport.exec(command, {
    timeoutMs,
    ...(options.signal ? { signal: options.signal } : {}),
    onStdout: (chunk) => stdout.push(chunk),
    onStderr: (chunk) => stderr.push(chunk),
  });
  stdout.flush();
  stderr.flush();
  if (result.code !== 0) {
    throw new StepFailedError(host, phase, step.name, `exited with code ${result.code}`, tail(result.stderr || result.stdout, STDERR_TAIL_LINES));
  }
  if (step.capture) ctx.facts[step.capture] = result.stdout.trim();
  return result.code;
}
