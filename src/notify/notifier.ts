import { randomUUID } from 'node:crypto';
import type { NotifyTrigger } from './triggers.js';
import { ERROR_CODES, findCode, runbookLink, type ErrorCodeInfo } from '../errors/codes.js';
import type { AnalysisVerdict, EventBus, HostSummary, RunStatus, RunSummary, ShipEvent } from '../events.js';
import { redactDeep } from '../util/redact.js';
import { sleep } from '../util/deadline.js';
import { postWithRetries, type HttpRequest } from './http.js';

export type { NotifyTrigger };

/** What every notifier is told about a run; also the body of the generic webhook (docs/events.md). */
export interface RunNotice {
  trigger: NotifyTrigger;
  /** Unique per notice; the same across retries, so a receiver can drop duplicates. */
  deliveryId: string;
  runId: string;
  app: string;
  command: string;
  version?: string;
  hosts: string[];
  time: string;
  /** Set once the run finished. */
  status?: RunStatus;
  durationMs?: number;
  error?: string;
  code?: { code: string; title: string; runbook: string };
  /** Instances still out of the load balancer: each needs a person. */
  outOfRotation: string[];
  restoreCommand?: string;
  /** Hosts that did not end deployed (rolled back, left out, failed in place). */
  failedHosts: Array<{ host: string; outcome: HostSummary['outcome']; error?: string }>;
  /** The canary analysis verdict that stopped the run, or the last batch's pass. */
  analysis?: AnalysisVerdict;
}

/** One destination. `request` returns undefined when the destination has nothing to say about this trigger. */
export interface Notifier {
  readonly name: string;
  request(notice: RunNotice): HttpRequest | undefined;
}

export interface DeliveryFailure {
  notifier: string;
  trigger: NotifyTrigger;
  attempts: number;
  /** Safe to print: never the URL or a key. */
  error: string;
  code: ErrorCodeInfo;
}

export interface HubOptions {
  /** Which triggers are sent at all (config `notify.on`). */
  on: readonly NotifyTrigger[];
  timeoutMs: number;
  retries: number;
  /** Pause before the first retry; doubles each time. */
  backoffMs?: number;
  /** Absolute runbook URL for links (config `notify.runbookUrl`, else SHIP_RUNBOOK_URL, else relative). */
  runbookUrl?: string;
}

const DEFAULT_BACKOFF_MS = 500;
/** Room after the last attempt's own deadline for its outcome to be recorded, so it keeps its own reason. */
const FLUSH_MARGIN_MS = 250;

/**
 * The longest one notice can take to deliver: every attempt runs to `timeout`, with the backoff
 * pauses between them (500 ms, 1 s, 2 s, ...). With the defaults (5 s, 2 retries) 16.5 s.
 */
export function deliveryBudgetMs(options: Pick<HubOptions, 'timeoutMs' | 'retries' | 'backoffMs'>): number {
  const backoff = options.backoffMs ?? DEFAULT_BACKOFF_MS;
  return options.timeoutMs * (options.retries + 1) + backoff * (2 ** options.retries - 1);
}

const FAILED_OUTCOMES: ReadonlySet<HostSummary['outcome']> = new Set(['rolled-back', 'failed-out', 'failed-in-place']);

function triggerFor(status: RunStatus): NotifyTrigger | undefined {
  switch (status) {
    case 'succeeded':
      return 'success';
    case 'interrupted':
      return 'abort';
    case 'failed':
    case 'refused':
    case 'incomplete':
      return 'failure';
    case 'planned':
      return undefined;
  }
}

/**
 * The code a finished run carries: the summary's own (set from the error object that ended the
 * run), else the one its status implies.
 */
function codeFor(status: RunStatus, summary: RunSummary & { code?: string }): ErrorCodeInfo | undefined {
  const own = summary.code ? findCode(summary.code) : undefined;
  if (own) return own;
  if (status === 'interrupted') return ERROR_CODES.interrupted;
  if (status === 'incomplete') return ERROR_CODES.windowEnded;
  return undefined;
}

/**
 * Subscribes to a run's events and tells people: on start, success, failure and abort. Sending
 * happens in the background and never throws into the run; the CLI awaits `flush(deadline)` at
 * the end, which returns what could not be delivered, for the summary.
 */
export class NotifierHub {
  private readonly pending = new Set<Promise<void>>();
  private readonly failures: DeliveryFailure[] = [];
  private readonly stop = new AbortController();
  private started: Extract<ShipEvent, { type: 'run.started' }> | undefined;
  private restoreCommand: string | undefined;

  constructor(
    readonly notifiers: readonly Notifier[],
    private readonly options: HubOptions,
  ) {}

  attach(bus: EventBus): () => void {
    return bus.subscribe((event) => {
      try {
        this.observe(event);
      } catch (error) {
        // A notifier must never break the run; a bug here is still reported at flush.
        this.failures.push({ notifier: 'hub', trigger: 'failure', attempts: 0, error: (error as Error).message, code: ERROR_CODES.notificationFailed });
      }
    });
  }

  private observe(event: ShipEvent): void {
    if (event.type === 'run.started') {
      if (event.dryRun) return;
      this.started = event;
      this.dispatch(this.notice('start', event));
    } else if (event.type === 'interrupt') {
      this.restoreCommand = event.restoreCommand;
    } else if (event.type === 'run.finished') {
      const trigger = triggerFor(event.status);
      if (!trigger || !this.started) return;
      const summary = event.summary as RunSummary & { code?: string };
      const code = codeFor(event.status, summary);
      this.dispatch({
        ...this.notice(trigger, event),
        status: event.status,
        durationMs: Math.round(event.durationMs),
        ...(summary.error ? { error: summary.error } : {}),
        ...(code ? { code: { code: code.code, title: code.title, runbook: runbookLink(code, this.options.runbookUrl) } } : {}),
        outOfRotation: summary.outOfRotation,
        failedHosts: summary.hosts.filter((h) => FAILED_OUTCOMES.has(h.outcome)).map((h) => ({ host: h.host, outcome: h.outcome, ...(h.error ? { error: h.error } : {}) })),
        ...(summary.analysis ? { analysis: summary.analysis } : {}),
      });
    }
  }

  private notice(trigger: NotifyTrigger, event: ShipEvent): RunNotice {
    const started = this.started!;
    return {
      trigger,
      deliveryId: randomUUID(),
      runId: event.runId,
      app: started.app,
      command: started.command,
      ...(started.version ? { version: started.version } : {}),
      hosts: started.hosts,
      time: event.time,
      outOfRotation: [],
      ...(this.restoreCommand ? { restoreCommand: this.restoreCommand } : {}),
      failedHosts: [],
    };
  }

  /**
   * A run that ended before it could say what it would roll (the EC2 inventory unreachable, a
   * playbook that does not load) still tells whoever is on call: a scheduled patch failing at 3 am
   * must not go unnoticed. Once the run has started, its own `run.finished` does that instead.
   */
  failedBeforeStart(run: { runId: string; app: string; command: string; error: Error; code: ErrorCodeInfo }): void {
    if (this.started) return;
    this.dispatch({
      trigger: 'failure',
      deliveryId: randomUUID(),
      runId: run.runId,
      app: run.app,
      command: run.command,
      hosts: [],
      time: new Date().toISOString(),
      status: 'refused',
      error: run.error.message,
      code: { code: run.code.code, title: run.code.title, runbook: runbookLink(run.code, this.options.runbookUrl) },
      outOfRotation: [],
      failedHosts: [],
    });
  }

  /** Starts delivery to every notifier in the background; `flush` collects the outcome. */
  dispatch(notice: RunNotice): void {
    if (!this.options.on.includes(notice.trigger)) return;
    const safe = redactDeep(notice);
    for (const notifier of this.notifiers) {
      const request = notifier.request(safe);
      if (!request) continue;
      // Rebuilt for each attempt so a signature carries a fresh timestamp.
      const delivery = postWithRetries(() => notifier.request(safe) ?? request, {
        timeoutMs: this.options.timeoutMs,
        retries: this.options.retries,
        backoffMs: this.options.backoffMs ?? DEFAULT_BACKOFF_MS,
        signal: this.stop.signal,
      }).then(
        () => undefined,
        (error: unknown) => {
          const attempts = (error as { attempts?: number }).attempts ?? 0;
          this.failures.push({ notifier: notifier.name, trigger: notice.trigger, attempts, error: (error as Error).message, code: ERROR_CODES.notificationFailed });
        },
      );
      this.pending.add(delivery);
      void delivery.finally(() => this.pending.delete(delivery));
    }
  }

  /**
   * Waits for deliveries in flight, at most `deadlineMs`: by default as long as a notice sent
   * now could take (`deliveryBudgetMs`, from notify.timeout and notify.retries), so a delivery
   * ends on its own terms. What is still sending then is stopped and reported. Returns every
   * delivery that failed during the run.
   */
  async flush(deadlineMs = deliveryBudgetMs(this.options) + FLUSH_MARGIN_MS): Promise<DeliveryFailure[]> {
    const waiting = new AbortController();
    const all = Promise.allSettled([...this.pending]);
    await Promise.race([all, sleep(deadlineMs, waiting.signal).catch(() => undefined)]);
    waiting.abort();
    if (this.pending.size > 0) {
      this.stop.abort();
      await all;
    }
    return [...this.failures];
  }
}
