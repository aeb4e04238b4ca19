/**
 * The command-line half of the one pipeline: what surrounds every run that moves instances
 * (deploy, rollback, patch, run, resume, restore; plan and check too), for one app or several
 * in parallel: the renderer, Ctrl-C and SIGTERM, standard output lost, notifications on start,
 * success, failure and abort, and the exit code. Commands only say what each app's run is.
 */
import { randomUUID } from 'node:crypto';
import type { RunResult } from '../commands/pipeline/run-options.js';
import { UsageError } from '../commands/errors.js';
import { ConfigError } from '../config/errors.js';
import type { LoadedConfig } from '../config/load.js';
import { codeFor } from '../errors/coded.js';
import { classifyError } from '../errors/codes.js';
import { EventBus } from '../events.js';
import type { NotifierHub } from '../notify/notifier.js';
import type { InstanceSignals } from '../rollout/instance.js';
import { redact } from '../util/redact.js';
import { restoreCommandFor } from './app-option.js';
import { EXIT, exitCodeForError, exitCodeForStatus, worstExitCode, type ExitCode } from './exit-codes.js';
import { handleInterrupts } from './interrupts.js';
import { appRenderer, createOutput, type OutputMode } from './output.js';
import { stdout } from './stdout.js';

export interface RunContext {
  bus: EventBus;
  signals: InstanceSignals;
  /** How the user puts this app's instances back by hand. */
  restoreCommand: (hosts: string[]) => string;
}

export interface AppRun {
  app: string;
  result?: RunResult;
  /** What ended the app's run without an outcome of its own (a bad playbook, an unreachable inventory). */
  error?: Error;
}

export interface PipelineInput {
  args: { config: string; json?: boolean; app?: string; all?: boolean };
  apps: LoadedConfig[];
  /** The command's name, for a failure notice when a run ends before it could start. */
  command: string;
  run: (loaded: LoadedConfig, context: RunContext) => Promise<RunResult>;
  /** Sees every app's events (reports). */
  observe?: (app: string, bus: EventBus) => void;
  /** False for commands whose output has no plan to draw as a live task list. */
  live?: boolean;
}

export interface PipelineOutcome {
  runs: AppRun[];
  mode: OutputMode;
  exitCode: ExitCode;
}

/**
 * Runs each app (in parallel when there are several, each still one batch at a time). A single
 * app's error is rethrown once its notifications are out, so the CLI reports it with its own exit
 * code; with several apps it ends that app only.
 */
export async function runPipeline(input: PipelineInput): Promise<PipelineOutcome> {
  const { args, apps } = input;
  // Without --app or --all the run was the top-level app's, which is also restore's default.
  const named = args.app !== undefined || args.all === true;
  const restoreFor = (app: string) => (hosts: string[]) => restoreCommandFor(args.config, named ? app : undefined, hosts);
  const single = apps.length === 1;
  const output = single ? createOutput({ ...(args.json ? { json: true } : {}), ...(input.live === false ? { live: false } : {}) }) : undefined;
  const mode: OutputMode = output?.mode ?? (args.json ? 'json' : 'plain');

  // Ctrl-C watches every app; with several, host names are shown as app/host.
  const control = output?.bus ?? new EventBus(randomUUID());
  const restoreAll = single
    ? restoreFor(apps[0]!.config.app)
    : (hosts: string[]) =>
        [...new Set(hosts.map((h) => h.split('/')[0]!))]
          .map((app) => restoreFor(app)(hosts.filter((h) => h.startsWith(`${app}/`)).map((h) => h.slice(app.length + 1))))
          .join('\n  ');
  const interrupts = handleInterrupts(control, restoreAll, (text) => process.stderr.write(text));
  const signals: InstanceSignals = { graceful: AbortSignal.any([interrupts.signals.graceful, stdout.lost]), hard: interrupts.signals.hard };

  try {
    const runs = await Promise.all(
      apps.map(async (loaded): Promise<AppRun> => {
        const app = loaded.config.app;
        const bus = output?.bus ?? new EventBus(randomUUID());
        if (!single) {
          bus.subscribe(appRenderer(app, mode === 'json' ? 'json' : 'plain'), 'the output');
          bus.subscribe((event) => {
            if (event.type === 'instance.state') control.emit({ ...event, host: `${app}/${event.host}` });
          }, 'the interrupt handler');
        }
        input.observe?.(app, bus);
        // The notifiers are loaded only for a config that has some.
        const hub = loaded.config.notify ? (await import('../notify/from-config.js')).notifierHubFor(loaded.config.notify) : undefined;
        hub?.attach(bus);
        try {
          const result = await input.run(loaded, { bus, signals, restoreCommand: restoreFor(app) });
          return { app, result };
        } catch (error) {
          const failure = error instanceof Error ? error : new Error(String(error));
          // A mistyped flag or config (exit 2) is for the person at the keyboard, not a page.
          if (!(failure instanceof UsageError || failure instanceof ConfigError)) {
            hub?.failedBeforeStart({ runId: bus.runId, app, command: input.command, error: failure, code: classifyError(failure) });
          }
          if (single) throw failure;
          process.stderr.write(`ship: app ${app}: ${redact(failure.message)}\n`);
          return { app, error: failure };
        } finally {
          await flushNotifications(hub, bus);
        }
      }),
    );
    return { runs, mode, exitCode: exitCodeOf(runs) };
  } finally {
    await output?.done().catch(() => undefined);
    interrupts.dispose();
  }
}

function exitCodeOf(runs: AppRun[]): ExitCode {
  const worst = worstExitCode(runs.map((run) => (run.result ? exitCodeForStatus(run.result.status) : exitCodeForError(run.error))));
  // Lost output stops a run the way a Ctrl-C does; the exit code says which it was.
  return stdout.lost.aborted && worst !== EXIT.rolloutFailed ? EXIT.outputLost : worst;
}

/**
 * Notifications go out in the background while the run goes on; here ship waits for those still
 * sending, at most as long as notify.timeout and notify.retries let one delivery take (the hub's
 * budget), and reports what could not be delivered.
 */
async function flushNotifications(hub: NotifierHub | undefined, bus: EventBus): Promise<void> {
  if (!hub) return;
  for (const failure of await hub.flush()) {
    bus.emit({
      type: 'warning',
      message: `notification not delivered: ${failure.notifier} (${failure.trigger}) after ${failure.attempts} attempt(s): ${failure.error}`,
      ...codeFor(failure.code),
    });
  }
}
